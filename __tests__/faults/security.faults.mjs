// Security: a canary password never appears in stdout, stderr, a report or a JS error object;
// hostile configured identifiers are quoted; `create` and `--dir` write nowhere but the
// migrations folder. (TLS: verify-full with a test CA, a wrong host, require without TLS on the
// server are in __tests__/tls.test.mjs.)
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { inspect } from 'node:util'
import path from 'node:path'
import { godwit, tmpDir, ROOT } from '../helpers.mjs'
import { project, sql, V } from '../project.mjs'
import { freshDatabase, query, server, stopServer } from '../db.mjs'
import { recordFigures } from './lib.mjs'

const api = createRequire(import.meta.url)(ROOT)
after(stopServer)

const CANARY = 'Canary-Pw-9f3!x@y:z/%'
const figures = { canaryCommands: 0, canaryErrorObjects: 0, identifierCases: 0, traversalNames: 0 }
after(() => recordFigures('security', figures))

function filesUnder(dir) {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true }).map((f) => path.join(dir, f)).filter((f) => statSync(f).isFile())
}

function assertNoCanary(where, text) {
  for (const form of [CANARY, encodeURIComponent(CANARY), 'Canary-Pw']) {
    assert.ok(!String(text).includes(form), `${where} shows the password (${form})`)
  }
}

test('a_canary_password_never_appears_in_output_reports_or_error_objects', async (t) => {
  const url = await freshDatabase(t)
  const { url: serverUrl } = await server()
  const role = `godwit_canary_${process.pid}`
  await query(serverUrl, `CREATE ROLE ${role} LOGIN CREATEDB PASSWORD '${CANARY.replace(/'/g, "''")}'`)
  t.after(() => query(serverUrl, `DROP ROLE IF EXISTS ${role}`))
  const db = new URL(url).pathname.slice(1)
  await query(serverUrl, `ALTER DATABASE ${db} OWNER TO ${role}`)
  await query(url, `ALTER SCHEMA public OWNER TO ${role}`)
  t.after(() => query(url, `DROP OWNED BY ${role} CASCADE`).catch(() => {}))
  const good = new URL(url)
  good.username = role
  good.password = encodeURIComponent(CANARY)
  const wrongPassword = new URL(good)
  wrongPassword.password = encodeURIComponent(CANARY + 'x')
  const unreachable = `postgres://${role}:${encodeURIComponent(CANARY)}@127.0.0.1:1/${db}`
  const u = new URL(url)
  const pgEnv = { PGHOST: u.hostname, PGPORT: u.port, PGUSER: role, PGPASSWORD: CANARY, PGDATABASE: db }

  const cwd = await project(t, {
    [`${V(1)}_a.mjs`]: "export const up = 'CREATE TABLE a (id int)'\nexport const down = 'DROP TABLE a'\n",
  })
  const failing = await project(t, { [`${V(1)}_bad.mjs`]: sql('CREATE TABLE a (id int); SELECT 1/0') })
  const S = ['--sha', 'canary']
  const runs = [
    [cwd, ['up', ...S, '--json'], { DATABASE_URL: good.toString() }],
    [cwd, ['up', ...S], { DATABASE_URL: good.toString() }],
    [cwd, ['status', '--json'], { DATABASE_URL: good.toString() }],
    [cwd, ['status'], pgEnv],
    [cwd, ['down', ...S, '--json'], { DATABASE_URL: good.toString() }],
    [cwd, ['reset', ...S, '--json'], { DATABASE_URL: good.toString() }],
    [cwd, ['verify', ...S, '--json'], { DATABASE_URL: good.toString() }],
    [cwd, ['up', ...S, '--json'], pgEnv],
    [failing, ['up', ...S, '--json'], { DATABASE_URL: good.toString() }],
    [cwd, ['up', ...S, '--json'], { DATABASE_URL: wrongPassword.toString() }],
    [cwd, ['status', '--json'], { DATABASE_URL: wrongPassword.toString() }],
    [cwd, ['up', ...S, '--json'], { DATABASE_URL: unreachable }],
    [cwd, ['up', ...S], { ...pgEnv, PGPORT: '1' }],
    [cwd, ['up', ...S, '--json'], { DATABASE_URL: `${unreachable}?sslmode=verify-full&sslrootcert=/nonexistent.pem` }],
    [cwd, ['up', ...S, '--json'], { DATABASE_URL: `postgres://${role}:${encodeURIComponent(CANARY)}@[not a host/${db}` }],
    [cwd, ['check', '--json'], { DATABASE_URL: good.toString() }],
    [cwd, ['create', 'later', '--json'], { DATABASE_URL: good.toString() }],
  ]
  for (const [dir, args, env] of runs) {
    const r = await godwit(args, { cwd: dir, env })
    assertNoCanary(`${args.join(' ')} stdout`, r.stdout)
    assertNoCanary(`${args.join(' ')} stderr`, r.stderr)
    figures.canaryCommands++
  }
  for (const dir of [cwd, failing]) {
    const reports = filesUnder(path.join(dir, '.artifacts'))
    assert.ok(reports.length >= 1)
    for (const f of reports) assertNoCanary(f, readFileSync(f, 'utf8'))
  }

  // the JS API: every form an error object can be printed in
  const saved = { ...process.env }
  t.after(() => {
    for (const k of ['DATABASE_URL', ...Object.keys(pgEnv)]) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  })
  for (const env of [{ DATABASE_URL: unreachable }, { DATABASE_URL: wrongPassword.toString() }, { DATABASE_URL: `postgres://u:${encodeURIComponent(CANARY)}@[bad/db` }]) {
    Object.assign(process.env, env)
    let caught
    try {
      await api.status({ dir: path.join(cwd, 'db', 'migrations') })
    } catch (err) {
      caught = err
    }
    assert.ok(caught, 'status failed')
    for (const form of [caught.message, caught.stack, String(caught), JSON.stringify(caught), inspect(caught, { depth: 5, showHidden: true })]) {
      assertNoCanary(`error object (${caught.code})`, form)
    }
    const report = await api.up({ dir: path.join(cwd, 'db', 'migrations'), sha: 'canary-api', artifactsDir: path.join(cwd, '.artifacts', 'api') })
    assertNoCanary('up() report', JSON.stringify(report))
    figures.canaryErrorObjects++
  }
})

