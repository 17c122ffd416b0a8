// Hostile input: file names, ledger tampering, misbehaving modules, SQL errors, history tampering.
// Each case: the documented exit code, a message naming the file and the rule or cause, and the
// database exactly as before (schema fingerprint and every history row). File, ledger and module
// cases share one database, so anything one of them left behind would show in the next.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { godwit, tmpDir, ROOT } from '../helpers.mjs'
import { project, sql, V } from '../project.mjs'
import { freshDatabase, query, stopServer } from '../db.mjs'
import { recordFigures } from './lib.mjs'

const api = createRequire(import.meta.url)(ROOT)

const BASE = {
  [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)'),
  [`${V(2)}_b.mjs`]: sql('CREATE TABLE b (id int)'),
}
const NEW = `${V(3)}_c.mjs`
const FT = ['--module-timeout', '1000']
const figures = { cases: 0, byFamily: {} }

/** The schema fingerprint and every history row: what "the database exactly as before" means. */
async function snapshot(url) {
  const saved = process.env.DATABASE_URL
  process.env.DATABASE_URL = url
  try {
    const fp = await api.fingerprint({})
    const hist = await query(url, 'SELECT id, version, name, checksum, sql_checksum, status, reverted_by_command FROM godwit_migrations ORDER BY id').catch(() => null)
    return JSON.stringify({ fp: fp.hash, lines: fp.lines, hist })
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL
    else process.env.DATABASE_URL = saved
  }
}

/** One database with BASE applied and a sealed project to copy, for the file, ledger, module and
 * SQL cases; cleaned up when the file's tests end. */
const shared = {}
const cleanups = []
before(async () => {
  const fileScope = { after: (fn) => cleanups.push(fn) }
  shared.url = await freshDatabase(fileScope)
  shared.template = await project(fileScope, BASE)
  const r = await godwit(['up', '--sha', 'base'], { cwd: shared.template, env: { DATABASE_URL: shared.url } })
  assert.equal(r.code, 0, r.stderr)
  shared.before = await snapshot(shared.url)
})
after(async () => {
  for (const fn of cleanups.reverse()) await fn()
  await stopServer() // last: the cleanups above need the server
})
const sharedSetup = async () => shared

/** A copy of the sealed project; `arrange(dir)` makes it hostile. */
function copyProject(t, template) {
  const cwd = tmpDir(t)
  cpSync(template, cwd, { recursive: true })
  rmSync(path.join(cwd, '.artifacts'), { recursive: true, force: true })
  return { cwd, dir: path.join(cwd, 'db', 'migrations') }
}

const ledgerOf = (dir) => JSON.parse(readFileSync(path.join(dir, 'checksums.json'), 'utf8'))
const writeLedger = (dir, l) => writeFileSync(path.join(dir, 'checksums.json'), JSON.stringify(l, null, 2) + '\n')
/** Adds `NEW` with this source, sealed into the ledger (so only its content is hostile). */
async function addSealed(cwd, dir, source) {
  writeFileSync(path.join(dir, NEW), source)
  const sealed = await godwit(['check', '--module-timeout', '1000'], { cwd })
  assert.ok(ledgerOf(dir).migrations[NEW], `sealing failed: ${sealed.stdout}${sealed.stderr}`)
}

function outside(t) {
  const d = tmpDir(t, 'godwit-outside-')
  writeFileSync(path.join(d, 'evil.mjs'), sql('DROP TABLE a'))
  return d
}

