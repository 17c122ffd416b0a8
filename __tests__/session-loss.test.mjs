// The run's session dies mid-migration (pg_terminate_backend from outside): godwit learns from a
// second session what became of the migration instead of assuming, exits 7 (CONNECTION_LOST),
// and the next run proceeds or refuses as the history says.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { CLI, godwit, cleanEnv } from './helpers.mjs'
import { project, sql, V, report, tables } from './project.mjs'
import { freshDatabase, query, stopServer } from './db.mjs'

after(stopServer)

/** Starts `up`, waits until a statement matching `like` runs, terminates that backend. */
async function upAndTerminate(cwd, url, like) {
  const child = spawn(process.execPath, [CLI, 'up', '--sha', 'test', '--json'], { cwd, env: cleanEnv({ DATABASE_URL: url }) })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const pidOf = async () =>
    (await query(url, 'SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid() AND datname = current_database()', [like]))[0]?.pid
  let pid
  for (let t0 = Date.now(); Date.now() - t0 < 20_000 && child.exitCode === null && !(pid = await pidOf()); ) {
    await new Promise((r) => setTimeout(r, 50))
  }
  assert.ok(pid, `the statement never ran: ${stderr}`)
  await query(url, 'SELECT pg_terminate_backend($1)', [pid])
  const code = await new Promise((r) => child.on('close', r))
  return { code, json: JSON.parse(stdout), stderr }
}

test('terminated_backend_mid_transactional_migration_rolls_back_exits_7_and_a_retry_applies', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'),
    [`${V(2)}_slow.mjs`]: sql('CREATE TABLE s (id int); SELECT pg_sleep(30)'),
    [`${V(3)}_c.mjs`]: sql('CREATE TABLE c (id int)'),
  })
  const r = await upAndTerminate(cwd, url, '%pg_sleep(30)%')
  assert.equal(r.code, 7, r.stderr)
  assert.equal(r.json.error.code, 'CONNECTION_LOST')
  assert.equal(r.json.outcome, 'connection-lost')
  assert.match(r.json.error.message, /rolled back \(its history row is absent\)/)
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['applied', 'cancelled', 'pending'])
  assert.equal(report(cwd).outcome, 'connection-lost')
  assert.deepEqual(await tables(url), ['a', 'godwit_migrations'], 'nothing of the second, nothing of the third')
  assert.equal((await query(url, "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"))[0].n, 0)
  writeFileSync(path.join(cwd, 'db/migrations', `${V(2)}_slow.mjs`), sql('CREATE TABLE s (id int)'))
  const checked = await godwit(['check'], { cwd })
  assert.equal(checked.code, 0, checked.stdout + checked.stderr)
  const retry = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(retry.code, 0, retry.stderr)
  assert.deepEqual(retry.json.migrations.map((m) => m.state), ['already-applied', 'applied', 'applied'])
})

test('terminated_backend_mid_non_transactional_migration_is_recorded_failed_and_blocks_until_resolved', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    [`${V(1)}_slow.mjs`]: "export const up = 'SELECT pg_sleep(30)'\nexport const config = { transaction: false }\n",
  })
  const r = await upAndTerminate(cwd, url, '%pg_sleep(30)%')
  assert.equal(r.code, 7, r.stderr)
  assert.equal(r.json.error.code, 'CONNECTION_LOST')
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['failed'])
  assert.match(r.json.error.message, /recorded as failed/)
  const rows = await query(url, 'SELECT status, error FROM godwit_migrations')
  assert.equal(rows.length, 1)
  assert.equal(rows[0].status, 'failed')
  assert.match(rows[0].error, /session was lost/)
  // fail closed: the next run refuses and names the way out
  const again = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(again.code, 4)
  assert.deepEqual(again.json.problems.map((p) => [p.version, p.kind]), [[V(1), 'failed']])
})
