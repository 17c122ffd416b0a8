// Load: 16 concurrent `up` runners on 200 migrations, repeated 20 times. Every migration applied
// exactly once (one live history row each, no duplicates, no gaps), every runner exits 0, and the
// runners' reports together account for each migration exactly once.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { freshDatabase, query, stopServer } from '../db.mjs'
import { validateReport } from '../report-schema.mjs'
import { migrationSet, assertWhole, startUp, recordFigures, version } from './lib.mjs'

after(stopServer)

const RUNNERS = 16
const N = 200
const REPEATS = Number(process.env.GODWIT_FAULT_REPEATS ?? 20)

test(`${RUNNERS}_concurrent_runners_on_${N}_migrations_${REPEATS}_times_apply_each_exactly_once`, async (t) => {
  const cwd = await migrationSet(t, N)
  const figures = { repeats: 0, runners: RUNNERS, migrations: N, runs: 0, exitCodes: {}, maxWaitMs: 0 }
  for (let rep = 0; rep < REPEATS; rep++) {
    const url = await freshDatabase(t)
    const runs = Array.from({ length: RUNNERS }, (_, i) =>
      startUp(cwd, { DATABASE_URL: url, MIGRATION_TIMEOUT_SECONDS: '300' }, ['--artifacts-dir', `.artifacts/load/r${i}`]),
    )
    const results = await Promise.all(runs.map((r) => r.done))
    figures.repeats++
    results.forEach((r, i) => {
      figures.runs++
      figures.exitCodes[r.code] = (figures.exitCodes[r.code] ?? 0) + 1
      assert.equal(r.code, 0, `repeat ${rep}, runner ${i}: ${r.stderr}`)
    })
    const hist = await query(url, "SELECT version, count(*)::int AS n FROM godwit_migrations WHERE status = 'applied' GROUP BY version ORDER BY version")
    assert.equal(hist.length, N, 'no gaps')
    assert.ok(hist.every((h) => h.n === 1), 'no duplicates')
    assert.deepEqual(hist.map((h) => h.version), Array.from({ length: N }, (_, i) => version(i + 1)))
    assert.equal(await assertWhole(url, N), N)
    // every migration is "applied" in exactly one runner's report
    const count = new Map()
    for (let i = 0; i < RUNNERS; i++) {
      const rep = validateReport(JSON.parse(readFileSync(path.join(cwd, `.artifacts/load/r${i}/fault/migration.json`), 'utf8')))
      figures.maxWaitMs = Math.max(figures.maxWaitMs, rep.lockWaitMs ?? 0)
      for (const m of rep.migrations.filter((m) => m.state === 'applied')) count.set(m.version, (count.get(m.version) ?? 0) + 1)
    }
    assert.equal(count.size, N)
    assert.ok([...count.values()].every((c) => c === 1))
  }
  recordFigures('load', figures)
})
