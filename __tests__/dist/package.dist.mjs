// What the packed tarballs hold (`pnpm test:dist` packs them first with `pnpm pack:all`): a root
// package with no binary, no build step and no dev-only file, that depends on every platform
// package at its exact version; platform packages that carry one binary and say which os, cpu and
// libc it is for; every napi target either packed here or built by the release workflow.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from '../helpers.mjs'
import { releasePack } from '../packages.mjs'

const pack = releasePack()
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))

/** The files in a tarball (without npm's `package/` prefix) and its package.json. */
function tarball(file) {
  const list = spawnSync('tar', ['-tzf', file], { encoding: 'utf8' })
  assert.equal(list.status, 0, list.stderr)
  const files = list.stdout.split('\n').filter((f) => f && !f.endsWith('/')).map((f) => f.replace(/^package\//, '')).sort()
  const json = spawnSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8' })
  assert.equal(json.status, 0, json.stderr)
  return { files, manifest: JSON.parse(json.stdout) }
}

test('the_root_tarball_holds_the_runtime_only_with_no_binary_no_install_step_and_no_dev_files', () => {
  const { files, manifest } = tarball(pack.tarball('godwit'))
  assert.deepEqual(files.filter((f) => f.endsWith('.node')), [], 'no binary in the root package')
  for (const dev of ['scripts/demo.mjs', 'scripts/embedded-pg.mjs', 'scripts/ensure-build.mjs', 'scripts/faults-report.mjs', 'scripts/pack-all.mjs']) {
    assert.ok(!files.includes(dev), `${dev} is dev-only`)
  }
  assert.deepEqual(files.filter((f) => /^(src|__tests__|bench|npm|db|examples|docs)\/|^Cargo\./.test(f)), [])
  for (const needed of ['LICENSE', 'README.md', 'package.json', 'index.js', 'index.d.ts', 'binding.js', 'scripts/godwit.js', 'lib/native.js', 'lib/native-missing.js']) {
    assert.ok(files.includes(needed), `${needed} is in the root package`)
  }
  // no lifecycle script at all: nothing runs on install, npm has nothing to warn about
  assert.equal(manifest.scripts, undefined)
  assert.equal(manifest.devDependencies, undefined)
  assert.equal(manifest.license, 'MIT')
  assert.match(manifest.repository?.url ?? '', /^git\+https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/)
  assert.deepEqual(manifest.bin, { godwit: 'scripts/godwit.js' })
  assert.deepEqual(manifest.dependencies, pkg.dependencies)
  // every platform package, at exactly this version
  const expected = Object.fromEntries(pack.manifest.targets.map((t) => [t.package, pkg.version]))
  assert.deepEqual(manifest.optionalDependencies, expected)
  assert.equal(Object.keys(expected).length, pkg.napi.targets.length)
})

test('every_file_the_root_package_requires_is_in_it', () => {
  const { files } = tarball(pack.tarball('godwit'))
  // relative requires and imports of every shipped JS file resolve inside the package
  // binding.js is napi's loader: its local requires (a binary or a WASI build next to it) are
  // optional fallbacks it tries and skips; the platform packages carry the binaries
  for (const f of files.filter((f) => /\.(c|m)?js$/.test(f) && f !== 'binding.js')) {
    const text = spawnSync('tar', ['-xzOf', pack.tarball('godwit'), `package/${f}`], { encoding: 'utf8' }).stdout
    for (const m of text.matchAll(/(?:require\(|from |import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1]))
      const candidates = [target, `${target}.js`, `${target}/index.js`]
      assert.ok(candidates.some((c) => files.includes(c)), `${f} requires ${m[1]}, which the package lacks`)
    }
  }
})

test('each_platform_tarball_carries_one_binary_for_the_os_cpu_and_libc_it_declares', () => {
  assert.ok(pack.built.length > 0, 'no platform package was packed')
  for (const t of pack.built) {
    const { files, manifest } = tarball(path.join(pack.dir, t.tarball))
    assert.deepEqual(files, ['LICENSE', 'README.md', t.binary, 'package.json'].sort(), t.platform)
    assert.equal(manifest.name, t.package)
    assert.equal(manifest.version, pkg.version)
    assert.equal(manifest.main, t.binary)
    assert.equal(manifest.scripts, undefined)
    const [os, cpu, abi] = t.platform.split('-')
    assert.deepEqual(manifest.os, [os], t.platform)
    assert.deepEqual(manifest.cpu, [cpu], t.platform)
    if (os === 'linux') assert.deepEqual(manifest.libc, [abi === 'musl' ? 'musl' : 'glibc'], t.platform)
    else assert.equal(manifest.libc, undefined)
    // what npm/<platform>/package.json (napi create-npm-dirs) says, unchanged
    const source = JSON.parse(readFileSync(path.join(ROOT, 'npm', t.platform, 'package.json'), 'utf8'))
    assert.deepEqual(manifest, source)
  }
})

test('every_linux_target_is_packed_on_linux_and_the_rest_are_left_to_the_release_workflow_with_the_reason', () => {
  // the release workflow builds every target on its own OS (release.test.mjs holds its matrix to
  // napi.targets); on Linux with zig, pack:all builds all four Linux ones, and says why not the rest
  for (const t of pack.manifest.targets) {
    if (t.tarball) continue
    const platform = t.platform.split('-')[0]
    assert.notEqual(platform, process.platform, `${t.platform} was not packed on its own OS: ${t.skipped}`)
    assert.match(t.skipped ?? '', platform === 'win32' ? /MSVC SDK/ : /macOS SDK/, `${t.platform}: ${t.skipped}`)
  }
  if (process.platform === 'linux') assert.deepEqual(pack.built.map((t) => t.platform).filter((p) => p.startsWith('linux')).sort(), ['linux-arm64-gnu', 'linux-arm64-musl', 'linux-x64-gnu', 'linux-x64-musl'])
})
