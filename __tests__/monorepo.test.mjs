// examples/monorepo as a team uses it: a pnpm workspace whose app depends on godwit through
// `workspace:*`. A packed build of this repository goes where the example keeps godwit
// (packages/godwit); then `pnpm install`, `pnpm --filter app db:migrate:up` and the app's start-up
// check run for real. pnpm's store already holds godwit's one runtime dependency (the root install
// put it there), so the install rarely needs the registry.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { ROOT, cleanEnv, tmpDir } from './helpers.mjs'
import { freshDatabase, query, stopServer } from './db.mjs'

after(stopServer)

/** pnpm as the test runner was started (`pnpm test` sets npm_execpath), else from PATH. */
function pnpm(args, opts) {
  const exec = process.env.npm_execpath
  const [cmd, pre] = exec && /pnpm/.test(exec) ? [process.execPath, [exec]] : ['pnpm', []]
  return spawnSync(cmd, [...pre, ...args], { encoding: 'utf8', ...opts, env: cleanEnv(opts.env) })
}

test('the_monorepo_example_migrates_through_pnpm_filter_and_its_app_checks_the_schema_at_start_up', async (t) => {
  const url = await freshDatabase(t)
  const repo = tmpDir(t, 'godwit-monorepo-')
  cpSync(path.join(ROOT, 'examples', 'monorepo'), repo, { recursive: true })

  // godwit as the example keeps it: the package exactly as published (its `files`), addon built
  const packed = tmpDir(t, 'godwit-pack-')
  const pack = pnpm(['pack', '--pack-destination', packed], { cwd: ROOT, env: {} })
  assert.equal(pack.status, 0, pack.stderr)
  const tarball = readdirSync(packed).find((f) => f.endsWith('.tgz'))
  mkdirSync(path.join(repo, 'packages', 'godwit'))
  const untar = spawnSync('tar', ['-xzf', path.join(packed, tarball), '-C', path.join(repo, 'packages', 'godwit'), '--strip-components=1'])
  assert.equal(untar.status, 0, String(untar.stderr))

  const install = pnpm(['install', '--prefer-offline', '--prod', '--no-frozen-lockfile'], { cwd: repo, env: {} })
  assert.equal(install.status, 0, install.stdout + install.stderr)

  const env = { DATABASE_URL: url, GIT_SHA: 'monorepo' }
  // before the migration job: the app refuses to start
  const early = spawnSync(process.execPath, ['src/server.mjs', '--check-only'], { cwd: path.join(repo, 'apps', 'app'), env: cleanEnv(env), encoding: 'utf8' })
  assert.equal(early.status, 1, early.stdout + early.stderr)
  assert.match(early.stderr, /app: not starting: \[SCHEMA_NOT_CURRENT\] .*1732500000000_create_accounts pending/)

  // the pipeline's migration job, from the workspace root
  const up = pnpm(['--filter', 'app', 'db:migrate:up'], { cwd: repo, env })
  assert.equal(up.status, 0, up.stdout + up.stderr)
  assert.match(up.stderr, /up: applied 2 migrations/)
  // the app's package.json#godwit chose the history table
  assert.deepEqual((await query(url, 'SELECT version FROM app_migrations ORDER BY version')).map((r) => r.version), ['1732500000000', '1732500000100'])
  assert.deepEqual(await query(url, "SELECT indexname FROM pg_indexes WHERE indexname = 'accounts_email_key'"), [{ indexname: 'accounts_email_key' }])

  const status = pnpm(['--filter', 'app', 'db:migrate:status'], { cwd: repo, env })
  assert.equal(status.status, 0, status.stdout + status.stderr)

  const ready = spawnSync(process.execPath, ['src/server.mjs', '--check-only'], { cwd: path.join(repo, 'apps', 'app'), env: cleanEnv(env), encoding: 'utf8' })
  assert.equal(ready.status, 0, ready.stdout + ready.stderr)
  assert.match(ready.stdout, /app: schema is current/)
})
