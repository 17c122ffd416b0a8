// The JS API at an API's start-up: assertSchemaCurrent() verifies (read-only, no lock) and up()
// refuses to migrate under NODE_ENV=production unless the caller is the migration job. Each case
// runs in its own Node process, as an API would, with the project as its working directory.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { ROOT, cleanEnv, godwit } from './helpers.mjs'
import { freshDatabase, query, stopServer } from './db.mjs'
import { project, sql, V, report } from './project.mjs'

after(stopServer)

/** Runs `body` (an async function's text, `godwit` in scope) in a Node process in `cwd`; its JSON result. */
function api(cwd, env, body) {
  const script = `const godwit = require(${JSON.stringify(path.join(ROOT, 'index.js'))});
(async () => { ${body} })().then(
  (v) => process.stdout.write(JSON.stringify({ ok: true, value: v ?? null })),
  (e) => process.stdout.write(JSON.stringify({ ok: false, code: e.code, exitCode: e.exitCode, message: e.message, status: e.status ?? null, isGodwitError: e instanceof godwit.GodwitError })),
)`
  const r = spawnSync(process.execPath, ['-e', script], { cwd, env: cleanEnv(env), encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

test('assert_schema_current_rejects_pending_changed_and_failed_and_passes_when_current', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'), [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int)') })
  const env = { DATABASE_URL: url }

  const pending = api(cwd, env, 'return await godwit.assertSchemaCurrent()')
  assert.equal(pending.ok, false)
  assert.equal(pending.isGodwitError, true)
  assert.equal(pending.code, 'SCHEMA_NOT_CURRENT')
  assert.equal(pending.exitCode, 1)
  assert.match(pending.message, new RegExp(`${V(1)}_a pending, ${V(2)}_b pending`))
  assert.match(pending.message, /pnpm db:migrate:up/)
  assert.equal(pending.status.pending, 2)
  // read-only: it created nothing, not even the history table, and took no lock
  assert.deepEqual(await query(url, "SELECT to_regclass('public.godwit_migrations') AS t"), [{ t: null }])

  assert.equal((await godwit(['up', '--sha', 'api'], { cwd, env })).code, 0)
  const current = api(cwd, env, 'const s = await godwit.assertSchemaCurrent(); return s.clean')
  assert.deepEqual(current, { ok: true, value: true })

  // its rows are parsed when first read, and the report reads, copies and serialises as a whole:
  // the same document `status --json` prints, `migrations` last, one array, assignable
  const whole = api(cwd, env, `const s = await godwit.assertSchemaCurrent()
    const text = JSON.stringify(s)
    const keys = Object.keys(s)
    const same = s.migrations === s.migrations
    const copy = { ...(await godwit.status()) }
    const assigned = await godwit.status(); assigned.migrations = ['mine']
    const inspected = require('node:util').inspect(await godwit.status(), { depth: 3 })
    return { text, keys, same, copied: copy.migrations.length, assigned: assigned.migrations, versions: s.migrations.map((m) => m.version), inspected }`)
  assert.equal(whole.ok, true, JSON.stringify(whole))
  const printed = await godwit(['status', '--json'], { cwd, env })
  assert.equal(whole.value.text, JSON.stringify(JSON.parse(printed.stdout)))
  assert.equal(whole.value.keys.at(-1), 'migrations')
  assert.equal(whole.value.same, true)
  assert.equal(whole.value.copied, 2)
  assert.deepEqual(whole.value.assigned, ['mine'])
  assert.deepEqual(whole.value.versions, [V(1), V(2)])
  // console.log of a fresh report shows its rows, not an accessor
  assert.match(whole.value.inspected, new RegExp(`version: '${V(2)}'`))
  assert.doesNotMatch(whole.value.inspected, /Getter|Setter|inspect/)

  // a history row whose checksum no longer matches its file: changed
  const [{ checksum }] = await query(url, `SELECT checksum FROM godwit_migrations WHERE version = '${V(2)}'`)
  await query(url, `UPDATE godwit_migrations SET checksum = repeat('0', 64) WHERE version = '${V(2)}'`)
  const changed = api(cwd, env, 'return await godwit.assertSchemaCurrent()')
  assert.equal(changed.code, 'SCHEMA_NOT_CURRENT')
  assert.match(changed.message, new RegExp(`${V(2)}_b changed`))

  // a row marked failed (a non-transactional migration that failed)
  await query(url, `UPDATE godwit_migrations SET checksum = $1, status = 'failed' WHERE version = '${V(2)}'`, [checksum])
  const failed = api(cwd, env, 'return await godwit.assertSchemaCurrent()')
  assert.equal(failed.code, 'SCHEMA_NOT_CURRENT')
  assert.match(failed.message, new RegExp(`${V(2)}_b failed`))
})

