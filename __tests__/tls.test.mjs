// TLS against a real PostgreSQL with certificates from a CA this test generates (openssl), on a
// dedicated embedded server (the test changes its ssl settings). sslmode meanings follow libpq.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, readFileSync, chmodSync, chownSync, statSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { godwit, CLI, cleanEnv } from './helpers.mjs'
import { project, sql, V, report, tables } from './project.mjs'
import { admin, query } from './db.mjs'
import { startEmbedded } from '../scripts/embedded-pg.mjs'

let pg
let certs

const openssl = (...args) => execFileSync('openssl', args, { cwd: certs, stdio: 'pipe' })

function makeCa(name) {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', `${name}.key`, '-out', `${name}.pem`)
}

before(async () => {
  certs = mkdtempSync(path.join(os.tmpdir(), 'godwit-tls-'))
  chmodSync(certs, 0o755)
  makeCa('test-ca')
  makeCa('other-ca')
  // the server's certificate names localhost only, so 127.0.0.1 is "another host"
  writeFileSync(path.join(certs, 'ext.cnf'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr')
  openssl('x509', '-req', '-sha256', '-days', '2', '-in', 'server.csr', '-CA', 'test-ca.pem', '-CAkey', 'test-ca.key',
    '-CAcreateserial', '-extfile', 'ext.cnf', '-out', 'server.crt')
  // a certificate whose only name is its Common Name (no subjectAltName), as libpq accepts
  writeFileSync(path.join(certs, 'cn.cnf'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
  openssl('x509', '-req', '-sha256', '-days', '2', '-in', 'server.csr', '-CA', 'test-ca.pem', '-CAkey', 'test-ca.key',
    '-CAcreateserial', '-extfile', 'cn.cnf', '-out', 'cn-only.crt')
  // the PostgreSQL documentation's self-signed certificate, which is then copied to root.crt
  openssl('req', '-new', '-x509', '-days', '2', '-nodes', '-text', '-out', 'self.crt', '-keyout', 'self.key', '-subj', '/CN=localhost')
  // a client certificate for the role godwit_cert
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=godwit_cert', '-keyout', 'client.key', '-out', 'client.csr')
  writeFileSync(path.join(certs, 'client.cnf'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n')
  openssl('x509', '-req', '-sha256', '-days', '2', '-in', 'client.csr', '-CA', 'test-ca.pem', '-CAkey', 'test-ca.key', '-CAcreateserial', '-extfile', 'client.cnf', '-out', 'client.crt')
  pg = await startEmbedded()
  // the server runs as the owner of its data folder (a `postgres` user when the tests run as root)
  const { uid, gid } = statSync(pg.dir)
  for (const f of ['server.key', 'server.crt', 'cn-only.crt', 'self.crt', 'self.key']) {
    chownSync(path.join(certs, f), uid, gid)
    chmodSync(path.join(certs, f), 0o600)
  }
  await setSsl(true)
})

after(async () => {
  await pg?.stop()
  rmSync(certs, { recursive: true, force: true })
})

async function setSsl(on, cert = 'server.crt', key = 'server.key') {
  const c = await admin(pg.url)
  try {
    await c.query(`ALTER SYSTEM SET ssl_cert_file = '${path.join(certs, cert)}'`)
    await c.query(`ALTER SYSTEM SET ssl_key_file = '${path.join(certs, key)}'`)
    await c.query(`ALTER SYSTEM SET ssl = ${on ? 'on' : 'off'}`)
    await c.query('SELECT pg_reload_conf()')
    // the reload is asynchronous: wait until a new session sees it
    for (let i = 0; i < 50; i++) {
      const rows = await query(pg.url, 'SHOW ssl')
      if (rows[0].ssl === (on ? 'on' : 'off')) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`ssl did not turn ${on ? 'on' : 'off'}`)
  } finally {
    await c.end()
  }
}

/** A database of its own on the TLS server; its URL for `host` with these query parameters. */
async function database(t, host, params) {
  const name = `godwit_tls_${Math.random().toString(36).slice(2, 10)}`
  await query(pg.url, `CREATE DATABASE ${name}`)
  t.after(() => query(pg.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  const u = new URL(pg.url)
  u.hostname = host
  u.pathname = `/${name}`
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
  return { url: u.toString(), plain: new URL(`/${name}`, pg.url).toString() }
}

const ca = (name) => path.join(certs, `${name}.pem`)

async function upWith(t, host, params, env = {}) {
  const db = await database(t, host, params)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const r = await godwit(['up', '--sha', 'test', '--json'], { cwd, env: { DATABASE_URL: db.url, ...env } })
  return { r, cwd, db }
}

/** A home folder with `~/.postgresql/<name>` files, as libpq looks for them. */
function home(t, files) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'godwit-home-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(path.join(dir, '.postgresql'))
  for (const [name, from] of Object.entries(files)) writeFileSync(path.join(dir, '.postgresql', name), readFileSync(path.join(certs, from)))
  return dir
}

test('require_encrypts_without_verifying_the_certificate', async (t) => {
  const { r, cwd } = await upWith(t, '127.0.0.1', { sslmode: 'require' })
  assert.equal(r.code, 0, r.stderr)
  const rep = report(cwd)
  assert.equal(rep.database.sslMode, 'require')
  assert.equal(rep.database.tls, true)
})

test('verify_full_with_the_test_ca_and_the_certificates_host_name_connects', async (t) => {
  const { r, cwd, db } = await upWith(t, 'localhost', { sslmode: 'verify-full', sslrootcert: ca('test-ca') })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(report(cwd).database.tls, true)
  assert.deepEqual(await tables(db.plain), ['a', 'godwit_migrations'])
})

test('verify_full_refuses_a_certificate_for_another_host_and_touches_nothing', async (t) => {
  const { r, db } = await upWith(t, '127.0.0.1', { sslmode: 'verify-full', sslrootcert: ca('test-ca') })
  assert.equal(r.code, 7, r.stderr)
  assert.equal(r.json.error.code, 'CONNECT_FAILED')
  assert.match(r.json.error.message, /sslmode=verify-full; verify-full checks the host name/)
  assert.deepEqual(await tables(db.plain), [])
})

test('verify_ca_accepts_the_chain_whatever_the_host_name', async (t) => {
  const { r } = await upWith(t, '127.0.0.1', { sslmode: 'verify-ca', sslrootcert: ca('test-ca') })
  assert.equal(r.code, 0, r.stderr)
})

test('verify_full_refuses_a_server_signed_by_an_untrusted_ca', async (t) => {
  const { r, db } = await upWith(t, 'localhost', { sslmode: 'verify-full', sslrootcert: ca('other-ca') })
  assert.equal(r.code, 7, r.stderr)
  assert.match(r.json.error.message, /not signed by a trusted root: set sslrootcert/)
  assert.deepEqual(await tables(db.plain), [])
})

test('require_with_a_root_certificate_verifies_the_chain_like_libpq', async (t) => {
  const { r } = await upWith(t, '127.0.0.1', { sslmode: 'require', sslrootcert: ca('other-ca') })
  assert.equal(r.code, 7, r.stderr)
})

test('a_missing_root_certificate_file_is_a_configuration_error', async (t) => {
  const { r } = await upWith(t, 'localhost', { sslmode: 'verify-full', sslrootcert: path.join(certs, 'nope.pem') })
  assert.equal(r.code, 2, r.stderr)
  assert.equal(r.json.error.code, 'CONFIG')
  assert.match(r.json.error.message, /nope\.pem cannot be read/)
})

test('status_over_tls_says_so', async (t) => {
  const { r, cwd, db } = await upWith(t, 'localhost', { sslmode: 'verify-full', sslrootcert: ca('test-ca') })
  assert.equal(r.code, 0)
  const st = await godwit(['status', '--json'], { cwd, env: { DATABASE_URL: db.url } })
  assert.equal(st.code, 0)
  assert.equal(st.json.database.tls, true)
})

test('without_tls_on_the_server_require_fails_clearly_and_prefer_falls_back', async (t) => {
  await setSsl(false)
  t.after(() => setSsl(true))
  const { r, db } = await upWith(t, '127.0.0.1', { sslmode: 'require' })
  assert.equal(r.code, 7, r.stderr)
  assert.match(r.json.error.message, /server does not support TLS.*sslmode=require/)
  assert.deepEqual(await tables(db.plain), [])
  const prefer = await upWith(t, '127.0.0.1', { sslmode: 'prefer' })
  assert.equal(prefer.r.code, 0, prefer.r.stderr)
  assert.equal(report(prefer.cwd).database.tls, false)
})

test('sigterm_over_tls_cancels_the_running_statement_on_the_server', async (t) => {
  const db = await database(t, '127.0.0.1', { sslmode: 'require' })
  const cwd = await project(t, { [`${V(1)}_slow.mjs`]: sql('CREATE TABLE s (id int); SELECT pg_sleep(30)') })
  const child = spawn(process.execPath, [CLI, 'up', '--sha', 'test'], { cwd, env: cleanEnv({ DATABASE_URL: db.url }) })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const running = async () =>
    (await query(db.plain, "SELECT count(*)::int AS n FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE s.ssl AND a.datname = current_database() AND a.query LIKE '%pg_sleep(30)%'"))[0].n
  for (let t0 = Date.now(); Date.now() - t0 < 20_000 && child.exitCode === null && (await running()) === 0; ) await new Promise((r) => setTimeout(r, 100))
  assert.equal(await running(), 1, `the statement runs in an encrypted session; godwit said: ${stderr}`)
  child.kill('SIGTERM')
  const code = await new Promise((r) => child.on('close', r))
  assert.equal(code, 6)
  assert.equal(await running(), 0, 'cancelled on the server')
  assert.deepEqual(await tables(db.plain), ['godwit_migrations'], 'rolled back')
  assert.equal(report(cwd).outcome, 'interrupted')
})

test('require_with_a_root_crt_in_the_home_folder_verifies_the_chain_like_libpq', async (t) => {
  const wrong = await upWith(t, '127.0.0.1', { sslmode: 'require' }, { HOME: home(t, { 'root.crt': 'other-ca.pem' }) })
  assert.equal(wrong.r.code, 7, wrong.r.stderr)
  assert.match(wrong.r.json.error.message, /not signed by a trusted root/)
  assert.deepEqual(await tables(wrong.db.plain), [])
  const right = await upWith(t, '127.0.0.1', { sslmode: 'require' }, { HOME: home(t, { 'root.crt': 'test-ca.pem' }) })
  assert.equal(right.r.code, 0, right.r.stderr)
})

test('verify_full_accepts_a_certificate_named_only_by_its_common_name', async (t) => {
  await setSsl(true, 'cn-only.crt', 'server.key')
  t.after(() => setSsl(true))
  const ok = await upWith(t, 'localhost', { sslmode: 'verify-full', sslrootcert: ca('test-ca') })
  assert.equal(ok.r.code, 0, ok.r.stderr)
  const other = await upWith(t, '127.0.0.1', { sslmode: 'verify-full', sslrootcert: ca('test-ca') })
  assert.equal(other.r.code, 7, other.r.stderr)
  assert.match(other.r.json.error.message, /does not name the host/)
})

test('a_self_signed_certificate_used_as_its_own_root_works_and_failures_are_said_in_words', async (t) => {
  await setSsl(true, 'self.crt', 'self.key')
  t.after(() => setSsl(true))
  const selfRoot = path.join(certs, 'self.crt')
  for (const [host, sslmode] of [['127.0.0.1', 'verify-ca'], ['localhost', 'verify-full']]) {
    const { r } = await upWith(t, host, { sslmode, sslrootcert: selfRoot })
    assert.equal(r.code, 0, `${sslmode}: ${r.stderr}`)
  }
  const { r } = await upWith(t, 'localhost', { sslmode: 'verify-full', sslrootcert: ca('test-ca') })
  assert.equal(r.code, 7, r.stderr)
  assert.match(r.json.error.message, /TLS verification of the server failed: /)
  assert.doesNotMatch(r.json.error.message, /CaUsedAsEndEntity|UnknownIssuer|OtherError/)
})

test('client_certificates_are_honoured_from_the_url_and_the_home_folder', async (t) => {
  // the server asks godwit_cert for a certificate signed by the test CA
  const c = await admin(pg.url)
  try {
    await c.query(`ALTER SYSTEM SET ssl_ca_file = '${ca('test-ca')}'`)
    await c.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'godwit_cert') THEN CREATE ROLE godwit_cert LOGIN SUPERUSER; END IF; END $$")
  } finally {
    await c.end()
  }
  const hba = path.join(pg.dir, 'pg_hba.conf')
  const before = readFileSync(hba, 'utf8')
  writeFileSync(hba, `hostssl all godwit_cert 127.0.0.1/32 cert\nhost all godwit_cert 127.0.0.1/32 reject\n${before}`)
  t.after(async () => {
    writeFileSync(hba, before)
    await query(pg.url, 'SELECT pg_reload_conf()')
  })
  await setSsl(true)
  const as = { sslmode: 'verify-full', sslrootcert: ca('test-ca') }
  const db = await database(t, 'localhost', as)
  const url = new URL(db.url)
  url.username = 'godwit_cert'
  url.password = ''
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const without = await godwit(['up', '--sha', 'c', '--json'], { cwd, env: { DATABASE_URL: url.toString() } })
  assert.equal(without.code, 7, without.stderr)
  const withUrl = new URL(url)
  withUrl.searchParams.set('sslcert', path.join(certs, 'client.crt'))
  withUrl.searchParams.set('sslkey', path.join(certs, 'client.key'))
  const r = await godwit(['up', '--sha', 'c', '--json'], { cwd, env: { DATABASE_URL: withUrl.toString() } })
  assert.equal(r.code, 0, r.stderr)
  const st = await godwit(['status', '--json'], { cwd, env: { DATABASE_URL: url.toString(), HOME: home(t, { 'postgresql.crt': 'client.crt', 'postgresql.key': 'client.key' }) } })
  assert.equal(st.code, 0, st.stderr)
  // a key without its certificate is an error, never silently ignored
  const half = new URL(url)
  half.searchParams.set('sslkey', path.join(certs, 'client.key'))
  const h = await godwit(['status'], { cwd, env: { DATABASE_URL: half.toString() } })
  assert.equal(h.code, 2, h.stderr)
  assert.match(h.stderr, /needs both sslcert and sslkey/)
})
