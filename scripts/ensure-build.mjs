// Builds the native addon when it is missing or older than its Rust sources, so a fresh clone's
// test command works without a separate build step and a stale addon is never tested.
import { readdirSync, statSync, existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function newest(p) {
  const s = statSync(p)
  if (!s.isDirectory()) return s.mtimeMs
  return Math.max(0, ...readdirSync(p).map((e) => newest(path.join(p, e))))
}

const addon = readdirSync(root).find((f) => /^godwit\..*\.node$/.test(f))
const inputs = ['src', 'Cargo.toml', 'Cargo.lock', 'build.rs'].map((p) => path.join(root, p)).filter(existsSync)
const stale =
  !addon ||
  !existsSync(path.join(root, 'binding.js')) ||
  Math.max(...inputs.map(newest)) > statSync(path.join(root, addon)).mtimeMs

if (stale) {
  process.stderr.write(addon ? 'godwit: the native addon is older than src/, rebuilding\n' : 'godwit: building the native addon\n')
  const napi = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'napi.cmd' : 'napi')
  const r = spawnSync(napi, ['build', '--platform', '--release', '--js', 'binding.js', '--dts', 'binding.d.ts'], {
    cwd: root,
    stdio: 'inherit',
  })
  if (r.status !== 0) {
    process.stderr.write(`godwit: building the addon failed (exit ${r.status ?? r.signal}); is Rust (cargo) installed?\n`)
    process.exit(r.status || 1)
  }
}
