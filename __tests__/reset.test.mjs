// `reset` (local development only) against a real PostgreSQL: empties every schema, applies every
// migration again, records what it did in the history, and is all or nothing.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { godwit, ROOT } from './helpers.mjs'
import { project, sql, V, tables } from './project.mjs'
import { freshDatabase, query, server, stopServer } from './db.mjs'
import { validateReport } from './report-schema.mjs'

const api = createRequire(import.meta.url)(ROOT)
after(stopServer)

const schemas = async (url) =>
  (await query(url, "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1")).map((r) => r.nspname)

/** The `schema public ...` line of the fingerprint: owner and grants of public. */
async function publicSchemaLine(url) {
  const saved = process.env.DATABASE_URL
  process.env.DATABASE_URL = url
  try {
    return (await api.fingerprint({})).lines.find((l) => l.startsWith('schema public '))
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL
    else process.env.DATABASE_URL = saved
  }
}

const migrations = {
  [`${V(1)}_app.mjs`]: sql('CREATE SCHEMA app; CREATE TABLE app.accounts (id bigint PRIMARY KEY)'),
  [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id bigint PRIMARY KEY)'),
}

test('reset_empties_every_schema_reapplies_everything_and_records_it_in_the_history', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, migrations)
  const env = { DATABASE_URL: url }
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 0)
  const publicBefore = await publicSchemaLine(url)
  // local leftovers a reset is for, and an applied migration edited locally (up refuses it)
  await query(url, "CREATE TABLE public.scratch (x int); CREATE SCHEMA playground; INSERT INTO b VALUES (1)")
  writeFileSync(path.join(cwd, 'db/migrations', `${V(2)}_b.mjs`), sql('CREATE TABLE b (id bigint PRIMARY KEY, note text)'))
  assert.equal((await godwit(['check'], { cwd })).code, 0)
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 4, 'up refuses the edited history')

  const r = await godwit(['reset', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.json.command, 'reset')
  assert.equal(r.json.outcome, 'applied')
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['applied', 'applied'])
  assert.deepEqual(r.json.reset.droppedSchemas, ['app', 'playground', 'public'])
  assert.deepEqual(r.json.reset.recreatedSchemas, ['public'])
  assert.equal(r.json.reset.revertedRows, 2)
  validateReport(JSON.parse(readFileSync(path.join(cwd, '.artifacts/deploy/test/reset.json'), 'utf8')))

  assert.deepEqual(await schemas(url), ['app', 'public'])
  assert.deepEqual(await tables(url), ['b', 'godwit_migrations'])
  const cols = await query(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'b' ORDER BY 1")
  assert.deepEqual(cols.map((c) => c.column_name), ['id', 'note'], 'the edited migration ran')
  assert.equal((await query(url, 'SELECT count(*)::int AS n FROM b'))[0].n, 0, 'data went with the reset')
  assert.equal(await publicSchemaLine(url), publicBefore, 'public has its owner and grants back')
  const hist = await query(url, 'SELECT version, status, reverted_by_command FROM godwit_migrations ORDER BY id')
  assert.deepEqual(hist.map((h) => [h.version, h.status, h.reverted_by_command]), [
    [V(1), 'reverted', 'reset'],
    [V(2), 'reverted', 'reset'],
    [V(1), 'applied', null],
    [V(2), 'applied', null],
  ])
  const st = await godwit(['status', '--json'], { cwd, env })
  assert.equal(st.code, 0, 'clean after the reset')
})

test('reset_with_a_module_that_throws_drops_nothing', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    ...migrations,
    [`${V(3)}_env.mjs`]: "export const up = () => { if (process.env.BOOM) throw new Error('boom'); return 'CREATE TABLE c (id int)' }\n",
  })
  const env = { DATABASE_URL: url }
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 0)
  await query(url, 'INSERT INTO b VALUES (7)')
  const r = await godwit(['reset', '--sha', 'test', '--json'], { cwd, env: { ...env, BOOM: '1' } })
  assert.equal(r.code, 2, r.stderr)
  assert.equal(r.json.error.code, 'MIGRATION_INVALID')
  assert.match(r.json.error.message, /threw: boom.*nothing was run/)
  assert.deepEqual(await tables(url), ['b', 'c', 'godwit_migrations'])
  assert.equal((await query(url, 'SELECT count(*)::int AS n FROM b'))[0].n, 1)
  assert.equal((await query(url, "SELECT count(*)::int AS n FROM godwit_migrations WHERE status = 'applied'"))[0].n, 3)
})

test('reset_that_cannot_drop_a_schema_changes_nothing', async (t) => {
  const url = await freshDatabase(t)
  const { url: serverUrl } = await server()
  // the database belongs to a role that may not drop a schema a superuser owns
  const role = `godwit_reset_${process.pid}`
  await query(serverUrl, `CREATE ROLE ${role} LOGIN PASSWORD 'pw'`)
  t.after(() => query(serverUrl, `DROP ROLE IF EXISTS ${role}`))
  const db = new URL(url).pathname.slice(1)
  await query(serverUrl, `ALTER DATABASE ${db} OWNER TO ${role}`)
  await query(url, `ALTER SCHEMA public OWNER TO ${role}; CREATE SCHEMA locked_by_admin`)
  t.after(() => query(url, `DROP OWNED BY ${role} CASCADE`).catch(() => {}))
  const asRole = new URL(url)
  asRole.username = role
  asRole.password = 'pw'
  const cwd = await project(t, migrations)
  const env = { DATABASE_URL: asRole.toString() }
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 0)
  const r = await godwit(['reset', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(r.code, 5, r.stderr)
  assert.match(r.json.error.message, /reset failed and changed nothing: .*must be owner of schema locked_by_admin/)
  assert.deepEqual(await schemas(url), ['app', 'locked_by_admin', 'public'])
  assert.deepEqual(await tables(url), ['b', 'godwit_migrations'])
  assert.equal((await query(url, "SELECT count(*)::int AS n FROM godwit_migrations WHERE status = 'applied'"))[0].n, 2, 'no row marked reverted')
})

test('reset_refuses_production_ci_and_remote_servers_unless_told', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, migrations)
  const cases = [
    [{ DATABASE_URL: url, NODE_ENV: 'production' }, /NODE_ENV=production/],
    [{ DATABASE_URL: url, CI: 'true' }, /CI/],
    [{ DATABASE_URL: 'postgres://u@db.example.internal:5432/app' }, /is not a local server/],
  ]
  for (const [env, why] of cases) {
    const r = await godwit(['reset', '--sha', 'test', '--json'], { cwd, env })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.json.error.message, why)
    assert.match(r.json.error.message, /restore \+ redeploy/)
  }
  assert.deepEqual(await tables(url), [], 'nothing touched')
  const forced = await godwit(['reset', '--sha', 'test', '--allow-non-local'], { cwd, env: { DATABASE_URL: url, CI: 'true' } })
  assert.equal(forced.code, 0, forced.stderr)
})
