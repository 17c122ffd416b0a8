'use strict'
// Every file Node writes (verify's, the fleet's and import's reports, package.json's baseline)
// goes through the core's one writer (`src/files`): its folder made, a temporary name, a rename,
// flushed to the disk. So none is ever seen half-written, and none said written is lost to a
// power cut.

const native = require('./native.js')
const { fromNative } = require('./errors.js')

/** `text` to `file`; throws GodwitError IO naming the file. */
function writeSynced(file, text) {
  try {
    native.writeFileSynced(file, text)
  } catch (err) {
    throw fromNative(err)
  }
}

/**
 * A report written as JSON: `{ path }`, or `{ path: null, error }` when it could not be (a
 * read-only or full disk). Never throws: what the run did must still reach the caller, who says
 * REPORT_NOT_WRITTEN and prints the report instead, as `up` does.
 */
function writeReport(file, doc) {
  try {
    writeSynced(file, JSON.stringify(doc, null, 2) + '\n')
    return { path: file, error: null }
  } catch (err) {
    return { path: null, error: err.message }
  }
}

module.exports = { writeSynced, writeReport }
