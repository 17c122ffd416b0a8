// Many databases: `up --targets` / `status --targets` / `fleet-merge` through the real CLI on a
// real PostgreSQL (50 databases, 20 schemas, a signal mid-fleet, an unreachable target, shards),
// and the pure parts (targets files, shards, merging) on their own.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { godwit, CLI, cleanEnv, ROOT } from './helpers.mjs'
import { server, admin, query, stopServer } from './db.mjs'
import { project, sql } from './project.mjs'
import { validateReport } from './report-schema.mjs'

const require = createRequire(import.meta.url)
const { parseTargets, targetsFromRows, parseShard, shardOf, reach } = require('../lib/targets.js')
const { mergeFleets, summarize } = require('../lib/fleet.js')

after(() => stopServer())

const ajv = new Ajv2020({ allErrors: true, strict: true })
addFormats(ajv)
const validateFleet = ajv.compile(JSON.parse(readFileSync(path.join(ROOT, 'schema', 'fleet.schema.json'), 'utf8')))
function fleetDoc(file) {
  const doc = JSON.parse(readFileSync(file, 'utf8'))
  assert.ok(validateFleet(doc), ajv.errorsText(validateFleet.errors) + '\n' + JSON.stringify(doc, null, 2))
  return doc
}

/** `n` fresh databases on the test server, dropped after the test; their names. */
async function databases(t, n, prefix) {
  const { url } = await server()
  const tag = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 7)}`
  const names = Array.from({ length: n }, (_, i) => `${tag}_${String(i).padStart(2, '0')}`)
  const a = await admin(url)
  for (const name of names) await a.query(`CREATE DATABASE "${name}"`)
  await a.end()
  t.after(async () => {
    const c = await admin(url)
    for (const name of names) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await c.end()
  })
  return names
}

const on = (url, db) => {
  const u = new URL(url)
  u.pathname = `/${db}`
  return u.toString()
}

const THREE = {
  '1700000000001_one.mjs': sql('CREATE TABLE one (id bigint PRIMARY KEY)'),
  '1700000000002_two.mjs': sql('CREATE TABLE two (id bigint PRIMARY KEY)'),
  '1700000000003_three.mjs': sql('CREATE TABLE three (id bigint PRIMARY KEY)'),
}

test('targets files: both forms, every refusal names the file, the place and the fix', () => {
  assert.deepEqual(parseTargets('# tenants\nacme\nbeta database=beta_db\ngamma schema=tenant_gamma  # shared\ndelta urlEnv=DELTA_URL\n'), [
    { name: 'acme', database: 'acme' },
    { name: 'beta', database: 'beta_db' },
    { name: 'gamma', schema: 'tenant_gamma' },
    { name: 'delta', urlEnv: 'DELTA_URL' },
  ])
  assert.deepEqual(parseTargets('{ "targets": [{ "name": "a", "database": "a", "schema": "s" }] }'), [{ name: 'a', database: 'a', schema: 's' }])
  const refused = (text, re) => assert.throws(() => parseTargets(text, 'fleet.txt'), (e) => e.code === 'USAGE' && re.test(e.message) && e.message.startsWith('fleet.txt'))
  refused('[{ "name": "a", "url": "postgres://u:s3cret@h/d" }]', /target 1.*connection secret.*urlEnv/)
  refused('[{ "name": "a", "password": "x" }]', /connection secret/)
  refused('a\na', /listed twice/)
  refused('Bad_Name', /line 1.*target name/)
  refused('a urlEnv=A_URL database=x', /both urlEnv and database/)
  refused('a database=x;drop', /not a plain lowercase identifier/)
  refused('a schema', /line 1.*not key=value/)
  refused('[{ "name": "a", "colour": "red" }]', /unknown key `colour`/)
  refused('# nothing\n', /no targets/)
  refused('[1,', /not valid JSON/)
  assert.throws(() => targetsFromRows([{ name: 'a', extra: '1' }]), /unknown column\(s\) extra/)
  assert.deepEqual(targetsFromRows([{ name: 'a', database: 'a', schema: null, url_env: null }]), [{ name: 'a', database: 'a' }])
  // a schema target's search_path rides in the URL's options, percent-encoded, after any already there
  const r = reach({ name: 'g', schema: 'tenant_g' }, { DATABASE_URL: 'postgres://u:pw@h:5/app?sslmode=disable&options=-c%20lock_timeout%3D3s' })
  assert.equal(r.env.DATABASE_URL, 'postgres://u:pw@h:5/app?sslmode=disable&options=-c%20lock_timeout%3D3s%20-c%20search_path%3Dtenant_g%2Cpublic')
  assert.equal(r.onlySchema, 'tenant_g')
  assert.throws(() => reach({ name: 'd', urlEnv: 'D_URL' }, {}), (e) => e.code === 'CONFIG' && /D_URL/.test(e.message))
})

test('shards: 0/3, 1/3 and 2/3 cover every target exactly once, whatever the list order', () => {
  const names = Array.from({ length: 50 }, (_, i) => `t${i}`)
  const list = parseTargets(names.join('\n'))
  const shuffled = parseTargets([...names].reverse().join('\n'))
  const seen = []
  for (let i = 0; i < 3; i++) {
    const a = shardOf(list, { index: i, count: 3 }).map((t) => t.name)
    assert.deepEqual(a, shardOf(shuffled, { index: i, count: 3 }).map((t) => t.name))
    assert.ok(a.length >= 16 && a.length <= 17)
    seen.push(...a)
  }
  assert.deepEqual([...seen].sort(), [...names].sort())
  assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 })
  for (const bad of ['3/3', '1', '-1/3', '0/0', 'a/b']) assert.throws(() => parseShard(bad), (e) => e.code === 'USAGE' && /0 <= i < n/.test(e.message))
})

test('fleet-merge: every target once, a missing shard refused unless partial, a target in two shards refused', () => {
  const entry = (name, ok) => ({ name, connection: null, outcome: ok ? 'applied' : 'failed', ok, applied: ok ? 1 : 0, pending: 0, durationMs: 1, report: null })
  const shard = (index, entries) => summarize('up', entries, { startedAt: '2026-01-01T00:00:00.000Z', durationMs: 5, concurrency: 2, shard: { index, count: 3 }, sha: 's' })
  const docs = [['f0', shard(0, [entry('a', true)])], ['f1', shard(1, [entry('b', false)])], ['f2', shard(2, [entry('c', true)])]]
  const m = mergeFleets(docs)
  assert.deepEqual(m.targets.map((e) => e.name), ['a', 'b', 'c'])
  assert.equal(m.ok, false)
  assert.deepEqual(m.failed, ['b'])
  assert.deepEqual(m.counts, { targets: 3, ok: 2, failed: 1, notStarted: 0, applied: 2 })
  assert.throws(() => mergeFleets(docs.slice(0, 2)), /shard\(s\) 2\/3 missing/)
  assert.deepEqual(mergeFleets(docs.slice(0, 2), { expectShards: false }).missingShards, ['2/3'])
  assert.throws(() => mergeFleets([docs[0], ['again', shard(1, [entry('a', true)])]]), /target a is in both f0 and again/)
  assert.throws(() => mergeFleets([['x', { nope: true }]]), /not a godwit fleet summary/)
})

test('50 databases, one with a conflicting object: it fails alone, the summary and exit 8 say so, and the rerun after the fix applies only there', async (t) => {
  const { url } = await server()
  const cwd = await project(t, THREE)
  const dbs = await databases(t, 50, 'gwf')
  // the 17th already has a table the second migration creates
  await query(on(url, dbs[17]), 'CREATE TABLE two (x int)')
  writeFileSync(path.join(cwd, 'targets.txt'), dbs.map((d) => `${d.replaceAll('_', '-')} database=${d}`).join('\n') + '\n')
  const env = { DATABASE_URL: url }
  const args = ['up', '--targets', 'targets.txt', '--sha', 'rel1', '--allow-existing-schema', '--concurrency', '6']
  const first = await godwit(args, { cwd, env })
  assert.equal(first.code, 8, first.stdout + first.stderr)
  const bad = dbs[17].replaceAll('_', '-')
  assert.match(first.stderr, new RegExp(`failed: ${bad}`))
  const fleet = fleetDoc(path.join(cwd, '.artifacts', 'deploy', 'rel1', 'fleet.json'))
  assert.equal(fleet.ok, false)
  assert.deepEqual(fleet.failed, [bad])
  assert.deepEqual(fleet.counts, { targets: 50, ok: 49, failed: 1, notStarted: 0, applied: 49 * 3 + 1 })
  const failed = fleet.targets.find((e) => e.name === bad)
  assert.equal(failed.outcome, 'failed')
  assert.equal(failed.error.code, 'MIGRATION_FAILED')
  assert.match(failed.error.message, /two/)
  // each target's report is its own, and true to its database
  for (const e of fleet.targets) {
    const r = validateReport(JSON.parse(readFileSync(path.join(cwd, e.report), 'utf8')))
    assert.equal(r.target, e.name)
    const history = await query(on(url, e.database), "SELECT version FROM godwit_migrations WHERE status = 'applied' ORDER BY 1")
    assert.deepEqual(history.map((h) => h.version), r.migrations.filter((m) => m.state === 'applied').map((m) => m.version))
  }
  assert.deepEqual((await query(on(url, dbs[17]), "SELECT version FROM godwit_migrations WHERE status = 'applied'")).map((r) => r.version), ['1700000000001'])
  // status over the fleet: one behind, requires_migrations
  const st = await godwit(['status', '--targets', 'targets.txt', '--json'], { cwd, env })
  assert.equal(st.code, 1, st.stderr)
  assert.ok(validateFleet(st.json), ajv.errorsText(validateFleet.errors))
  assert.equal(st.json.requires_migrations, true)
  assert.deepEqual(st.json.behind, [bad])
  // the pipeline's outputs over the fleet; outputs that cannot be written fail the step (70, not 1)
  const outputs = path.join(cwd, 'fleet-outputs')
  const gh = await godwit(['status', '--targets', 'targets.txt', '--github-output'], { cwd, env: { ...env, GITHUB_OUTPUT: outputs } })
  assert.equal(gh.code, 1, gh.stderr)
  assert.equal(readFileSync(outputs, 'utf8'), 'requires_migrations=true\nclean=false\n')
  const lost = await godwit(['status', '--targets', 'targets.txt', '--github-output'], { cwd, env: { ...env, GITHUB_OUTPUT: path.join(cwd, 'no-such-folder', 'outputs') } })
  assert.equal(lost.code, 70, lost.stderr)
  assert.match(lost.stderr, /\[IO\] --github-output: appending the step outputs to \S*no-such-folder\/outputs \(GITHUB_OUTPUT\) failed \(ENOENT\)/)
  assert.match(lost.stderr, /50 target\(s\): 49 current, 1 behind/)
  // fixed by hand; the rerun applies only what is pending, only there
  await query(on(url, dbs[17]), 'DROP TABLE two')
  const again = await godwit(args, { cwd, env })
  assert.equal(again.code, 0, again.stderr)
  const fleet2 = fleetDoc(path.join(cwd, '.artifacts', 'deploy', 'rel1', 'fleet.json'))
  assert.equal(fleet2.ok, true)
  assert.equal(fleet2.counts.applied, 2)
  assert.deepEqual(fleet2.targets.filter((e) => e.applied).map((e) => [e.name, e.applied]), [[bad, 2]])
  assert.ok(fleet2.targets.every((e) => e.name === bad || e.outcome === 'nothing-to-do'))
  const clean = await godwit(['status', '--targets', 'targets.txt'], { cwd, env })
  assert.equal(clean.code, 0, clean.stderr)
  assert.match(clean.stderr, /50 current, 0 behind.*requires_migrations=false/)
})

test('20 schemas in one database (schema-per-tenant): each its own history, lock and tables; the other tenants do not trip the guard', async (t) => {
  const { url } = await server()
  const cwd = await project(t, THREE)
  const [db] = await databases(t, 1, 'gws')
  const tenants = Array.from({ length: 20 }, (_, i) => ({ name: `tenant-${i}`, database: db, schema: `tenant_${i}` }))
  writeFileSync(path.join(cwd, 'tenants.json'), JSON.stringify({ targets: tenants }, null, 2))
  const r = await godwit(['up', '--targets', 'tenants.json', '--sha', 's', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.json.counts.applied, 60)
  const rows = await query(on(url, db), "SELECT schemaname, count(*)::int AS n FROM pg_tables WHERE schemaname LIKE 'tenant\\_%' GROUP BY 1 ORDER BY 1")
  assert.equal(rows.length, 20)
  assert.ok(rows.every((x) => x.n === 4), JSON.stringify(rows)) // three tables and the history
  assert.deepEqual(await query(on(url, db), "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), [])
  const history = await query(on(url, db), 'SELECT count(*)::int AS n FROM tenant_7.godwit_migrations')
  assert.equal(history[0].n, 3)
  const st = await godwit(['status', '--targets', 'tenants.json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(st.code, 0, st.stderr)
})

test('a fleet summary that cannot be written: the targets stay migrated, the summary is printed, exit 70 (and the API returns it)', async (t) => {
  // before: every target migrated, then `up --targets` died on fleet.json with Node's own error
  // and the summary (which target applied what) was lost; upTargets() rejected after the fact
  const { url } = await server()
  const cwd = await project(t, THREE)
  const dbs = await databases(t, 2, 'gwn')
  writeFileSync(path.join(cwd, 'targets.txt'), dbs.join('\n') + '\n')
  // fleet.json's place taken by a folder: the targets' own reports (beside it) still write
  mkdirSync(path.join(cwd, '.artifacts', 'deploy', 'nw', 'fleet.json'), { recursive: true })
  const r = await godwit(['up', '--targets', 'targets.txt', '--sha', 'nw'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 70, r.stderr)
  assert.match(r.stderr, /up: 2 of 2 target\(s\) ok, 6 migration\(s\) applied/)
  assert.match(r.stderr, /up: \[REPORT_NOT_WRITTEN\] the report could not be written: \S*fleet\.json: Is a directory/)
  const printed = JSON.parse(r.stdout)
  assert.equal(printed.fleetPath, null)
  assert.ok(validateFleet(printed), ajv.errorsText(validateFleet.errors))
  assert.deepEqual(printed.targets.map((e) => [e.outcome, e.applied]), [['applied', 3], ['applied', 3]])
  for (const e of printed.targets) assert.ok(existsSync(path.resolve(cwd, e.report)), `${e.name}'s own report is written`)
  for (const db of dbs) assert.equal((await query(on(url, db), 'SELECT count(*)::int AS n FROM godwit_migrations'))[0].n, 3)
  const api = require('../index.js')
  const again = await api.upTargets(dbs.map((d) => ({ name: d.replaceAll('_', '-'), database: d })), { env: { DATABASE_URL: url }, up: { dir: path.join(cwd, 'db', 'migrations') }, sha: 'nw', artifactsDir: path.join(cwd, '.artifacts', 'deploy') })
  assert.equal(again.ok, true)
  assert.equal(again.fleetPath, null)
  assert.match(again.reportError, /fleet\.json: Is a directory/)
})

