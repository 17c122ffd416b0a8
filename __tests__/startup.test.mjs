// What a start pays for: `status`, a no-op `up` and assertSchemaCurrent() run at every deploy and
// every API start, so they load no Node module they do not use, and take no round trip to the
// server they can share. worker_threads (rendering) and
// child_process (asking git) each cost a start about 2.5 ms; they load only when a run needs them.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { CLI, ROOT, cleanEnv, tmpDir } from './helpers.mjs'
import { freshDatabase, stopServer } from './db.mjs'
import { proxy } from './net.mjs'
import { project, sql, V } from './project.mjs'

after(stopServer)

// built-ins, and the fleet's own files (`up --targets`, `status --targets` only)
const UNUSED = /^NativeModule (worker_threads|child_process)$|[\\/]lib[\\/](fleet|targets)\.js$/

/** Runs `args` with Node, a probe printing to `out` the built-in modules and files loaded by the end. */
function loaded(t, args, cwd, env) {
  const probe = path.join(tmpDir(t), 'probe.cjs')
  const out = path.join(path.dirname(probe), 'loaded.json')
  writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList.concat(Object.keys(require.cache)))))\n`)
  const r = spawnSync(process.execPath, ['-r', probe, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8' })
  const list = JSON.parse(spawnSync(process.execPath, ['-p', `require('node:fs').readFileSync(${JSON.stringify(out)}, 'utf8')`], { encoding: 'utf8' }).stdout)
  return { r, list }
}

test('status_a_no_op_up_and_assert_schema_current_load_no_module_they_do_not_use', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const env = { DATABASE_URL: url, MIGRATION_JOB: '1' }

  // the first `up` renders and applies: it loads worker_threads or reads the literal, as it must
  const first = loaded(t, [CLI, 'up', '--sha', 'start', '--artifacts-dir', path.join(cwd, '.artifacts')], cwd, env)
  assert.equal(first.r.status, 0, first.r.stderr)

  for (const args of [
    [CLI, 'status'],
    [CLI, 'up', '--sha', 'start', '--artifacts-dir', path.join(cwd, '.artifacts')],
    ['-e', `require(${JSON.stringify(path.join(ROOT, 'index.js'))}).assertSchemaCurrent().then((s) => { if (!s.clean) process.exit(3) })`],
  ]) {
    const { r, list } = loaded(t, args, cwd, env)
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    assert.ok(list.length > 50, 'the probe saw the modules Node loaded')
    assert.deepEqual(list.filter((m) => UNUSED.test(m)), [], args.join(' '))
  }
})

/** The types of the protocol messages in a flight of the client's (after the start-up packet). */
function messageTypes(flight) {
  const types = []
  for (let at = 0; at + 5 <= flight.length; at += 1 + flight.readInt32BE(at + 1)) types.push(String.fromCharCode(flight[at]))
  return types
}

test('status_and_assert_schema_current_ask_everything_in_one_round_trip_after_start_up', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  assert.equal(spawnSync(process.execPath, [CLI, 'up', '--sha', 'rt'], { cwd, env: cleanEnv({ DATABASE_URL: url, MIGRATION_JOB: '1' }), encoding: 'utf8' }).status, 0)
  // without TLS, so the proxy sees the messages; the session's description, its timeouts and
  // the history read are one flight, where they were three round trips
  const link = await proxy(t, url)
  const plain = new URL(link.url)
  plain.searchParams.set('sslmode', 'disable')
  const api = JSON.stringify(path.join(ROOT, 'index.js'))
  for (const args of [[CLI, 'status'], ['-e', `require(${api}).assertSchemaCurrent().then((s) => { if (!s.clean) process.exit(3) })`]]) {
    const before = link.flights().length
    const r = await new Promise((resolve) => {
      const child = spawn(process.execPath, args, { cwd, env: cleanEnv({ DATABASE_URL: plain.toString() }), stdio: ['ignore', 'pipe', 'pipe'] })
      let err = ''
      child.stderr.on('data', (d) => (err += d))
      child.on('close', (code) => resolve({ code, err }))
    })
    assert.equal(r.code, 0, r.err)
    const sessions = link.flights().slice(before)
    assert.equal(sessions.length, 1, 'one connection')
    // the first flight is the start-up packet (no type byte); then authentication, if any
    const queries = sessions[0].slice(1).map(messageTypes).filter((types) => types.includes('Q'))
    assert.deepEqual(queries, [['Q', 'Q', 'Q']], `${args[0]}: the flights that carried queries`)
  }
})

test('up_sends_the_jobs_session_settings_with_the_query_that_describes_the_session', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const artifacts = path.join(cwd, '.artifacts')
  assert.equal(spawnSync(process.execPath, [CLI, 'up', '--sha', 'rt', '--artifacts-dir', artifacts], { cwd, env: cleanEnv({ DATABASE_URL: url, MIGRATION_JOB: '1' }), encoding: 'utf8' }).status, 0)
  const link = await proxy(t, url)
  const plain = new URL(link.url)
  plain.searchParams.set('sslmode', 'disable')
  // `up` with nothing to do, and `plan` (a read-only session)
  for (const [args, also] of [[['up', '--sha', 'rt2', '--artifacts-dir', artifacts], 'SET lock_timeout'], [['plan'], 'SET default_transaction_read_only = on']]) {
    const before = link.flights().length
    const r = await new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd, env: cleanEnv({ DATABASE_URL: plain.toString(), MIGRATION_JOB: '1' }), stdio: ['ignore', 'pipe', 'pipe'] })
      let err = ''
      child.stderr.on('data', (d) => (err += d))
      child.on('close', (code) => resolve({ code, err }))
    })
    assert.equal(r.code, 0, r.err)
    const sessions = link.flights().slice(before)
    assert.equal(sessions.length, 1, `${args[0]}: one connection`)
    const queries = sessions[0].slice(1).filter((f) => messageTypes(f).includes('Q'))
    // before: the description alone, then the settings in a round trip of their own
    assert.deepEqual(messageTypes(queries[0]), ['Q', 'Q'], `${args[0]}: the first flight that carried queries`)
    const first = queries[0].toString('latin1')
    assert.match(first, /pg_stat_get_activity/, 'the session is described')
    assert.ok(first.includes(also), `${args[0]}: ${also} in the first flight`)
    assert.ok(first.includes("'idle_session_timeout'"), 'the versioned settings too, chosen by the server')
  }
})