test('assert_schema_current_passes_connection_errors_through_with_their_code', async (t) => {
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const r = api(cwd, { DATABASE_URL: 'postgres://nobody:s3cret-canary@127.0.0.1:1/none' }, 'return await godwit.assertSchemaCurrent()')
  assert.equal(r.ok, false)
  assert.equal(r.code, 'CONNECT_FAILED')
  assert.doesNotMatch(JSON.stringify(r), /s3cret-canary/)
})

test('up_is_refused_under_node_env_production_unless_the_caller_is_the_migration_job', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })

  const refused = api(cwd, { DATABASE_URL: url, NODE_ENV: 'production' }, 'return (await godwit.up()).outcome')
  assert.equal(refused.code, 'NOT_MIGRATION_JOB')
  assert.equal(refused.exitCode, 2)
  assert.match(refused.message, /never at API start-up/)
  assert.match(refused.message, /assertSchemaCurrent\(\)/)
  assert.match(refused.message, /MIGRATION_JOB=1/)
  // refused before anything was read or connected: no history table, no report
  assert.deepEqual(await query(url, "SELECT to_regclass('public.godwit_migrations') AS t"), [{ t: null }])

  // MIGRATION_JOB set to nothing, 0 or false declares nothing: refused alike
  for (const off of ['', '0', 'false', ' FALSE ']) {
    assert.equal(api(cwd, { DATABASE_URL: url, NODE_ENV: 'production', MIGRATION_JOB: off }, 'return (await godwit.up()).outcome').code, 'NOT_MIGRATION_JOB', `MIGRATION_JOB=${off}`)
  }
  // the job declares itself: env MIGRATION_JOB=1 (any other value too, as the .env and schema-file
  // conveniences read it), or the option
  // the report up() returns (its rows parsed when read) is the one written, key for key
  const written = api(cwd, { DATABASE_URL: url, NODE_ENV: 'production', MIGRATION_JOB: '1' }, "const r = await godwit.up({ sha: 'job' }); const disk = require('node:fs').readFileSync(r.reportPath, 'utf8'); return [r.outcome, r.migrations.length, JSON.stringify(r, null, 2) + '\\n' === disk]")
  assert.deepEqual(written, { ok: true, value: ['applied', 1, true] })
  assert.deepEqual(api(cwd, { DATABASE_URL: url, NODE_ENV: 'production', MIGRATION_JOB: 'yes' }, "return (await godwit.up({ sha: 'job' })).outcome"), { ok: true, value: 'nothing-to-do' })
  assert.deepEqual(api(cwd, { DATABASE_URL: url, NODE_ENV: 'production' }, "return (await godwit.up({ sha: 'job', migrationJob: true })).outcome"), { ok: true, value: 'nothing-to-do' })
  // outside production an API may migrate (local development, tests)
  assert.deepEqual(api(cwd, { DATABASE_URL: url }, "return (await godwit.up({ sha: 'dev' })).outcome"), { ok: true, value: 'nothing-to-do' })
})

test('define_helpers_are_identities_that_keep_what_they_are_given', () => {
  const r = api(ROOT, {}, "const m = { up: 'SELECT 1', config: { transaction: false } }; const c = { lockTimeout: '5s' }; return [godwit.defineMigration(m) === m, godwit.defineConfig(c) === c]")
  assert.deepEqual(r, { ok: true, value: [true, true] })
})

test('the_cli_is_the_migration_job_and_runs_under_node_env_production', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const r = await godwit(['up', '--sha', 'prod'], { cwd, env: { DATABASE_URL: url, NODE_ENV: 'production' } })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /applied 1 migration/)
})

test('a_run_that_fails_on_nodes_side_rejects_and_its_report_says_why_with_nothing_applied', async (t) => {
  const url = await freshDatabase(t)
  // a function, so Node renders it (a module of literals is read by the core, never by Node)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: "export const up = () => 'CREATE TABLE a (id int)'\n" })
  const env = { DATABASE_URL: url }
  // the fleet's render cache is the one seam into the render step: one that throws is a JS-side
  // failure between the core's start and apply (a bug, not a migration's error)
  const failed = api(cwd, env, "const cache = { has() { throw new TypeError('render cache broke') } }; return await godwit.up({ sha: 'js', renderCache: cache })")
  assert.equal(failed.ok, false)
  assert.equal(failed.isGodwitError, false, 'the JS error itself surfaces')
  assert.match(failed.message, /render cache broke/)
  const doc = report(cwd, 'js')
  assert.equal(doc.ok, false)
  assert.equal(doc.outcome, 'error')
  assert.equal(doc.error.code, 'INTERNAL')
  assert.match(doc.error.message, /the run stopped outside the core: render cache broke/)
  assert.deepEqual(await query(url, 'SELECT version FROM godwit_migrations'), [], 'nothing applied')
  // the lock went with the session: the next run applies
  assert.deepEqual(api(cwd, env, "return (await godwit.up({ sha: 'next' })).outcome"), { ok: true, value: 'applied' })
})