test('an unreachable target fails alone; no password is printed or written anywhere', async (t) => {
  const { url } = await server()
  const cwd = await project(t, THREE)
  const dbs = await databases(t, 3, 'gwu')
  const secret = 'n0t-for-logs-7731'
  writeFileSync(path.join(cwd, 'targets.txt'), `${dbs.map((d) => `${d.replaceAll('_', '-')} database=${d}`).join('\n')}\ngone urlEnv=GONE_URL\n`)
  const env = { DATABASE_URL: url, GONE_URL: `postgres://app:${secret}@127.0.0.1:1/gone` }
  const r = await godwit(['up', '--targets', 'targets.txt', '--sha', 's', '--json'], { cwd, env })
  assert.equal(r.code, 8, r.stderr)
  assert.deepEqual(r.json.failed, ['gone'])
  const gone = r.json.targets.find((e) => e.name === 'gone')
  assert.equal(gone.error.code, 'CONNECT_FAILED')
  assert.equal(r.json.counts.applied, 9)
  const files = readdirSync(path.join(cwd, '.artifacts'), { recursive: true }).map((f) => path.join(cwd, '.artifacts', f)).filter((f) => f.endsWith('.json'))
  for (const text of [r.stdout, r.stderr, ...files.map((f) => readFileSync(f, 'utf8'))]) assert.ok(!text.includes(secret))
  const st = await godwit(['status', '--targets', 'targets.txt'], { cwd, env })
  assert.equal(st.code, 8, st.stderr)
  assert.ok(!(st.stdout + st.stderr).includes(secret))
})

