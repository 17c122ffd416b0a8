// The CLI's conventions: help generated from the parser, exit codes, --json, colour, the JS API.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import path from 'node:path'
import { ROOT, godwit, tmpDir, fixtureCopy } from './helpers.mjs'

const require = createRequire(import.meta.url)

test('every_command_help_lists_every_option_it_parses', async () => {
  for (const name of ['create', 'check', 'up', 'status', 'verify', 'down', 'reset']) {
    const mod = require(path.join(ROOT, 'scripts', 'commands', `${name}.js`))
    const r = await godwit([name, '--help'])
    assert.equal(r.code, 0)
    for (const opt of [...Object.keys(mod.options), 'dir', 'json', 'help']) {
      assert.ok(r.stdout.includes(`--${opt}`), `${name} --help lacks --${opt}`)
    }
    for (const code of [0, 1, 2, 70]) assert.match(r.stdout, new RegExp(`^  ${code}\\s`, 'm'))
  }
  const top = await godwit(['--help'])
  assert.equal(top.code, 0)
  assert.match(top.stdout, /create/)
  assert.match(top.stdout, /check/)
})

test('usage_errors_exit_2', async () => {
  for (const args of [['frobnicate'], ['check', '--nope'], ['check', 'extra'], ['check', '--module-timeout', 'soon'], []]) {
    const r = await godwit(args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
  }
})

test('json_is_one_document_on_stdout_with_progress_on_stderr', async (t) => {
  const dir = fixtureCopy(t, 'broken/uppercase-name')
  const r = await godwit(['check', '--dir', dir, '--json', '--frozen'])
  assert.deepEqual(Object.keys(r.json).sort(), [
    'base', 'dir', 'errors', 'ledgerWritten', 'migrations', 'mode', 'ok', 'policy', 'sealed', 'unsealed', 'violations', 'waivers', 'warnings',
  ])
  assert.deepEqual(Object.keys(r.json.violations[0]).sort(), ['file', 'hint', 'message', 'rule', 'severity'])
  assert.equal(r.stderr, '')
})

test('colour_only_when_asked_or_on_a_tty', async (t) => {
  const dir = fixtureCopy(t, 'broken/uppercase-name')
  const plain = await godwit(['check', '--dir', dir, '--frozen'])
  assert.ok(!plain.stdout.includes('\x1b['), 'no colour when piped')
  const forced = await godwit(['check', '--dir', dir, '--frozen'], { env: { FORCE_COLOR: '1' } })
  assert.ok(forced.stdout.includes('\x1b[31m'), 'FORCE_COLOR colours')
  const off = await godwit(['check', '--dir', dir, '--frozen'], { env: { FORCE_COLOR: '0' } })
  assert.ok(!off.stdout.includes('\x1b['))
})

test('js_api_errors_carry_stable_codes', async (t) => {
  const godwitApi = require(ROOT)
  const dir = tmpDir(t)
  await assert.rejects(godwitApi.create('AddUsers', { dir }), (err) => {
    assert.equal(err.code, 'INVALID_NAME')
    assert.equal(err.exitCode, 2)
    assert.ok(err instanceof godwitApi.GodwitError)
    return true
  })
  await assert.rejects(godwitApi.check({ dir: path.join(dir, 'missing') }), { code: 'DIR_NOT_FOUND' })
  const created = await godwitApi.create('add_things', { dir })
  assert.match(created.file, /^\d{13}_add_things\.mjs$/)
  const report = await godwitApi.check({ dir, frozen: true })
  assert.equal(report.ok, false)
  assert.deepEqual(report.violations.map((v) => v.rule), ['sql-empty'])
})

// scripts/interrupt.js on its own (a real run's cancel is usually over before a second signal
// could land): for the commands that change a database a signal aborts the run's signal and the
// process lives on to report; a second one is ignored with a message; other commands keep Node's
// default, so ^C stops `check` at once.
test('signals_abort_a_database_command_once_and_leave_other_commands_to_node', async () => {
  const { spawn } = await import('node:child_process')
  const probe = (command) => new Promise((resolve) => {
    const script = `const i = require(${JSON.stringify(path.join(ROOT, 'scripts', 'interrupt.js'))}); i.install(${JSON.stringify(command)})
      const seen = []; i.signal.addEventListener('abort', () => seen.push(i.signal.reason))
      process.kill(process.pid, 'SIGINT')
      setTimeout(() => process.kill(process.pid, 'SIGTERM'), 50)
      setTimeout(() => { process.stdout.write(JSON.stringify(seen)); process.exitCode = 6 }, 150)`
    const child = spawn(process.execPath, ['-e', script])
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  for (const command of ['up', 'down', 'reset', 'verify']) {
    const r = await probe(command)
    assert.equal(r.code, 6, `${command}: ${r.stderr}`)
    assert.deepEqual(JSON.parse(r.stdout), ['SIGINT'], 'aborted once, by the first signal')
    assert.match(r.stderr, /godwit: SIGTERM again: already stopping \(SIGINT\); waiting for the rollback to finish/)
  }
  const check = await probe('check')
  assert.equal(check.signal, 'SIGINT', 'check is stopped by ^C as Node stops any program')
})
