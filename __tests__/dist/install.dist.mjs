// A new user's first minutes, on this machine's platform: a brand-new pnpm workspace installs godwit
// from the packed tarballs (standing in for the registry through pnpm `overrides`) with no Rust on
// PATH and no build step, then create, check, up and status run against a real PostgreSQL. Then the
// unlucky installs: the platform package missing, its binary broken, a binary built from source
// pointed at with NAPI_RS_NATIVE_LIBRARY_PATH. Figures (install time, installed size) go to
// .artifacts/pack/install.json for docs/install.md.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT, cleanEnv, git, tmpDir } from '../helpers.mjs'
import { freshDatabase, query, stopServer } from '../db.mjs'
import { diskBytes, overrides, pathWithoutRust, pnpm, releasePack, writeJson } from '../packages.mjs'

after(stopServer)

const pack = releasePack()
const version = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version
const hostPlatform = pack.manifest.targets.find((t) => t.triple === pack.manifest.host)

/** A new workspace with one app that depends on godwit, installed with no Rust on PATH. */
function workspace(t) {
  const ws = tmpDir(t, 'godwit-install-')
  git(ws, 'init', '-q', '-b', 'main') // a team's repository: new migrations are not merged yet
  writeJson(path.join(ws, 'package.json'), { name: 'fresh', private: true, pnpm: { overrides: overrides(pack) } })
  writeFileSync(path.join(ws, 'pnpm-workspace.yaml'), "packages:\n  - 'apps/*'\n")
  const app = path.join(ws, 'apps', 'api')
  mkdirSync(app, { recursive: true })
  writeJson(path.join(app, 'package.json'), {
    name: 'api',
    private: true,
    type: 'module',
    scripts: { 'db:migrate:create': 'godwit create', 'db:migrate:check': 'godwit check', 'db:migrate:up': 'godwit up', 'db:migrate:status': 'godwit status' },
    // what `pnpm add godwit` writes; `pnpm add` itself asks the registry before overrides apply
    dependencies: { godwit: `^${version}` },
  })
  const env = { PATH: pathWithoutRust() }
  const started = process.hrtime.bigint()
  // a store of its own: a new machine's first install
  const add = pnpm(['install', '--store-dir', path.join(ws, '.pnpm-store')], { cwd: ws, env })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  assert.equal(add.status, 0, add.stdout + add.stderr)
  return { ws, app, env, seconds }
}

/** The installed platform package's folder (pnpm's virtual store). */
function platformDir(ws) {
  const entry = readdirSync(path.join(ws, 'node_modules', '.pnpm')).find((d) => d.startsWith(`${hostPlatform.package}@`))
  assert.ok(entry, `${hostPlatform.package} was not installed`)
  return path.join(ws, 'node_modules', '.pnpm', entry, 'node_modules', hostPlatform.package)
}

const run = (app, args, env) => pnpm(['exec', 'godwit', ...args], { cwd: app, env })

test('a_fresh_workspace_installs_godwit_without_rust_and_runs_create_check_up_status', async (t) => {
  assert.ok(hostPlatform?.tarball, `this machine's platform (${pack.manifest.host}) was not packed`)
  assert.equal(spawnSync('cargo', ['--version'], { env: { PATH: pathWithoutRust() } }).error?.code, 'ENOENT', 'cargo is still on PATH')
  const url = await freshDatabase(t)
  const { ws, app, env, seconds } = workspace(t)

  // exactly one platform package, this machine's (see overrides() for why the others are absent)
  const installed = readdirSync(path.join(ws, 'node_modules', '.pnpm')).filter((d) => d.startsWith('godwit'))
  assert.deepEqual(installed.map((d) => d.split('@')[0]).sort(), ['godwit', hostPlatform.package].sort())

  const create = pnpm(['db:migrate:create', '--', 'create_widgets'], { cwd: app, env })
  assert.equal(create.status, 0, create.stdout + create.stderr)
  const [file] = readdirSync(path.join(app, 'db', 'migrations')).filter((f) => f.endsWith('.mjs'))
  writeFileSync(path.join(app, 'db', 'migrations', file), 'export const up = `CREATE TABLE widgets (id bigint PRIMARY KEY)`\n')
  const check = pnpm(['db:migrate:check'], { cwd: app, env })
  assert.equal(check.status, 0, check.stdout + check.stderr)

  const dbEnv = { ...env, DATABASE_URL: url, GIT_SHA: 'install-test' }
  const up = pnpm(['db:migrate:up'], { cwd: app, env: dbEnv })
  assert.equal(up.status, 0, up.stdout + up.stderr)
  assert.match(up.stderr, /applied 1 migration/)
  assert.deepEqual(await query(url, "SELECT to_regclass('widgets')::text AS t"), [{ t: 'widgets' }])
  const status = run(app, ['status', '--json'], dbEnv)
  assert.equal(status.status, 0, status.stderr)
  const doc = JSON.parse(status.stdout)
  assert.deepEqual(doc.migrations.map((m) => m.state), ['applied'])

  // the figures docs/install.md reports
  const godwitStore = installed.map((d) => path.join(ws, 'node_modules', '.pnpm', d))
  const figures = {
    installSeconds: Math.round(seconds * 10) / 10,
    installedBytes: godwitStore.reduce((n, d) => n + diskBytes(d), 0),
    rootTarballBytes: pack.manifest.root.tarballBytes,
    platformTarballBytes: Object.fromEntries(pack.built.map((b) => [b.platform, b.tarballBytes])),
    binaryBytes: Object.fromEntries(pack.built.map((b) => [b.platform, b.binaryBytes])),
  }
  writeFileSync(path.join(pack.dir, 'install.json'), JSON.stringify(figures, null, 2) + '\n')
  t.diagnostic(JSON.stringify(figures))
})