test('a target whose role may not create the history table fails alone with the grant to run; after it, the rerun applies there', async (t) => {
  const { url } = await server()
  const cwd = await project(t, THREE)
  const dbs = await databases(t, 3, 'gwp')
  const role = `gw_weak_${process.pid}`
  const secret = 'weak-role-pw-5521'
  const a = await admin(url)
  await a.query(`CREATE ROLE ${role} LOGIN PASSWORD '${secret}'`)
  await a.query(`GRANT CONNECT ON DATABASE "${dbs[1]}" TO ${role}`)
  await a.end()
  t.after(async () => {
    await query(on(url, dbs[1]), `DROP OWNED BY ${role}`).catch(() => {})
    const c = await admin(url)
    await c.query(`DROP ROLE IF EXISTS ${role}`)
    await c.end()
  })
  // PostgreSQL 15 and later revoke this already; 13 and 14 grant it to everyone
  await query(on(url, dbs[1]), 'REVOKE CREATE ON SCHEMA public FROM PUBLIC')
  const weak = new URL(on(url, dbs[1]))
  weak.username = role
  weak.password = secret
  writeFileSync(path.join(cwd, 'targets.txt'), `${dbs[0]}\nweak urlEnv=WEAK_URL\n${dbs[2]}\n`)
  const env = { DATABASE_URL: url, WEAK_URL: weak.toString() }
  const r = await godwit(['up', '--targets', 'targets.txt', '--sha', 'p', '--json'], { cwd, env })
  assert.equal(r.code, 8, r.stderr)
  assert.deepEqual(r.json.failed, ['weak'])
  const entry = r.json.targets.find((e) => e.name === 'weak')
  assert.equal(entry.error.code, 'INSUFFICIENT_PRIVILEGE')
  assert.match(entry.error.message, new RegExp(`GRANT CREATE ON SCHEMA "public" TO "${role}"`))
  assert.equal(r.json.counts.applied, 6)
  const files = readdirSync(path.join(cwd, '.artifacts'), { recursive: true }).map((f) => path.join(cwd, '.artifacts', f)).filter((f) => f.endsWith('.json'))
  for (const text of [r.stdout, r.stderr, ...files.map((f) => readFileSync(f, 'utf8'))]) assert.ok(!text.includes(secret))
  // nothing half-made where it failed
  assert.deepEqual(await query(on(url, dbs[1]), "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), [])
  await query(on(url, dbs[1]), `GRANT CREATE ON SCHEMA public TO ${role}`)
  const again = await godwit(['up', '--targets', 'targets.txt', '--sha', 'p2', '--json'], { cwd, env })
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(again.json.targets.map((e) => [e.name, e.applied]), [[dbs[0], 0], ['weak', 3], [dbs[2], 0]])
})

test('fail-fast and canary: nothing more starts after a failure (fail-fast) or after a failed first wave (canary)', async (t) => {
  const { url } = await server()
  const cwd = await project(t, THREE)
  const dbs = await databases(t, 4, 'gwc')
  await query(on(url, dbs[0]), 'CREATE TABLE one (x int)')
  writeFileSync(path.join(cwd, 'targets.txt'), dbs.map((d) => `${d.replaceAll('_', '-')} database=${d}`).join('\n'))
  const env = { DATABASE_URL: url }
  const canary = await godwit(['up', '--targets', 'targets.txt', '--sha', 'c', '--canary', '1', '--allow-existing-schema', '--json'], { cwd, env })
  assert.equal(canary.code, 8, canary.stderr)
  assert.deepEqual(canary.json.targets.map((e) => e.skipped ?? e.outcome), ['failed', 'canary', 'canary', 'canary'])
  assert.equal(canary.json.counts.notStarted, 3)
  assert.deepEqual(await query(on(url, dbs[1]), "SELECT 1 FROM pg_tables WHERE tablename = 'godwit_migrations'"), [])
  const ff = await godwit(['up', '--targets', 'targets.txt', '--sha', 'f', '--fail-fast', '--concurrency', '1', '--allow-existing-schema', '--json'], { cwd, env })
  assert.equal(ff.code, 8)
  assert.deepEqual(ff.json.targets.map((e) => e.skipped ?? e.outcome), ['failed', 'fail-fast', 'fail-fast', 'fail-fast'])
  // without either, every target is tried
  const all = await godwit(['up', '--targets', 'targets.txt', '--sha', 'a', '--allow-existing-schema', '--json'], { cwd, env })
  assert.deepEqual(all.json.targets.map((e) => e.outcome), ['failed', 'applied', 'applied', 'applied'])
  const usage = await godwit(['up', '--canary', '1'], { cwd, env })
  assert.equal(usage.code, 2)
  assert.match(usage.stderr, /--canary applies to a fleet: add --targets/)
})

test('the fleet budget: each target gets what is left (whole seconds); one that would start with less than a second left does not start (budget)', async (t) => {
  const { url } = await server()
  // a 5 s fleet, every target sleeping 2.5 s: the first has 4 s and is applied; the second starts
  // with what is left (2 s, or 1) and runs out; the third would have less than a second: not started
  const cwd = await project(t, { '1700000000001_slow.mjs': sql('SELECT pg_sleep(2.5)') })
  const dbs = await databases(t, 3, 'gwb')
  writeFileSync(path.join(cwd, 'targets.txt'), dbs.join('\n'))
  const r = await godwit(['up', '--targets', 'targets.txt', '--sha', 'b', '--concurrency', '1', '--json'], { cwd, env: { DATABASE_URL: url, MIGRATION_TIMEOUT_SECONDS: '5' } })
  assert.equal(r.code, 8, r.stderr)
  assert.equal(r.json.budgetSeconds, 5)
  assert.deepEqual(r.json.targets.map((e) => e.skipped ?? e.outcome), ['applied', 'budget-exhausted', 'budget'])
  assert.equal(r.json.counts.notStarted, 1)
  // the summary says why one did not start
  assert.match(r.stderr, /not started: 1 \(1 because less than a second of the fleet budget \(MIGRATION_TIMEOUT_SECONDS\) was left\)/)
  // the one that ran out rolled back; the one not started was not touched
  assert.deepEqual(await query(on(url, dbs[1]), "SELECT count(*)::int AS n FROM godwit_migrations WHERE status = 'applied'"), [{ n: 0 }])
  assert.deepEqual(await query(on(url, dbs[2]), "SELECT 1 FROM pg_tables WHERE tablename = 'godwit_migrations'"), [])
  fleetDoc(path.join(cwd, '.artifacts', 'deploy', 'b', 'fleet.json'))
})

test('shards of an Indexed Job: each pod its slice, fleet-merge puts them together with every target once', async (t) => {
  const { url } = await server()
  const cwd = await project(t, THREE)
  const dbs = await databases(t, 7, 'gwh')
  writeFileSync(path.join(cwd, 'targets.txt'), dbs.map((d) => `${d.replaceAll('_', '-')} database=${d}`).join('\n'))
  const files = []
  for (let i = 0; i < 3; i++) {
    const r = await godwit(['up', '--targets', 'targets.txt', '--shard', `${i}/3`, '--sha', 'k'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(r.code, 0, r.stderr)
    files.push(path.join(cwd, '.artifacts', 'deploy', 'k', `fleet-${i}-of-3.json`))
    assert.equal(fleetDoc(files[i]).shard.index, i)
  }
  const out = path.join(cwd, 'merged.json')
  const m = await godwit(['fleet-merge', ...files, '--out', out], { cwd })
  assert.equal(m.code, 0, m.stderr)
  const merged = fleetDoc(out)
  assert.deepEqual(merged.targets.map((e) => e.database).sort(), [...dbs].sort())
  assert.equal(merged.counts.applied, 21)
  const partial = await godwit(['fleet-merge', files[0], files[2]], { cwd })
  assert.equal(partial.code, 2)
  assert.match(partial.stderr, /shard\(s\) 1\/3 missing/)
  // --targets-query lists the same targets from the server's catalog
  const q = await godwit(['status', '--targets-query', `SELECT replace(datname, '_', '-') AS name, datname AS database FROM pg_database WHERE datname LIKE '${dbs[0].slice(0, -3)}%' ORDER BY 1`, '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(q.code, 0, q.stderr)
  assert.equal(q.json.counts.targets, 7)
  const write = await godwit(['status', '--targets-query', 'CREATE TABLE nope (x int)'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(write.code, 2)
  assert.match(write.stderr, /read-only/)
})

test('SIGTERM mid-fleet: running targets roll back, no new one starts, exit 6, and every report is true', async (t) => {
  const { url } = await server()
  const cwd = await project(t, {
    '1700000000001_one.mjs': sql('CREATE TABLE one (id bigint PRIMARY KEY)'),
    '1700000000002_slow.mjs': sql('CREATE TABLE slow (id bigint PRIMARY KEY); SELECT pg_sleep(3)'),
  })
  const dbs = await databases(t, 6, 'gwk')
  writeFileSync(path.join(cwd, 'targets.txt'), dbs.map((d) => `${d.replaceAll('_', '-')} database=${d}`).join('\n'))
  const child = spawn(process.execPath, [CLI, 'up', '--targets', 'targets.txt', '--sha', 'sig', '--concurrency', '2'], { cwd, env: cleanEnv({ DATABASE_URL: url }) })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  // both first targets are in their slow migration by then
  await new Promise((r) => setTimeout(r, 1800))
  child.kill('SIGTERM')
  const code = await new Promise((r) => child.on('close', r))
  assert.equal(code, 6, stderr)
  const fleet = fleetDoc(path.join(cwd, '.artifacts', 'deploy', 'sig', 'fleet.json'))
  assert.equal(fleet.interrupted, 'SIGTERM')
  const started = fleet.targets.filter((e) => e.outcome !== 'not-started')
  assert.ok(started.length >= 2 && started.length < 6, JSON.stringify(fleet.targets))
  assert.ok(fleet.targets.filter((e) => e.outcome === 'not-started').every((e) => e.skipped === 'interrupted'))
  for (const e of fleet.targets) {
    const db = on(url, e.database)
    const tables = (await query(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.tablename)
    if (e.outcome === 'not-started') {
      assert.deepEqual(tables, [])
      continue
    }
    const r = validateReport(JSON.parse(readFileSync(path.join(cwd, e.report), 'utf8')))
    assert.equal(r.outcome, 'interrupted')
    // whole: the slow migration is absent with its table, the first one present with its row
    assert.ok(!tables.includes('slow'), tables.join())
    const applied = (await query(db, "SELECT version FROM godwit_migrations WHERE status = 'applied' ORDER BY 1")).map((x) => x.version)
    assert.deepEqual(applied, r.migrations.filter((m) => m.state === 'applied').map((m) => m.version))
    assert.equal(r.migrations.find((m) => m.version === '1700000000002').state, 'cancelled')
  }
  assert.ok(existsSync(path.join(cwd, '.artifacts', 'deploy', 'sig', 'fleet.json')))
})

test('a fleet renders each module once, even when its first targets start together', async (t) => {
  const { url } = await server()
  // a module that is not a literal (so it is imported) and counts its imports in a file beside it
  const counting = "import { appendFileSync } from 'node:fs'\nappendFileSync(new URL('../../renders.log', import.meta.url), 'x')\nexport const up = () => 'CREATE TABLE counted (id bigint PRIMARY KEY)'\n"
  const cwd = await project(t, { '1700000000001_counted.mjs': counting })
  const log = path.join(cwd, 'renders.log')
  const before = existsSync(log) ? readFileSync(log, 'utf8').length : 0
  const dbs = await databases(t, 6, 'gwr')
  writeFileSync(path.join(cwd, 'targets.txt'), dbs.join('\n'))
  const r = await godwit(['up', '--targets', 'targets.txt', '--sha', 'r', '--concurrency', '4', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.json.counts.applied, 6)
  assert.equal(readFileSync(log, 'utf8').length - before, 1, 'rendered once for six targets, four of them started at once')
})

test('the JS API: upTargets and statusTargets take the targets themselves and resolve to the summary', async (t) => {
  const { url } = await server()
  const cwd = await project(t, THREE)
  const dbs = await databases(t, 2, 'gwa')
  const api = require('../index.js')
  const targets = dbs.map((d) => ({ name: d.replaceAll('_', '-'), database: d }))
  const dir = path.join(cwd, 'db', 'migrations')
  const seen = []
  const up = await api.upTargets(targets, { env: { DATABASE_URL: url }, up: { dir }, sha: 'api', artifactsDir: path.join(cwd, 'out'), onTarget: (e) => seen.push(e.name) })
  assert.equal(up.ok, true, JSON.stringify(up))
  assert.equal(up.counts.applied, 6)
  assert.deepEqual(seen.sort(), targets.map((x) => x.name).sort())
  assert.equal(up.fleetPath, path.join(cwd, 'out', 'api', 'fleet.json'))
  fleetDoc(up.fleetPath)
  const st = await api.statusTargets(targets, { env: { DATABASE_URL: url }, status: { dir } })
  assert.equal(st.requires_migrations, false)
  assert.deepEqual(st.targets.map((e) => e.outcome), ['current', 'current'])
  await assert.rejects(api.upTargets([{ name: 'x', url: 'postgres://a:b@c/d' }]), (e) => e.code === 'USAGE' && /urlEnv/.test(e.message))
  // the list from a table: queryTargets, read-only, each row checked like a targets file's
  const listed = await api.queryTargets(`SELECT replace(datname, '_', '-') AS name, datname AS database FROM pg_database WHERE datname = ANY($$${'{'}${dbs.join(',')}${'}'}$$) ORDER BY 1`, { env: { DATABASE_URL: url }, dir })
  assert.deepEqual(listed, targets)
  await assert.rejects(api.queryTargets('CREATE TABLE nope (x int)', { env: { DATABASE_URL: url }, dir }), (e) => /read-only/.test(e.message))
  await assert.rejects(api.queryTargets("SELECT 'a b' AS name", { env: { DATABASE_URL: url }, dir }), (e) => e.code === 'USAGE')
  // an API at start-up under NODE_ENV=production is refused, as up() is
  const was = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  try {
    await assert.rejects(api.upTargets(targets, { env: { DATABASE_URL: url } }), (e) => e.code === 'NOT_MIGRATION_JOB' && /upTargets\(\)/.test(e.message))
  } finally {
    if (was === undefined) delete process.env.NODE_ENV
    else process.env.NODE_ENV = was
  }
})
