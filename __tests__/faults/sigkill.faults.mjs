// SIGKILL of the runner at random points: no handler runs, no report is written, the session just
// vanishes. Afterwards the database must hold only whole transactional migrations, the lock must
// come free once the server notices, and the next `up` must complete.
//
// What the server does with the orphan: a batch it is executing keeps running after the client
// died. On PostgreSQL 14+ godwit sets client_connection_check_interval = 1s, so the server notices
// the dead client within about a second, aborts the statement (rolling back) and ends the session,
// which frees the lock. A batch that finishes before that commits whole (its history row with it).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { godwit } from '../helpers.mjs'
import { project, sql, V, tables } from '../project.mjs'
import { freshDatabase, query, stopServer } from '../db.mjs'
import { migrationSet, assertWhole, lockFreeAfter, startUp, sleep, randomBetween, recordFigures } from './lib.mjs'

after(stopServer)

const TRIALS = Number(process.env.GODWIT_FAULT_TRIALS ?? 30)
const N = 30

test(`sigkill_at_${TRIALS}_random_points_leaves_only_whole_migrations_and_the_next_up_completes`, async (t) => {
  const cwd = await migrationSet(t, N, { sleepMs: 50 })
  const figures = { trials: 0, landedMidRun: 0, landedBeforeAnyCommit: 0, landedAfterAll: 0, maxLockFreeMs: 0, recoveredRuns: 0 }
  for (let trial = 0; trial < TRIALS; trial++) {
    const url = await freshDatabase(t)
    const env = { DATABASE_URL: url }
    const run = startUp(cwd, env)
    await sleep(randomBetween(100, 2000))
    run.child.kill('SIGKILL')
    const { signal } = await run.done
    figures.trials++
    const lockMs = await lockFreeAfter(url)
    figures.maxLockFreeMs = Math.max(figures.maxLockFreeMs, lockMs)
    const applied = await assertWhole(url, N)
    if (signal !== 'SIGKILL' || applied === N) figures.landedAfterAll++
    else if (applied === 0) figures.landedBeforeAnyCommit++
    else figures.landedMidRun++
    const next = await godwit(['up', '--sha', 'after-kill'], { cwd, env: { ...env, MIGRATION_TIMEOUT_SECONDS: '60' } })
    assert.equal(next.code, 0, `trial ${trial}: the next up failed: ${next.stderr}`)
    assert.equal(await assertWhole(url, N), N)
    figures.recoveredRuns++
  }
  assert.ok(figures.landedMidRun >= Math.floor(TRIALS / 3), `only ${figures.landedMidRun} of ${TRIALS} kills landed mid-run`)
  recordFigures('sigkill', figures)
})

test('the_server_ends_an_orphaned_statement_within_seconds_of_the_client_dying', async (t) => {
  const url = await freshDatabase(t)
  const server = Number((await query(url, 'SHOW server_version_num'))[0].server_version_num)
  const cwd = await project(t, { [`${V(1)}_long.mjs`]: sql('CREATE TABLE orphan (id int); SELECT pg_sleep(60)') })
  // PostgreSQL 13 has no client_connection_check_interval: there statement_timeout is the bound
  // (docs/reliability.md), so the job's is set short to see it end the orphan
  const env = server < 140000 ? { DATABASE_URL: url, MIGRATION_STATEMENT_TIMEOUT: '4s' } : { DATABASE_URL: url }
  const run = startUp(cwd, env)
  const running = async () =>
    (await query(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid() AND datname = current_database()"))[0].n
  for (let t0 = Date.now(); (await running()) === 0; await sleep(25)) assert.ok(Date.now() - t0 < 20_000, 'the statement never started')
  run.child.kill('SIGKILL')
  await run.done
  const t0 = Date.now()
  while ((await running()) > 0) {
    assert.ok(Date.now() - t0 < 10_000, 'the orphaned statement still runs 10 s after the client died')
    await sleep(25)
  }
  const orphanEndMs = Date.now() - t0
  const lockMs = await lockFreeAfter(url)
  assert.deepEqual(await tables(url), ['godwit_migrations'], 'the orphan was rolled back')
  recordFigures('orphan', { orphanEndMs, lockFreeMsAfterThat: lockMs, serverVersionNum: server })
})
