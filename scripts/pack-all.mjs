// `pnpm pack:all`: the packages godwit publishes, as tarballs. One platform package per napi
// target (npm/<platform>/package.json as `napi create-npm-dirs` wrote it, plus its binary) and the
// root package, whose package.json gains `optionalDependencies` on every platform package at the
// exact version (what `napi pre-publish` adds at publish time) and loses what only this repository
// needs (scripts, devDependencies). The release workflow publishes these same tarballs, so what the
// install test installed is what users get.
//
//   node scripts/pack-all.mjs [--targets all|host|<triple>,...] [--reuse-build] [--prebuilt <dir>]
//                             [--binaries-only] [--out <dir>]
//
// Binaries: built here with `napi build` (Linux targets through `-x`, cargo-zigbuild and zig;
// gnu targets against glibc 2.17 with zig's `.2.17` suffix); `--prebuilt <dir>` takes them
// from a folder instead (the release workflow's downloaded artifacts); `--reuse-build` takes the
// host's from the addon `pnpm build` already wrote in the repository root (tests and local tries:
// that one is linked against this machine's glibc and is marked `dev` in the manifest). Targets
// this machine cannot build (Windows needs the MSVC SDK, macOS the macOS SDK's frameworks) are
// listed as skipped with the reason; the release workflow builds them on their own OS. `--binaries-only` stops after the builds (the release
// workflow's build jobs upload .artifacts/build/<triple>/*.node).
//
// Writes <out>/*.tgz and <out>/manifest.json (targets, sizes, how each binary was made).
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { parseTriple } from '@napi-rs/cli'
import { zigDir } from './zig.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: 'all' },
    'reuse-build': { type: 'boolean', default: false },
    prebuilt: { type: 'string' },
    'binaries-only': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(ROOT, '.artifacts', 'pack') },
  },
})
const out = path.resolve(values.out)
const say = (s) => process.stderr.write(`pack:all: ${s}\n`)

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], ...opts })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`)
  return r
}

/** The host's target triple, as napi names it. */
function hostTriple() {
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch] ?? process.arch
  if (process.platform === 'linux') {
    const musl = !process.report.getReport().header.glibcVersionRuntime
    return `${arch}-unknown-linux-${musl ? 'musl' : 'gnu'}`
  }
  if (process.platform === 'darwin') return `${arch}-apple-darwin`
  if (process.platform === 'win32') return `${arch}-pc-windows-msvc`
  return `${arch}-unknown-${process.platform}`
}

/** Every `.node` under `dir`, by file name. */
function findBinaries(dir) {
  const found = new Map()
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.node')) found.set(e.name, p)
    }
  }
  walk(dir)
  return found
}

/**
 * Where this target's binary comes from: `{ file, build }` or `{ skipped }`. Builds it when it
 * has to, into .artifacts/build/<triple>.
 */
function binaryFor(target, host, zig, prebuilt) {
  const name = `${pkg.napi.binaryName}.${target.platformArchABI}.node`
  if (prebuilt) {
    // A release publishes every platform or none.
    const file = prebuilt.get(name) ?? fail(`no ${name} in ${values.prebuilt}: a release needs every target's binary`)
    return { file, build: 'prebuilt' }
  }
  if (values['reuse-build'] && target.triple === host) {
    const file = path.join(ROOT, name)
    if (!existsSync(file)) return { skipped: `${name} is not built: run \`pnpm build\` first` }
    return { file, build: 'dev' }
  }
  // Windows and macOS binaries build natively on their own OS (both arches, with the platform's
  // SDK); Linux ones through zig, gnu ones against glibc 2.17 whatever this machine's glibc is.
  const native = target.platform === process.platform && target.platform !== 'linux'
  if (target.abi === 'msvc' && !native) return { skipped: 'Windows MSVC binaries need the MSVC SDK: the release workflow builds them on Windows' }
  // rustls-native-certs (the macOS trust store) and whoami link Security, CoreFoundation and
  // SystemConfiguration, which only the macOS SDK has; zig ships no Apple frameworks.
  if (target.platform === 'darwin' && !native) return { skipped: 'macOS binaries link Apple frameworks only the macOS SDK has: the release workflow builds them on macOS' }
  if (!native && zig === null) return { skipped: 'needs zig for cross builds and the glibc 2.17 floor: `python3 -m pip install --target .tools/zig ziglang cargo-zigbuild`' }
  const triple = target.abi === 'gnu' ? `${target.triple}.2.17` : target.triple
  const outDir = path.join(ROOT, '.artifacts', 'build', target.triple)
  rmSync(outDir, { recursive: true, force: true })
  const env = { ...process.env, PATH: zig ? `${zig}${path.delimiter}${process.env.PATH}` : process.env.PATH }
  // musl cdylibs must link libc dynamically: Rust's musl targets link it statically by default.
  if (target.abi === 'musl') env[`CARGO_TARGET_${target.triple.toUpperCase().replaceAll('-', '_')}_RUSTFLAGS`] = '-C target-feature=-crt-static'
  say(`building ${triple}`)
  const started = Date.now()
  run(process.execPath, [napiCli(), 'build', '--platform', '--release', '--target', triple, ...(native ? [] : ['-x']), '--no-js', '--output-dir', outDir], { env })
  const file = path.join(outDir, name)
  if (!existsSync(file)) throw new Error(`napi build wrote no ${name} in ${outDir}`)
  return { file, build: native ? 'native' : 'zig', seconds: Math.round((Date.now() - started) / 100) / 10 }
}

