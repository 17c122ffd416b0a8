// The copy-me examples stay true to the CLI: every `pnpm db:migrate:*` they run is a script of
// this package, every flag they pass is in that command's --help, and the migration Job keeps
// the fail-closed settings the playbook needs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { godwit, ROOT } from './helpers.mjs'

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const read = (rel) => readFileSync(path.join(ROOT, 'examples', rel), 'utf8')

test('examples_run_only_real_scripts_with_real_flags', async () => {
  const text = read('github-actions/migration-safety.yml') + read('kubernetes/migration-job.yaml')
  const uses = [...text.matchAll(/pnpm"?,?\s*"?(db:migrate:[a-z]+)"?((?:\s+--[a-z-]+)*)/g)]
  assert.ok(uses.length >= 3, 'the examples run godwit')
  for (const [, script, flags] of uses) {
    assert.ok(pkg.scripts[script], `${script} is not a package script`)
    const command = pkg.scripts[script].split(' ').pop()
    const help = await godwit([command, '--help'])
    for (const flag of flags.trim().split(/\s+/).filter(Boolean)) {
      assert.ok(help.stdout.includes(flag), `${script}: ${flag} is not in \`godwit ${command} --help\``)
    }
  }
})

test('the_migration_job_is_fail_closed_pinned_and_bounded', () => {
  const job = read('kubernetes/migration-job.yaml')
  assert.match(job, /^\s+backoffLimit: 0\b/m)
  assert.match(job, /^\s+restartPolicy: Never\b/m)
  assert.match(job, /image: \S+@sha256:/)
  const budget = Number(job.match(/name: MIGRATION_TIMEOUT_SECONDS\s+value: "(\d+)"/)[1])
  const deadline = Number(job.match(/activeDeadlineSeconds: (\d+)/)[1])
  assert.ok(deadline > budget && deadline <= budget + 120, `deadline ${deadline} vs budget ${budget}`)
  assert.match(job, /command: \["pnpm", "db:migrate:up"\]/)
})
