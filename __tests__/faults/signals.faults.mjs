// SIGTERM / SIGINT at random points (a cancelled pipeline job): a clean cancel, the lock released
// by the time the process has exited, the report written, exit 6 (or 0 when the run had already
// finished), and a report whose every state agrees with the history.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { godwit } from '../helpers.mjs'
import { freshDatabase, query, stopServer } from '../db.mjs'
import { validateReport } from '../report-schema.mjs'
import { migrationSet, assertWhole, advisoryLocks, startUp, sleep, randomBetween, recordFigures } from './lib.mjs'

after(stopServer)

const TRIALS = Number(process.env.GODWIT_FAULT_TRIALS ?? 30)
const N = 30

test(`sigterm_and_sigint_at_${TRIALS}_random_points_cancel_cleanly_and_report_the_truth`, async (t) => {
  const cwd = await migrationSet(t, N, { sleepMs: 50 })
  const figures = { trials: 0, interrupted: 0, finishedFirst: 0, killedBeforeStart: 0, killedDuringExit: 0, lockHeldAfterExit: 0, reportsMatchingHistory: 0 }
  const reportPath = path.join(cwd, '.artifacts/deploy/fault/migration.json')
  for (let trial = 0; trial < TRIALS; trial++) {
    const url = await freshDatabase(t)
    const env = { DATABASE_URL: url }
    const signal = trial % 2 ? 'SIGINT' : 'SIGTERM'
    rmSync(reportPath, { force: true })
    const run = startUp(cwd, env)
    await sleep(randomBetween(100, 2000))
    run.child.kill(signal)
    const { code, signal: killedBy, stderr } = await run.done
    figures.trials++
    const finishedThenKilled = killedBy && /^report: /m.test(stderr)
    if (killedBy && !finishedThenKilled) {
      // The one window no handler can close at the start: Node itself still booting (tens of ms;
      // longer on a loaded machine), before the CLI's first line installs the handler. Then
      // nothing may have happened: no report, no history table, no lock.
      figures.killedBeforeStart++
      assert.equal(existsSync(reportPath), false, `trial ${trial}: killed by ${killedBy} after writing a report: ${stderr}`)
      assert.equal(await assertWhole(url, N), 0, `trial ${trial}: killed by ${killedBy} after applying something`)
      assert.equal(await advisoryLocks(url), 0)
      continue
    }
    // And one at the end: Node's own teardown, after the run has finished, the report is written
    // and the summary printed, restores the default action before the process is gone. The run is
    // whole and its report true (checked below like any finished run).
    if (finishedThenKilled) figures.killedDuringExit++
    assert.ok(code === 6 || code === 0 || finishedThenKilled, `trial ${trial} (${signal}): exit ${code}: ${stderr}`)
    // released by the run itself (unlock, then closing its session), not by a timeout later
    for (let i = 0; i < 20 && (await advisoryLocks(url)) > 0; i++) await sleep(25)
    if ((await advisoryLocks(url)) > 0) figures.lockHeldAfterExit++
    assert.equal(await advisoryLocks(url), 0, `trial ${trial}: the lock outlived the run`)
    const report = validateReport(JSON.parse(readFileSync(reportPath, 'utf8')))
    const applied = await assertWhole(url, N)
    if (code === 6) {
      figures.interrupted++
      assert.equal(report.outcome, 'interrupted')
      assert.equal(report.error.code, 'INTERRUPTED')
      assert.match(report.error.message, new RegExp(signal))
    } else if (!finishedThenKilled) {
      figures.finishedFirst++
    }
    // the report says exactly what the history says
    const live = new Set((await query(url, "SELECT version FROM godwit_migrations WHERE status = 'applied'").catch(() => [])).map((r) => r.version))
    for (const m of report.migrations) {
      const inHistory = live.has(m.version)
      assert.equal(m.state === 'applied', inHistory, `trial ${trial}: report says ${m.version} is ${m.state}, the history says ${inHistory ? 'applied' : 'not applied'}`)
    }
    assert.equal(report.migrations.filter((m) => m.state === 'applied').length, applied)
    figures.reportsMatchingHistory++
    const next = await godwit(['up', '--sha', 'after-signal'], { cwd, env })
    assert.equal(next.code, 0, next.stderr)
    assert.equal(await assertWhole(url, N), N)
  }
  assert.ok(figures.interrupted >= Math.floor(TRIALS / 2), `only ${figures.interrupted} of ${TRIALS} signals landed mid-run`)
  recordFigures('signals', figures)
})

test('a_signal_while_waiting_for_the_lock_exits_6_without_touching_anything', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await migrationSet(t, 3, { sleepMs: 3000 })
  const holder = startUp(cwd, { DATABASE_URL: url }, ['--artifacts-dir', '.artifacts/holder'])
  for (let i = 0; i < 200 && (await advisoryLocks(url)) === 0; i++) await sleep(25)
  const waiter = startUp(cwd, { DATABASE_URL: url })
  await sleep(800)
  waiter.child.kill('SIGTERM')
  const w = await waiter.done
  assert.equal(w.code, 6, w.stderr)
  const report = JSON.parse(readFileSync(path.join(cwd, '.artifacts/deploy/fault/migration.json'), 'utf8'))
  assert.equal(report.outcome, 'interrupted')
  assert.match(report.error.message, /while waiting for the migration lock/)
  assert.ok(report.migrations.every((m) => m.state !== 'applied'), 'the waiter applied nothing')
  assert.equal((await holder.done).code, 0)
  assert.equal(await assertWhole(url, 3), 3)
})
