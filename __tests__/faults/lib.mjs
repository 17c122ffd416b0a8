// Shared by the fault tests (`pnpm test:faults`): a migration set whose every migration leaves a
// checkable trace, the invariant "the database holds only whole migrations", a child `up` that
// can be killed, and the figures each suite records for the README's reliability section.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CLI, ROOT, cleanEnv } from '../helpers.mjs'
import { project } from '../project.mjs'
import { query } from '../db.mjs'

export const version = (i) => String(1700000000000 + i)

/**
 * A project of `n` transactional migrations; migration i creates `t_i`, puts one row (i) in it and
 * sleeps `sleepMs`, so a kill lands inside migrations as often as between them.
 */
export async function migrationSet(t, n, { sleepMs = 0 } = {}) {
  const files = {}
  for (let i = 1; i <= n; i++) {
    const sleep = sleepMs ? `; SELECT pg_sleep(${sleepMs / 1000})` : ''
    files[`${version(i)}_m${i}.mjs`] = `export const up = 'CREATE TABLE t_${i} (id int); INSERT INTO t_${i} VALUES (${i})${sleep}'\n`
  }
  return project(t, files)
}

/**
 * Only whole migrations: for every i, t_i exists (holding exactly its one row) if and only if a
 * live `applied` history row says so, at most one live row per version, and nothing applied
 * after a gap. Returns how many are applied.
 */
export async function assertWhole(url, n) {
  const rows = await query(url, "SELECT version, count(*)::int AS n FROM godwit_migrations WHERE status <> 'reverted' GROUP BY version").catch((e) => {
    if (e.code === '42P01') return [] // no history table yet: nothing applied
    throw e
  })
  const live = new Map(rows.map((r) => [r.version, r.n]))
  const tables = new Set((await query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\\_%'")).map((r) => r.tablename))
  let applied = 0
  for (let i = 1; i <= n; i++) {
    const recorded = live.get(version(i)) ?? 0
    assert.ok(recorded <= 1, `migration ${i} has ${recorded} live history rows`)
    assert.equal(tables.has(`t_${i}`), recorded === 1, `migration ${i}: table ${tables.has(`t_${i}`) ? 'exists' : 'missing'} but history says ${recorded ? 'applied' : 'not applied'}`)
    if (recorded) applied++
  }
  // each existing table holds exactly its own row (one query for all of them)
  const existing = [...tables].map((name) => Number(name.slice(2))).filter((i) => i >= 1 && i <= n)
  if (existing.length) {
    const content = await query(url, existing.map((i) => `SELECT ${i} AS i, array_agg(id)::int[] AS ids FROM t_${i}`).join(' UNION ALL '))
    for (const { i, ids } of content) assert.deepEqual(ids, [i], `t_${i} holds exactly its own row`)
  }
  // in order: nothing applied after a migration that is not
  for (let i = 1; i < n; i++) {
    if (!live.has(version(i))) assert.ok(!live.has(version(i + 1)), `migration ${i + 1} applied after a gap at ${i}`)
  }
  return applied
}

/** Advisory locks held on the server (godwit's is the only kind these tests take). */
export async function advisoryLocks(url) {
  return (await query(url, "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND granted"))[0].n
}

/** Polls until no advisory lock is held; the milliseconds it took (fails after `limitMs`). */
export async function lockFreeAfter(url, limitMs = 15_000) {
  const t0 = Date.now()
  while ((await advisoryLocks(url)) > 0) {
    assert.ok(Date.now() - t0 < limitMs, `the migration lock was still held ${limitMs} ms later`)
    await new Promise((r) => setTimeout(r, 25))
  }
  return Date.now() - t0
}

/** Starts `godwit up` as a child process; `.done` resolves to {code, signal, stdout, stderr}. */
export function startUp(cwd, env, args = []) {
  const child = spawn(process.execPath, [CLI, 'up', '--sha', 'fault', ...args], { cwd, env: cleanEnv(env) })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
  return { child, done }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const randomBetween = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo))

/**
 * Records a suite's figures in `.artifacts/faults/<suite>.json`; `scripts/faults-report.mjs`
 * puts them in docs/reliability.md, so the numbers there are the tests' own.
 */
export function recordFigures(suite, figures) {
  const dir = path.join(ROOT, '.artifacts', 'faults')
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, `${suite}.json`), JSON.stringify({ suite, at: new Date().toISOString(), ...figures }, null, 2) + '\n')
}
