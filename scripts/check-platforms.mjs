// `pnpm lint:platforms`: clippy, warnings denied, as macOS and Windows compile the Rust code. Their
// binaries are built only by the release workflow (on macOS and Windows, with their SDKs), so
// without this a Unix-only or Linux-only API outside its `cfg` surfaces first there. It did, twice:
// tokio-postgres's `Host::Unix`, which Windows builds do not have (the Windows build could not
// compile), and rustix's `mknodat`, which macOS does not have (a test).
//
// A check compiles but does not link, so no SDK is needed: zig (through cargo-zigbuild) is the C
// compiler for what ring builds for the target. Windows is checked as x86_64-pc-windows-gnu (the
// shipped msvc target needs MSVC's headers even to compile ring's C) and macOS as x86_64: godwit's
// code depends on the OS, never on the C ABI or the architecture, so the `cfg`s are the shipped
// targets'. For the gnu Windows target napi-build (run by build.rs) insists on finding a
// libnode.dll to name in a link flag that a check never uses: an empty placeholder satisfies it.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { zigDir } from './zig.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const TARGETS = ['x86_64-pc-windows-gnu', 'x86_64-apple-darwin']

function fail(message) {
  process.stderr.write(`lint:platforms: ${message}\n`)
  process.exit(1)
}

const installed = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' })
if (installed.status !== 0) fail(`rustup is not available: the check needs the Rust targets ${TARGETS.join(', ')}`)
const missing = TARGETS.filter((t) => !installed.stdout.split('\n').includes(t))
if (missing.length) fail(`the Rust targets ${missing.join(', ')} are not installed: \`rustup target add ${missing.join(' ')}\``)
const zig = zigDir(ROOT)
const env = { ...process.env, PATH: zig ? `${zig}${path.delimiter}${process.env.PATH}` : process.env.PATH }
if (zig === null || spawnSync('cargo-zigbuild', ['--version'], { env }).status !== 0) {
  fail('zig and cargo-zigbuild are not installed: `python3 -m pip install --target .tools/zig ziglang cargo-zigbuild`')
}

const placeholder = path.join(ROOT, '.artifacts', 'libnode-placeholder')
mkdirSync(placeholder, { recursive: true })
writeFileSync(path.join(placeholder, 'libnode.dll'), '')
env.LIBNODE_PATH = placeholder

for (const target of TARGETS) {
  const r = spawnSync('cargo-zigbuild', ['clippy', '--quiet', '--all-targets', '--target', target, '--', '-D', 'warnings'], { cwd: ROOT, stdio: 'inherit', env })
  if (r.status !== 0) fail(`the Rust code does not pass clippy as ${target} compiles it: see above`)
  process.stderr.write(`lint:platforms: ${target} ok\n`)
}
