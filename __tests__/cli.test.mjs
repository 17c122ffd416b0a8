// The CLI's conventions: help generated from the parser, exit codes, --json, colour, the JS API.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import path from 'node:path'
import { readFileSync } from 'node:fs'
import { ROOT, godwit, tmpDir, fixtureCopy } from './helpers.mjs'

const require = createRequire(import.meta.url)

// The help and the parser agree through the real CLI: every flag a command's --help lists is
// accepted (with a value when it says so), a flag it does not list is refused, and the exit
// codes it lists are the core's table.
test('every_flag_a_help_lists_is_parsed_and_the_exit_codes_are_the_cores', async () => {
  const native = require(path.join(ROOT, 'lib', 'native.js'))
  const codes = native.exitCodes()
  for (const name of ['create', 'check', 'up', 'status', 'verify', 'down', 'reset']) {
    const r = await godwit([name, '--help'])
    assert.equal(r.code, 0)
    const flags = [...r.stdout.matchAll(/^ {2}(?:-\w, )?--([a-z-]+)( <[a-z]+>)?/gm)].map(([, flag, value]) => ({ flag, value: Boolean(value) }))
    assert.ok(flags.length >= 3, `${name} --help lists its flags`)
    for (const { flag, value } of flags) {
      const args = [name, `--${flag}`, ...(value ? ['1'] : []), '--help']
      const parsed = await godwit(args)
      assert.equal(parsed.code, 0, `${args.join(' ')}: ${parsed.stderr}`)
    }
    const unknown = await godwit([name, '--not-a-flag', '--help'])
    assert.equal(unknown.code, 2, `${name} accepts a flag its help does not list`)
    const listed = [...r.stdout.matchAll(/^ {2}(\d+) +(.+)$/gm)].map(([, code, meaning]) => [Number(code), meaning])
    assert.deepEqual(listed, codes.map((c) => [c.code, c.meaning]))
  }
  const top = await godwit(['--help'])
  assert.equal(top.code, 0)
  for (const name of ['create', 'check', 'up', 'status', 'verify', 'down', 'reset']) assert.match(top.stdout, new RegExp(`^  ${name} `, 'm'))
})

test('the_readme_exit_code_table_is_the_cores', () => {
  const native = require(path.join(ROOT, 'lib', 'native.js'))
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Exit codes'), readme.indexOf('\n## ', readme.indexOf('## Exit codes') + 5))
  const rows = [...section.matchAll(/^\| (\d+) \| (.+) \|$/gm)].map(([, code, meaning]) => [Number(code), meaning])
  assert.deepEqual(rows, native.exitCodes().map((c) => [c.code, c.meaning]))
})

test('usage_errors_exit_2', async () => {
  for (const args of [['frobnicate'], ['check', '--nope'], ['check', 'extra'], ['check', '--module-timeout', 'soon'], []]) {
    const r = await godwit(args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
  }
})

test('json_is_one_document_on_stdout_with_progress_on_stderr', async (t) => {
  const dir = fixtureCopy(t, 'broken/uppercase-name')
  const r = await godwit(['check', '--dir', dir, '--json', '--frozen', '--base', 'none'])
  assert.deepEqual(Object.keys(r.json).sort(), [
    'base', 'changed', 'dir', 'errors', 'ledgerWritten', 'migrations', 'mode', 'ok', 'policy', 'sealed', 'unsealed', 'violations', 'waivers', 'warnings',
  ])
  assert.deepEqual(Object.keys(r.json.violations[0]).sort(), ['file', 'hint', 'message', 'rule', 'severity'])
  assert.equal(r.stderr, '')
})

test('colour_only_when_asked_or_on_a_tty', async (t) => {
  const dir = fixtureCopy(t, 'broken/uppercase-name')
  const plain = await godwit(['check', '--dir', dir, '--frozen', '--base', 'none'])
  assert.ok(!plain.stdout.includes('\x1b['), 'no colour when piped')
  const forced = await godwit(['check', '--dir', dir, '--frozen', '--base', 'none'], { env: { FORCE_COLOR: '1' } })
  assert.ok(forced.stdout.includes('\x1b[31m'), 'FORCE_COLOR colours')
  const off = await godwit(['check', '--dir', dir, '--frozen', '--base', 'none'], { env: { FORCE_COLOR: '0' } })
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
  const report = await godwitApi.check({ dir, frozen: true, base: 'none' })
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
