'use strict'
// The one place that loads the native core (napi's generated `binding.js`), so a platform without
// a usable binary fails with godwit's own message rather than the loader's.
let native
try {
  native = require('../binding.js')
} catch (err) {
  const { nativeMissing } = require('./native-missing.js')
  throw nativeMissing(err)
}
module.exports = native
