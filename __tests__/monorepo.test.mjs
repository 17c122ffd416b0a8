// examples/monorepo as a team uses it: a pnpm workspace whose app depends on `godwit` by version.
// The packages a registry would serve (the root package and this machine's platform package,
// packed by scripts/pack-all.mjs from the addon the test command built) stand in for the registry
// through pnpm `overrides`; then `pnpm install` with no Rust on PATH, `pnpm --filter app
// db:migrate:up` and the app's start-up check run for real. pnpm's store already holds godwit's one
// runtime dependency (the root install put it there), so the install rarely needs the registry.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { ROOT, cleanEnv, tmpDir } from './helpers.mjs'
import { freshDatabase, query, stopServer } from './db.mjs'
import { devPack, overrides, pathWithoutRust, pnpm, writeJson } from './packages.mjs'

after(stopServer)

test('the_monorepo_example_migrates_through_pnpm_filter_and_its_app_checks_the_schema_at_start_up', async (t) => {
  const url = await freshDatabase(t)
  const repo = tmpDir(t, 'godwit-monorepo-')
  cpSync(path.join(ROOT, 'examples', 'monorepo'), repo, { recursive: true })

  // godwit as a registry would serve it: the packed root and platform packages
  const pack = devPack(t)
  const rootJson = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'))
  writeJson(path.join(repo, 'package.json'), { ...rootJson, pnpm: { overrides: overrides(pack) } })
  const noRust = { PATH: pathWithoutRust() }

  const install = pnpm(['install', '--prefer-offline', '--prod', '--no-frozen-lockfile'], { cwd: repo, env: noRust })
  assert.equal(install.status, 0, install.stdout + install.stderr)
  // the one platform package this machine needs, its binary inside it; none in godwit's root
  const store = readdirSync(path.join(repo, 'node_modules', '.pnpm'))
  assert.deepEqual(store.filter((d) => d.startsWith('godwit-')).map((d) => d.split('@')[0]), [`godwit-${pack.built[0].platform}`])
  const godwitDir = path.join(repo, 'node_modules', '.pnpm', store.find((d) => d.startsWith('godwit@')), 'node_modules', 'godwit')
  assert.deepEqual(readdirSync(godwitDir).filter((f) => f.endsWith('.node')), [])

  const env = { DATABASE_URL: url, GIT_SHA: 'monorepo', ...noRust }
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