// [family, name, arrange(cwd, dir, t), check rule expected (frozen check exits 1), up exit code, message pattern for up]
const FILES = [
  ['filename', 'upper-case name', (c, d) => writeFileSync(path.join(d, `${V(3)}_AddUsers.mjs`), sql('SELECT 1')), 'filename-contract', 4, /AddUsers.*filename-contract/s],
  ['filename', 'twelve-digit version', (c, d) => writeFileSync(path.join(d, '170000000003_x.mjs'), sql('SELECT 1')), 'filename-contract', 4, /170000000003_x\.mjs.*12 digits/s],
  ['filename', 'fourteen-digit version', (c, d) => writeFileSync(path.join(d, '17000000000003_x.mjs'), sql('SELECT 1')), 'filename-contract', 4, /14 digits/],
  ['filename', 'hyphen for underscore', (c, d) => writeFileSync(path.join(d, `${V(3)}-x.mjs`), sql('SELECT 1')), 'filename-contract', 4, /-x\.mjs/],
  ['filename', '.js extension', (c, d) => writeFileSync(path.join(d, `${V(3)}_x.js`), sql('SELECT 1')), 'filename-contract', 4, /\.js`; migrations are `\.mjs` files only/],
  ['filename', '.sql extension', (c, d) => writeFileSync(path.join(d, `${V(3)}_x.sql`), 'SELECT 1'), 'filename-contract', 4, /\.sql/],
  ['filename', 'editor backup', (c, d) => writeFileSync(path.join(d, `${V(3)}_x.mjs~`), sql('SELECT 1')), 'filename-contract', 4, /mjs~/],
  ['filename', 'hidden file', (c, d) => writeFileSync(path.join(d, `.${V(3)}_x.mjs`), sql('SELECT 1')), 'filename-contract', 4, /filename-contract/],
  ['filename', 'space in the name', (c, d) => writeFileSync(path.join(d, `${V(3)}_a b.mjs`), sql('SELECT 1')), 'filename-contract', 4, /a b\.mjs/],
  ['filename', 'unicode in the name', (c, d) => writeFileSync(path.join(d, `${V(3)}_ünï.mjs`), sql('SELECT 1')), 'filename-contract', 4, /ünï/],
  ['filename', 'newline in the name', (c, d) => writeFileSync(path.join(d, `${V(3)}_a\nb.mjs`), sql('SELECT 1')), 'filename-contract', 4, /filename-contract/],
  ['filename', 'folder named like a migration', (c, d) => mkdirSync(path.join(d, `${V(3)}_dir.mjs`)), 'not-a-regular-file', 4, /is a folder/],
  ['filename', 'symlink to a file outside', (c, d, t) => symlinkSync(path.join(outside(t), 'evil.mjs'), path.join(d, `${V(3)}_evil.mjs`)), 'not-a-regular-file', 4, /symbolic link/],
  ['filename', 'symlink to a folder', (c, d, t) => symlinkSync(outside(t), path.join(d, `${V(3)}_evil.mjs`)), 'not-a-regular-file', 4, /symbolic link/],
  ['filename', 'duplicate version', async (c, d) => { writeFileSync(path.join(d, `${V(2)}_other.mjs`), sql('SELECT 1')) }, 'duplicate-version', 4, /duplicate-version/],
  ['filename', 'file not UTF-8', async (c, d) => {
    await addSealed(c, d, sql('SELECT 1'))
    writeFileSync(path.join(d, NEW), Buffer.concat([Buffer.from("export const up = 'SELECT ''caf"), Buffer.from([0xe9]), Buffer.from("'''\n")]))
    const l = ledgerOf(d)
    const { createHash } = await import('node:crypto')
    l.migrations[NEW] = createHash('sha256').update(readFileSync(path.join(d, NEW))).digest('hex')
    writeLedger(d, l)
  }, 'file-encoding', 4, /c\.mjs: is not valid UTF-8 \(the first bad byte is at offset 31\)/],
]

const LEDGER = [
  ['ledger', 'edited hash', (c, d) => { const l = ledgerOf(d); l.migrations[`${V(2)}_b.mjs`] = '0'.repeat(64); writeLedger(d, l) }, 'ledger-mismatch', 4, new RegExp(`${V(2)}_b\\.mjs.*ledger-mismatch`, 's')],
  ['ledger', 'hashes of two files swapped', (c, d) => { const l = ledgerOf(d); const [x, y] = [`${V(1)}_a.mjs`, `${V(2)}_b.mjs`]; [l.migrations[x], l.migrations[y]] = [l.migrations[y], l.migrations[x]]; writeLedger(d, l) }, 'ledger-mismatch', 4, /ledger-mismatch/],
  ['ledger', 'truncated', (c, d) => { const p = path.join(d, 'checksums.json'); const s = readFileSync(p, 'utf8'); writeFileSync(p, s.slice(0, s.length / 2)) }, 'ledger-corrupt', 4, /ledger is not valid/],
  ['ledger', 'hash of the wrong type', (c, d) => { const l = ledgerOf(d); l.migrations[`${V(1)}_a.mjs`] = 42; writeLedger(d, l) }, 'ledger-corrupt', 4, /ledger-corrupt/],
  ['ledger', 'duplicate keys', (c, d) => { const p = path.join(d, 'checksums.json'); const s = readFileSync(p, 'utf8'); const line = s.split('\n').find((x) => x.includes(`${V(1)}_a.mjs`)); writeFileSync(p, s.replace(line, `${line.replace(/,?$/, ',')}\n${line.replace(/,?$/, ',')}`)) }, 'ledger-corrupt', 4, /duplicate entry/],
  ['ledger', '10 MB ledger', (c, d) => { const l = ledgerOf(d); l.padding = 'x'.repeat(10 * 1024 * 1024); writeLedger(d, l) }, 'ledger-corrupt', 4, /unknown field `padding`/],
  ['ledger', 'unknown format', (c, d) => { const l = ledgerOf(d); l.format = 99; writeLedger(d, l) }, 'ledger-format', 4, /format 99/],
  ['ledger', 'a folder instead', (c, d) => { rmSync(path.join(d, 'checksums.json')); mkdirSync(path.join(d, 'checksums.json')) }, 'ledger-corrupt', 4, /not a regular file/],
  ['ledger', 'binary garbage', (c, d) => writeFileSync(path.join(d, 'checksums.json'), Buffer.from([0xff, 0xfe, 0, 1, 2, 3])), 'ledger-corrupt', 4, /not UTF-8/],
  ['ledger', 'deleted', (c, d) => rmSync(path.join(d, 'checksums.json')), 'ledger-missing', 4, /there are migrations but no checksums\.json \(ledger-missing\)/],
  ['ledger', 'entry without a file', (c, d) => { const l = ledgerOf(d); l.migrations[`${V(9)}_ghost.mjs`] = 'a'.repeat(64); writeLedger(d, l) }, 'ledger-orphan-entry', 4, /ghost\.mjs.*no file/s],
]

const MODULES = [
  ['module', 'syntax error', 'export const up = \'SELECT 1\n', 'module-import', /cannot be imported: SyntaxError/],
  ['module', 'throws at import', "throw new Error('no config here')\nexport const up = 'SELECT 1'\n", 'module-import', /no config here/],
  ['module', '`up()` throws', "export const up = () => { throw new Error('nope') }\n", 'module-export', /`up\(\)` threw: nope/],
  ['module', 'never settles', 'export const up = () => new Promise(() => {})\n', 'module-timeout', /within 1000 ms/],
  ['module', 'infinite loop', 'while (true) {}\nexport const up = \'SELECT 1\'\n', 'module-timeout', /within 1000 ms/],
  ['module', 'returns a number', 'export const up = () => 42\n', 'module-export', /returned a number/],
  ['module', 'returns an object', "export const up = () => ({ sql: 'SELECT 1' })\n", 'module-export', /returned an object/],
  ['module', 'exports a promise', "export const up = Promise.resolve('SELECT 1')\n", 'module-export', /is an object/],
  ['module', 'process.exit at import', 'process.exit(3)\nexport const up = \'SELECT 1\'\n', 'module-import', /crashed its loader/],
  ['module', 'imports a missing module', "import x from './nope.mjs'\nexport const up = x\n", 'module-import', /nope\.mjs/],
  ['module', 'misspelt export', "export const up = 'SELECT 1'\nexport const donw = 'SELECT 2'\n", 'module-export', /`donw`/],
  ['module', 'unknown config key', "export const up = 'SELECT 1'\nexport const config = { transation: false }\n", 'module-config', /transation/],
  ['module', 'config of the wrong type', "export const up = 'SELECT 1'\nexport const config = { transaction: 'no' }\n", 'module-config', /transaction/],
  ['module', '10 MB of SQL with a syntax error at its end', `export const up = ${JSON.stringify('SELECT 1;\n'.repeat(1_000_000) + 'SELEC 2;\n')}\n`, 'sql-syntax', /does not parse/],
  ['module', 'NUL character in the SQL', "export const up = 'SELECT 1;\\u0000'\n", 'sql-nul', /NUL character/],
  ['module', 'empty SQL', "export const up = '-- nothing'\n", 'sql-empty', /renders no SQL statement/],
  ['module', 'its own transaction control', "export const up = 'BEGIN; CREATE TABLE z (id int); COMMIT;'\n", 'transaction-control', /BEGIN/],
]

const SQL_ERRORS = [
  ['sql', 'runtime error on line 3', sql('CREATE TABLE c (id int);\nINSERT INTO c VALUES (1);\nINSERT INTO nope VALUES (1);'), { sqlstate: '42P01', line: 3, chunk: 0, statement: /INSERT INTO nope/ }],
  ['sql', 'runtime error in the second string, line 2', "export const up = ['CREATE TABLE c (id int)', 'INSERT INTO c VALUES (1);\\nINSERT INTO c VALUES (1, 2);']\n", { sqlstate: '42601', line: 2, chunk: 1, statement: /VALUES \(1, 2\)/ }],
  ['sql', '10 MB of SQL ending in a runtime error', `export const up = ${JSON.stringify('CREATE TABLE c (id int);\n' + 'SELECT 1;\n'.repeat(1_000_000) + 'SELECT * FROM nope;\n')}\n`, { sqlstate: '42P01', line: 1_000_002, chunk: 0, statement: /FROM nope/ }],
]

function record(family) {
  figures.cases++
  figures.byFamily[family] = (figures.byFamily[family] ?? 0) + 1
}

for (const [family, name, arrange, rule, upCode, upMessage] of [...FILES, ...LEDGER]) {
  test(`hostile ${family}: ${name}`, async (t) => {
    const { url, template, before: snap } = await sharedSetup()
    const { cwd, dir } = copyProject(t, template)
    await arrange(cwd, dir, t)
    const check = await godwit(['check', '--frozen', '--base', 'none', '--json', ...FT], { cwd })
    assert.equal(check.code, 1, check.stdout + check.stderr)
    assert.ok(check.json.violations.some((v) => v.rule === rule && v.message.length > 10 && v.hint.length > 10), `${rule} not among ${JSON.stringify(check.json.violations.map((v) => [v.file, v.rule]))}`)
    const up = await godwit(['up', '--sha', 'hostile', '--json', ...FT], { cwd, env: { DATABASE_URL: url } })
    assert.equal(up.code, upCode, up.stderr)
    assert.match(up.json.error.message, upMessage)
    assert.equal(await snapshot(url), snap, 'the database is exactly as before')
    record(family)
  })
}

for (const [family, name, source, rule, message] of MODULES) {
  test(`hostile ${family}: ${name}`, async (t) => {
    const { url, template, before: snap } = await sharedSetup()
    const { cwd, dir } = copyProject(t, template)
    await addSealed(cwd, dir, source)
    const check = await godwit(['check', '--frozen', '--base', 'none', '--json', ...FT], { cwd })
    assert.equal(check.code, 1, check.stdout + check.stderr)
    const found = check.json.violations.find((v) => v.file === NEW && v.rule === rule)
    assert.ok(found, `${rule} not among ${JSON.stringify(check.json.violations.map((v) => [v.file, v.rule]))}`)
    assert.match(found.message, message)
    const up = await godwit(['up', '--sha', 'hostile', '--json', ...FT], { cwd, env: { DATABASE_URL: url } })
    assert.equal(up.code, 2, up.stderr)
    assert.equal(up.json.error.code, 'MIGRATION_INVALID')
    assert.match(up.json.error.message, new RegExp(`${NEW.replace('.', '\\.')}: .*\\(${rule}\\); nothing was run`, 's'))
    assert.equal(await snapshot(url), snap, 'the database is exactly as before')
    record(family)
  })
}

for (const [family, name, source, want] of SQL_ERRORS) {
  test(`hostile ${family}: ${name}`, async (t) => {
    const { url, template, before: snap } = await sharedSetup()
    const { cwd, dir } = copyProject(t, template)
    await addSealed(cwd, dir, source)
    const up = await godwit(['up', '--sha', 'hostile', '--json'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(up.code, 5, up.stderr)
    const f = up.json.failure
    assert.equal(f.file, NEW)
    assert.equal(f.sqlstate, want.sqlstate)
    assert.equal(f.chunk, want.chunk)
    assert.equal(f.line, want.line)
    assert.match(f.statement, want.statement)
    assert.match(up.json.error.message, new RegExp(`${NEW.replace('.', '\\.')} failed: .*SQLSTATE ${want.sqlstate}.* at line ${want.line}`))
    assert.equal(await snapshot(url), snap, 'the database is exactly as before')
    record(family)
  })
}

// History tampering: each on its own database, tampered after BASE was applied; `up` must leave
// the tampered state exactly as it found it.
const HISTORY = [
  ['history', 'newest row deleted', `DELETE FROM godwit_migrations WHERE version = '${V(2)}'`, 5, /b\.mjs failed: relation "b" already exists/],
  ['history', 'an older row deleted', `DELETE FROM godwit_migrations WHERE version = '${V(1)}'`, 4, /out-of-order/],
  ['history', 'checksum changed', `UPDATE godwit_migrations SET checksum = repeat('0', 64) WHERE version = '${V(1)}'`, 4, /1700000000001_a\.mjs: applied, but the file has changed since \(changed\)/],
  // older than the newest file: no release has it (a newer version would be `ahead`, a newer
  // release's, which an older release replayed leaves alone)
  ['history', 'unknown version present', `INSERT INTO godwit_migrations (version, name, file, checksum, sql_checksum, status, transactional, execution_ms) VALUES ('${V(0)}', 'ghost', 'g.mjs', 'x', 'y', 'applied', true, 1)`, 4, /missing-file/],
  ['history', 'a row marked failed', `UPDATE godwit_migrations SET status = 'failed' WHERE version = '${V(2)}'`, 4, /failed part-way/],
  ['history', 'table of another shape', 'DROP TABLE godwit_migrations; CREATE TABLE godwit_migrations (version text PRIMARY KEY)', 4, /does not have the columns/],
]

for (const [family, name, tamper, code, message] of HISTORY) {
  test(`hostile ${family}: ${name}`, async (t) => {
    const url = await freshDatabase(t)
    const cwd = await project(t, BASE)
    assert.equal((await godwit(['up', '--sha', 'base'], { cwd, env: { DATABASE_URL: url } })).code, 0)
    await query(url, tamper)
    const before = await snapshot(url)
    const up = await godwit(['up', '--sha', 'hostile', '--json'], { cwd, env: { DATABASE_URL: url } })
    assert.equal(up.code, code, up.stderr)
    assert.match(up.json.error.message, message)
    assert.equal(await snapshot(url), before, 'the database is exactly as it was found')
    record(family)
  })
}

test('hostile history: the history table dropped while a migration runs', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { ...BASE, [NEW]: sql('CREATE TABLE c (id int); SELECT pg_sleep(2)') })
  assert.equal((await godwit(['up', '--sha', 'base'], { cwd: await project(t, BASE), env: { DATABASE_URL: url } })).code, 0)
  const run = godwit(['up', '--sha', 'hostile', '--json'], { cwd, env: { DATABASE_URL: url } })
  for (let i = 0; i < 200; i++) {
    const n = (await query(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid() AND datname = current_database()"))[0].n
    if (n) break
    await new Promise((r) => setTimeout(r, 25))
  }
  await query(url, 'DROP TABLE godwit_migrations')
  const up = await run
  assert.equal(up.code, 4, up.stderr)
  assert.equal(up.json.error.code, 'INTEGRITY')
  assert.match(up.json.error.message, new RegExp(`${NEW.replace('.', '\\.')} was rolled back because recording it in the history table .* failed: relation .* does not exist`))
  const tables = (await query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.tablename)
  assert.deepEqual(tables, ['a', 'b'], 'nothing of the running migration was committed')
  record('history')
})

test('there_are_at_least_40_hostile_cases', () => {
  const defined = FILES.length + LEDGER.length + MODULES.length + SQL_ERRORS.length + HISTORY.length + 1
  assert.ok(defined >= 40, `${defined} hostile cases`)
})

after(() => {
  if (figures.cases) recordFigures('hostile', figures)
})