test('hostile_history_identifiers_are_quoted_everywhere', async (t) => {
  const cases = [
    ['we"ird sch ema', 'tä"ble; DROP TABLE a --'],
    ['public', "it's \"quoted\""],
    ['Ünïcödé', 'mígrations 🐦'],
  ]
  for (const [schema, table] of cases) {
    const url = await freshDatabase(t)
    const cwd = await project(t, {
      [`${V(1)}_a.mjs`]: "export const up = 'CREATE TABLE a (id int)'\nexport const down = 'DROP TABLE a'\n",
    })
    const env = { DATABASE_URL: url }
    const flags = ['--schema', schema, '--table', table]
    const first = await godwit(['up', '--sha', 'id', '--json', ...flags], { cwd, env })
    assert.equal(first.code, 0, first.stderr)
    const found = await query(url, 'SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = \'r\' AND c.relname = $1', [table])
    assert.deepEqual(found, [{ nspname: schema, relname: table }], 'the history table has exactly the configured name')
    assert.ok((await query(url, "SELECT 1 FROM pg_tables WHERE tablename = 'a'")).length === 1, 'nothing injected')
    const again = await godwit(['up', '--sha', 'id', '--json', ...flags], { cwd, env })
    assert.equal(again.json.outcome, 'nothing-to-do')
    assert.equal((await godwit(['status', ...flags], { cwd, env })).code, 0)
    assert.equal((await godwit(['down', '--sha', 'id', ...flags], { cwd, env })).code, 0)
    assert.equal((await godwit(['reset', '--sha', 'id', ...flags], { cwd, env })).code, 0)
    figures.identifierCases++
  }
})

test('create_names_and_dir_write_nowhere_but_the_migrations_folder', async (t) => {
  const root = tmpDir(t)
  const dir = path.join(root, 'project', 'db', 'migrations')
  const before = new Set(filesUnder(root))
  for (const name of ['../escape', 'a/b', '..', '/etc/passwd', 'x\\y', '.hidden', 'C:evil', ' spaced', '']) {
    const r = await godwit(['create', name, '--dir', dir], { cwd: root })
    assert.equal(r.code, 2, `${JSON.stringify(name)}: ${r.stdout}${r.stderr}`)
    figures.traversalNames++
  }
  // a NUL byte cannot travel in a process argument; through the JS API it can
  await assert.rejects(api.create('name\u0000nul', { dir }), { code: 'INVALID_NAME' })
  figures.traversalNames++
  assert.deepEqual(filesUnder(root).filter((f) => !before.has(f)), [], 'a refused name wrote nothing')
  const ok = await godwit(['create', 'fine', '--dir', dir], { cwd: root })
  assert.equal(ok.code, 0, ok.stderr)
  await godwit(['check', '--dir', dir], { cwd: root })
  const written = filesUnder(root).filter((f) => !before.has(f))
  assert.ok(written.length === 2 && written.every((f) => path.dirname(f) === dir), `wrote ${written}`)
  assert.ok(written.some((f) => /\d{13}_fine\.mjs$/.test(f)) && written.some((f) => f.endsWith('checksums.json')))
})
