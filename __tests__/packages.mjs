// godwit as users install it: the tarballs `scripts/pack-all.mjs` writes (a root package and one
// package per platform), installed into a brand-new pnpm workspace.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT, cleanEnv, tmpDir } from './helpers.mjs'

/** pnpm as the test runner was started (`pnpm test` sets npm_execpath), else from PATH. */
export function pnpm(args, opts = {}) {
  const exec = process.env.npm_execpath
  const [cmd, pre] = exec && /pnpm/.test(exec) ? [process.execPath, [exec]] : ['pnpm', []]
  return spawnSync(cmd, [...pre, ...args], { encoding: 'utf8', ...opts, env: cleanEnv(opts.env) })
}

/**
 * The packed packages: `GODWIT_PACK_DIR`, else .artifacts/pack as `pnpm pack:all` left it
 * (`pnpm test:dist` runs it first). `{ dir, manifest, tarball(name) }`.
 */
export function releasePack() {
  const dir = process.env.GODWIT_PACK_DIR ? path.resolve(process.env.GODWIT_PACK_DIR) : path.join(ROOT, '.artifacts', 'pack')
  const file = path.join(dir, 'manifest.json')
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm pack:all\` first (\`pnpm test:dist\` does)`)
  return withTarballs(dir, JSON.parse(readFileSync(file, 'utf8')))
}

/**
 * The root package and this machine's platform package, packed now into a temporary folder from
 * the addon the test command already built (no release build: for tests that need godwit as
 * installed, not the release binaries).
 */
export function devPack(t) {
  const dir = tmpDir(t, 'godwit-pack-')
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'pack-all.mjs'), '--targets', 'host', '--reuse-build', '--out', dir], { cwd: ROOT, encoding: 'utf8', env: cleanEnv() })
  if (r.status !== 0) throw new Error(`pack-all failed: ${r.stderr}`)
  return withTarballs(dir, JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')))
}

function withTarballs(dir, manifest) {
  const tarball = (name) => {
    if (name === 'godwit') return path.join(dir, manifest.root.tarball)
    const t = manifest.targets.find((x) => x.package === name)
    return t?.tarball ? path.join(dir, t.tarball) : undefined
  }
  const built = manifest.targets.filter((t) => t.tarball)
  return { dir, manifest, tarball, built }
}

/**
 * pnpm `overrides` that make `godwit@<version>` and this machine's platform package resolve to the
 * packed tarballs, as a registry would serve them. Only this machine's: pnpm installs a `file:`
 * dependency whatever its `os`/`cpu`/`libc` say (it filters registry packages only), so the other
 * platforms' packages are left to resolve nowhere, which pnpm skips for optional dependencies
 * just as it skips a registry's packages for other platforms.
 */
export function overrides(pack) {
  const host = pack.manifest.targets.find((t) => t.triple === pack.manifest.host)
  if (!host?.tarball) throw new Error(`this machine's platform (${pack.manifest.host}) was not packed`)
  return { godwit: `file:${pack.tarball('godwit')}`, [host.package]: `file:${path.join(pack.dir, host.tarball)}` }
}

/** PATH without any folder that holds `cargo` or `rustc`: a machine with no Rust. */
export function pathWithoutRust() {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => d && !['cargo', 'rustc', 'rustup'].some((b) => existsSync(path.join(d, b))))
    .join(path.delimiter)
}

/** A file's size, or the total of a folder's files (links not followed). */
export function diskBytes(p) {
  const r = spawnSync('du', ['-sb', p], { encoding: 'utf8' })
  if (r.status === 0) return Number(r.stdout.split(/\s/)[0])
  return statSync(p).size
}

/** Write package.json for a new workspace package. */
export function writeJson(file, doc) {
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
}
