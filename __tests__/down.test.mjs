// `down` (local development only) and verify's down/up round trip, against a real PostgreSQL.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { godwit } from './helpers.mjs'
import { project, sql, V, tables } from './project.mjs'
import { freshDatabase, query, stopServer } from './db.mjs'
import { validateReport } from './report-schema.mjs'

after(stopServer)

const withDown = (upSql, downSql) => `export const up = ${JSON.stringify(upSql)}\nexport const down = ${JSON.stringify(downSql)}\n`

const three = {
  [`${V(1)}_a.mjs`]: withDown('CREATE TABLE a (id bigint PRIMARY KEY)', 'DROP TABLE a'),
  [`${V(2)}_b.mjs`]: withDown('CREATE TABLE b (id bigint PRIMARY KEY)', 'DROP TABLE b'),
  [`${V(3)}_c.mjs`]: withDown('CREATE TABLE c (id bigint PRIMARY KEY)', 'DROP TABLE c'),
}

test('down_reverts_the_newest_marks_them_reverted_and_up_applies_them_again', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, three)
  const env = { DATABASE_URL: url }
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env })).code, 0)
  const r = await godwit(['down', '--count', '2', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.json.command, 'down')
  assert.equal(r.json.outcome, 'reverted')
  assert.deepEqual(r.json.migrations.map((m) => m.state), ['already-applied', 'reverted', 'reverted'])
  // the summary the CLI prints and pipelines read, without the rows
  assert.deepEqual(r.json.counts, { 'already-applied': 1, reverted: 2 })
  assert.match(r.stderr, /down: reverted 2 migrations/)
  assert.deepEqual(await tables(url), ['a', 'godwit_migrations'])
  const hist = await query(url, 'SELECT version, status, reverted_at IS NOT NULL AS marked, reverted_by_command FROM godwit_migrations ORDER BY version')
  assert.deepEqual(hist.map((h) => [h.status, h.marked, h.reverted_by_command]), [['applied', false, null], ['reverted', true, 'down'], ['reverted', true, 'down']])
  const written = validateReport(JSON.parse(readFileSync(path.join(cwd, '.artifacts/deploy/test/down.json'), 'utf8')))
  assert.deepEqual(written.counts, r.json.counts)
  assert.throws(() => validateReport({ ...written, counts: { revertd: 2 } }), /does not match/, 'a state the schema does not know')
  const st = await godwit(['status', '--json'], { cwd, env })
  assert.equal(st.code, 1)
  assert.deepEqual(st.json.migrations.map((m) => m.state), ['applied', 'pending', 'pending'])
  const again = await godwit(['up', '--sha', 'test', '--json'], { cwd, env })
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(await tables(url), ['a', 'b', 'c', 'godwit_migrations'])
  // the history keeps what happened: each re-apply is a new row beside the reverted one
  const after = await query(url, 'SELECT version, status, reverted_by_command FROM godwit_migrations ORDER BY id')
  assert.deepEqual(after.map((h) => [h.version, h.status, h.reverted_by_command]), [
    [V(1), 'applied', null],
    [V(2), 'reverted', 'down'],
    [V(3), 'reverted', 'down'],
    [V(2), 'applied', null],
    [V(3), 'applied', null],
  ])
  // and at most one live row per version, enforced by the database itself
  await assert.rejects(
    query(url, `INSERT INTO godwit_migrations (version, name, file, checksum, sql_checksum, status, transactional, execution_ms) VALUES ('${V(2)}', 'b', 'f', 'x', 'y', 'applied', true, 0)`),
    /duplicate key value violates unique constraint "godwit_migrations_live_version"/,
  )
})

test('down_refuses_production_ci_and_remote_servers_unless_told', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, three)
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  const remote = 'postgres://app@db.internal:5432/app'
  for (const [env, why] of [
    [{ DATABASE_URL: url, NODE_ENV: 'production' }, /NODE_ENV=production/],
    [{ DATABASE_URL: url, CI: 'true' }, /running in CI/],
    [{ DATABASE_URL: remote }, /db\.internal:5432\/app is not a local server/],
  ]) {
    const r = await godwit(['down', '--json'], { cwd, env })
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.json.error.code, 'CONFIG')
    assert.match(r.json.error.message, why)
    assert.match(r.json.error.message, /restore \+ redeploy/)
  }
  assert.deepEqual(await tables(url), ['a', 'b', 'c', 'godwit_migrations'], 'nothing reverted')
  const told = await godwit(['down', '--allow-non-local', '--json'], { cwd, env: { DATABASE_URL: url, CI: 'true' } })
  assert.equal(told.code, 0, told.stderr)
  assert.deepEqual(await tables(url), ['a', 'b', 'godwit_migrations'])
})

test('down_reverts_nothing_when_a_migration_to_revert_has_no_down', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { ...three, [`${V(4)}_d.mjs`]: sql('CREATE TABLE d (id bigint PRIMARY KEY)') })
  assert.equal((await godwit(['up', '--sha', 'test'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  const r = await godwit(['down', '--count', '2', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 2)
  assert.equal(r.json.error.code, 'MIGRATION_INVALID')
  assert.match(r.json.error.message, new RegExp(`${V(4)}_d\\.mjs has no \`down\`.*nothing was reverted`))
  assert.deepEqual(await tables(url), ['a', 'b', 'c', 'd', 'godwit_migrations'])
})

test('verify_round_trips_down_and_up_when_every_migration_has_down', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, three)
  const r = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.ok(r.json.steps.some((s) => s.step === 'round-trip' && s.ok))
  assert.equal(r.json.steps.find((s) => s.step === 'round-trip-down').reverted, 3)
})

test('verify_fails_when_a_down_does_not_undo_its_up', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, {
    ...three,
    [`${V(4)}_d.mjs`]: withDown('CREATE TABLE d (id bigint PRIMARY KEY); CREATE TABLE d_log (id bigint PRIMARY KEY)', 'DROP TABLE d'),
  })
  const r = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.equal(r.json.error.code, 'NOT_REVERSIBLE')
  assert.ok(r.json.diff.onlyAfter.some((l) => l.startsWith('relation public.d_log ')), JSON.stringify(r.json.diff))
  assert.equal(r.json.dropped, true)
})
