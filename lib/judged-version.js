'use strict'
// Which PostgreSQL SQL is judged for when the project pins no postgresVersion: the server's, when
// connection settings name one. `check` (the CLI) and `verify` both ask here, so they cannot
// disagree about when the server is asked.

/** Connection settings a server could be asked through (the core reads the same variables). */
const CONNECTION_VARIABLES = ['DATABASE_URL', 'PGHOST', 'PGHOSTADDR', 'PGSERVICE']

/**
 * `{ version }` (the server's major version), `{ error }` (it was asked and did not answer within
 * `serverVersion()`'s bound), or `{}` when it is not asked: the project pins a version, or there
 * is no connection to ask through. `connects`: the caller needs the server anyway (verify), so it
 * is asked whatever names it.
 * @param {{ loadConfig: Function, serverVersion: Function }} api the public API
 */
async function serverVersionUnlessPinned(api, { connects = false, env = process.env } = {}) {
  if (!connects && !CONNECTION_VARIABLES.some((k) => env[k]?.trim())) return {}
  if ((await api.loadConfig()).raw?.postgresVersion !== undefined) return {}
  try {
    return { version: await api.serverVersion() }
  } catch (error) {
    return { error }
  }
}

module.exports = { serverVersionUnlessPinned }