test('a_missing_or_broken_platform_package_gets_godwits_own_message_and_the_source_build_fallback_works', async (t) => {
  const url = await freshDatabase(t)
  const { ws, app, env } = workspace(t)
  const dir = realpathSync(platformDir(ws))
  const binary = path.join(dir, hostPlatform.binary)
  const good = path.join(tmpDir(t, 'godwit-binary-'), hostPlatform.binary)
  writeFileSync(good, readFileSync(binary))
  const dbEnv = { ...env, DATABASE_URL: url }
  mkdirSync(path.join(app, 'db', 'migrations'), { recursive: true })

  const expectMissing = (r, reason) => {
    assert.equal(r.status, 70, r.stdout + r.stderr)
    assert.match(r.stderr, /godwit: \[NATIVE_MISSING\] godwit's native core could not be loaded on linux x64 glibc \d+\.\d+ \(Node v\d+/)
    assert.match(r.stderr, reason)
    assert.doesNotMatch(r.stderr, /npm has a bug|\n\s+at /, 'no loader text, no stack trace')
  }

  // the binary is there but is not a shared object
  writeFileSync(binary, 'not an ELF file')
  const broken = run(app, ['status'], dbEnv)
  expectMissing(broken, new RegExp(`${hostPlatform.package} is installed \\(.+\\) but its binary did not load: .*(invalid ELF header|too short)`))

  // the package is gone (installed elsewhere, or with --no-optional)
  rmSync(dir, { recursive: true, force: true })
  const missing = run(app, ['status'], dbEnv)
  expectMissing(missing, new RegExp(`${hostPlatform.package}@${version.replaceAll('.', '\\.')}, is not installed`))
  assert.match(missing.stderr, /supportedArchitectures: \{ os: \[linux\], cpu: \[x64\], libc: \[glibc\] \}/)
  assert.match(missing.stderr, /NAPI_RS_NATIVE_LIBRARY_PATH/)
  const json = run(app, ['status', '--json'], dbEnv)
  assert.equal(json.status, 70)
  assert.equal(JSON.parse(json.stdout).error.code, 'NATIVE_MISSING')
  // the API says the same, with the code
  const api = spawnSync(process.execPath, ['--input-type=module', '-e', "import('godwit').then(() => process.exit(0), (e) => { console.log(JSON.stringify({ code: e.code, exitCode: e.exitCode, message: e.message })); process.exit(1) })"], { cwd: app, env: cleanEnv(dbEnv), encoding: 'utf8' })
  assert.equal(api.status, 1, api.stderr)
  assert.deepEqual((({ code, exitCode }) => ({ code, exitCode }))(JSON.parse(api.stdout)), { code: 'NATIVE_MISSING', exitCode: 70 })

  // the documented fallback: a binary built from source, pointed at
  const fallback = run(app, ['status'], { ...dbEnv, NAPI_RS_NATIVE_LIBRARY_PATH: good })
  assert.equal(fallback.status, 0, fallback.stdout + fallback.stderr)
  // pointed at something that is not a binary: the message names the variable
  const garbage = path.join(ws, 'garbage.node')
  writeFileSync(garbage, 'not a binary')
  const wrong = run(app, ['status'], { ...dbEnv, NAPI_RS_NATIVE_LIBRARY_PATH: garbage })
  expectMissing(wrong, /NAPI_RS_NATIVE_LIBRARY_PATH points at .*garbage\.node, which did not load: .*garbage\.node/)
})
