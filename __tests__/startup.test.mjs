// What a start pays for: `status`, a no-op `up` and assertSchemaCurrent() run at every deploy and
// every API start, so they load no Node module they do not use. worker_threads (rendering) and
// child_process (asking git) each cost a start about 2.5 ms; they load only when a run needs them.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { CLI, ROOT, cleanEnv, tmpDir } from './helpers.mjs'
import { freshDatabase, stopServer } from './db.mjs'
import { project, sql, V } from './project.mjs'

after(stopServer)

const UNUSED = /^NativeModule (worker_threads|child_process)$/

/** Runs `args` with Node, a probe printing to `out` the built-in modules loaded by the end. */
function loaded(t, args, cwd, env) {
  const probe = path.join(tmpDir(t), 'probe.cjs')
  const out = path.join(path.dirname(probe), 'loaded.json')
  writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)))\n`)
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
