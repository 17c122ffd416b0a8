// Compiled with `tsc --noEmit` by __tests__/types.test.mjs: the public types accept real use and
// reject misuse (the @ts-expect-error lines fail the build if the types stop catching them).
import godwit = require('../../index.js')
import type { Migration, UpReport, StatusReport, CheckReport, ErrorCode, VerifyReport, GodwitConfig } from '../../index.js'

export const migration: Migration = {
  up: async () => ['CREATE TABLE t (id bigint PRIMARY KEY)'],
  down: 'DROP TABLE t',
  config: { transaction: true, lockTimeout: '5s', statementTimeout: 60_000 },
}

// @ts-expect-error transaction is a boolean
export const wrong: Migration = { up: 'SELECT 1', config: { transaction: 'no' } }

export async function use(): Promise<void> {
  const c: CheckReport = await godwit.check({ frozen: true })
  const r: UpReport = await godwit.up({ sha: 'abc', signal: AbortSignal.timeout(1000) })
  const s: StatusReport = await godwit.status({ schema: 'public' })
  if (!r.ok && r.error) {
    const code: ErrorCode = r.error.code
    void code
  }
  for (const m of s.migrations) void m.state.toUpperCase()
  void c.violations.map((v) => v.rule)
  try {
    await godwit.create('add_users')
  } catch (e) {
    if (e instanceof godwit.GodwitError) void e.exitCode
  }
  const d: UpReport = await godwit.down({ count: 2, allowNonLocal: false })
  void d.outcome
  // @ts-expect-error unknown option
  await godwit.up({ bogus: true })

  // API start-up: verify, never migrate
  try {
    const current: StatusReport = await godwit.assertSchemaCurrent()
    void current.clean
  } catch (e) {
    if (e instanceof godwit.GodwitError && e.code === 'SCHEMA_NOT_CURRENT') void e.status?.pending
  }
  await godwit.up({ migrationJob: true })
  const v: VerifyReport = await godwit.verify({ sha: 'pr' })
  if (!v.ok) void v.diff?.onlyAfter
  const f = await godwit.fingerprint()
  void f.hash.length
  const cfg = await godwit.loadConfig()
  void cfg.run.lockTimeoutMs
}

export const config: GodwitConfig = godwit.defineConfig({ history: { table: 'migs' }, lockTimeout: '5s', timeoutSeconds: 600, rules: { isolation: 'warning' } })
// @ts-expect-error history takes schema and table
export const badConfig: GodwitConfig = { history: { tabel: 'x' } }
export const { up, down } = godwit.defineMigration({ up: 'CREATE TABLE t (id int)', down: 'DROP TABLE t', config: { destructive: true, ignore: { 'prefer-robust-stmts': 'one-off table' } } })
// @ts-expect-error up is required
godwit.defineMigration({ down: 'DROP TABLE t' })