/** napi's CLI as a JS file node runs (no .cmd shim on Windows). */
function napiCli() {
  const dir = path.join(ROOT, 'node_modules', '@napi-rs', 'cli')
  const bin = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).bin
  return path.join(dir, typeof bin === 'string' ? bin : bin.napi)
}

/** `pnpm pack` of a staged folder into `out`; the tarball's path. */
function pack(dir) {
  const before = new Set(readdirSync(out))
  run(process.execPath, [pnpmPath(), 'pack', '--pack-destination', out], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  const made = readdirSync(out).filter((f) => f.endsWith('.tgz') && !before.has(f))
  if (made.length !== 1) throw new Error(`pnpm pack in ${dir} made ${made.length} tarballs`)
  return path.join(out, made[0])
}

/** pnpm's JS entry: the one running this script, else the one on PATH. */
function pnpmPath() {
  if (process.env.npm_execpath && /pnpm/.test(process.env.npm_execpath)) return process.env.npm_execpath
  const r = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['pnpm'], { encoding: 'utf8' })
  const bin = r.stdout.trim().split('\n')[0]
  if (!bin) throw new Error('pnpm is not on PATH: `npm i -g pnpm@10`')
  // pnpm's bin is a JS file (or a link to one); node runs it directly.
  return bin
}

function main() {
  const all = pkg.napi.targets.map(parseTriple)
  const host = hostTriple()
  const wanted = values.targets === 'all' ? all : values.targets === 'host' ? all.filter((t) => t.triple === host) : values.targets.split(',').map((t) => all.find((a) => a.triple === t.trim()) ?? fail(`unknown target ${t}; package.json napi.targets has: ${pkg.napi.targets.join(', ')}`))
  if (wanted.length === 0) fail(`this machine (${host}) is not among napi.targets`)
  const prebuilt = values.prebuilt ? findBinaries(path.resolve(values.prebuilt)) : null
  const zig = prebuilt ? null : zigDir(ROOT)

  if (values['binaries-only']) {
    for (const target of wanted) {
      const got = binaryFor(target, host, zig, null)
      if (got.skipped) fail(`${target.triple}: ${got.skipped}`)
      say(`${target.platformArchABI}: ${path.relative(ROOT, got.file)}`)
    }
    return
  }
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const stage = path.join(out, 'stage')
  const manifest = { version: pkg.version, host, targets: [], root: null }

  for (const target of all) {
    const entry = { triple: target.triple, platform: target.platformArchABI, package: `${pkg.name}-${target.platformArchABI}` }
    manifest.targets.push(entry)
    if (!wanted.includes(target)) {
      entry.skipped = 'not asked for (--targets)'
      continue
    }
    const got = binaryFor(target, host, zig, prebuilt)
    if (got.skipped) {
      entry.skipped = got.skipped
      say(`${target.platformArchABI}: skipped: ${got.skipped}`)
      continue
    }
    const dir = path.join(stage, target.platformArchABI)
    cpSync(path.join(ROOT, 'npm', target.platformArchABI), dir, { recursive: true })
    const platformPkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'))
    if (platformPkg.version !== pkg.version) fail(`npm/${target.platformArchABI}/package.json is at ${platformPkg.version}, the root at ${pkg.version}: run \`napi version\``)
    cpSync(got.file, path.join(dir, path.basename(got.file)))
    cpSync(path.join(ROOT, 'LICENSE'), path.join(dir, 'LICENSE'))
    Object.assign(entry, { build: got.build, binary: path.basename(got.file), binaryBytes: statSync(got.file).size, buildSeconds: got.seconds })
    const tgz = pack(dir)
    Object.assign(entry, { tarball: path.basename(tgz), tarballBytes: statSync(tgz).size })
    say(`${target.platformArchABI}: ${entry.tarball} (${kib(entry.tarballBytes)}, binary ${kib(entry.binaryBytes)}, ${got.build})`)
  }

  // The root package: its `files`, and a package.json for users, not for this repository.
  const rootDir = path.join(stage, 'root')
  mkdirSync(rootDir, { recursive: true })
  if (!existsSync(path.join(ROOT, 'binding.js'))) fail('binding.js is missing: `pnpm build` writes it')
  for (const f of [...pkg.files, 'README.md']) {
    const src = path.join(ROOT, f)
    if (!existsSync(src)) fail(`package.json files lists ${f}, which does not exist`)
    cpSync(src, path.join(rootDir, f), { recursive: true })
  }
  const published = { ...pkg }
  delete published.scripts
  delete published.devDependencies
  delete published.pnpm
  delete published.packageManager
  published.optionalDependencies = Object.fromEntries(all.map((t) => [`${pkg.name}-${t.platformArchABI}`, pkg.version]))
  writeFileSync(path.join(rootDir, 'package.json'), JSON.stringify(published, null, 2) + '\n')
  const rootTgz = pack(rootDir)
  manifest.root = { tarball: path.basename(rootTgz), tarballBytes: statSync(rootTgz).size }
  say(`root: ${manifest.root.tarball} (${kib(manifest.root.tarballBytes)})`)
  rmSync(stage, { recursive: true, force: true })

  writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  const skipped = manifest.targets.filter((t) => t.skipped)
  say(`${manifest.targets.length - skipped.length} of ${manifest.targets.length} platform packages in ${path.relative(ROOT, out) || out}`)
}

function kib(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`
}

function fail(message) {
  say(`error: ${message}`)
  process.exit(2)
}

try {
  main()
} catch (err) {
  fail(err.message)
}
