// The parent's watch over a render worker (lib/render.js): a module's bound starts when the worker
// is ready, never during the worker's own start. The fault suite once charged a module with
// `module-timeout` under a loaded CI machine: the worker took longer than `--module-timeout 1000` to
// start, and the module had not begun. A scripted worker (an EventEmitter) stands for the thread so
// the timings are the test's, not the machine's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(import.meta.url)
const { watchWorker } = require('../lib/render.js')

class ScriptedWorker extends EventEmitter {
  terminated = false
  terminate() {
    this.terminated = true
    return Promise.resolve(0)
  }
  say(msg) {
    if (!this.terminated) this.emit('message', msg)
  }
}

const done = (file) => ({ type: 'done', result: { file, sql: ['SELECT 1'] } })

test('a worker slower to start than the module bound does not charge its first module', async () => {
  const w = new ScriptedWorker()
  const results = new Map()
  const watching = watchWorker(w, ['a.mjs'], 100, results, 5000)
  await sleep(300) // three module bounds of silence, all of it before `ready`
  w.say({ type: 'ready' })
  await sleep(20)
  w.say(done('a.mjs'))
  assert.deepEqual(await watching, { rest: [] })
  assert.deepEqual(results.get('a.mjs'), { file: 'a.mjs', sql: ['SELECT 1'] })
  assert.equal(w.terminated, true, 'the worker is ended once every module is in')
})

test('after ready, a module bound of silence is a hang, charged to the module that started', async () => {
  const w = new ScriptedWorker()
  const results = new Map()
  const t0 = performance.now()
  const watching = watchWorker(w, ['a.mjs', 'b.mjs'], 150, results, 5000)
  w.say({ type: 'ready' })
  w.say({ type: 'start', file: 'a.mjs' })
  w.say(done('a.mjs'))
  w.say({ type: 'start', file: 'b.mjs' })
  const out = await watching
  assert.deepEqual(out, { rest: ['b.mjs'], hung: true, started: ['b.mjs'] })
  assert.ok(performance.now() - t0 >= 140, 'not before the bound')
  assert.equal(results.has('b.mjs'), false)
  assert.equal(w.terminated, true)
})

test('a worker that never gets ready ends after the start-up bound, blaming no module', async () => {
  const w = new ScriptedWorker()
  const out = await watchWorker(w, ['a.mjs', 'b.mjs'], 50, new Map(), 200)
  assert.deepEqual(out, { rest: ['a.mjs', 'b.mjs'], notStarted: true })
  assert.equal(w.terminated, true)
})

test('a worker that exits mid-module charges the module in flight', async () => {
  const w = new ScriptedWorker()
  const watching = watchWorker(w, ['a.mjs', 'b.mjs'], 1000, new Map(), 5000)
  w.say({ type: 'ready' })
  w.say({ type: 'start', file: 'a.mjs' })
  w.emit('exit', 3)
  assert.deepEqual(await watching, { rest: ['a.mjs', 'b.mjs'], crashed: 'the worker exited with code 3', started: ['a.mjs'] })
})
