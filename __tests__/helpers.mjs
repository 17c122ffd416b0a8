// Test helpers: run the real CLI as a child process, in throwaway folders and git repositories.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, cpSync, realpathSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { validateReport } from './report-schema.mjs'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const CLI = path.join(ROOT, 'scripts', 'godwit.js')
export const FIXTURES = path.join(ROOT, '__tests__', 'fixtures')

// Variables that change godwit's behaviour; tests set them explicitly, never inherit them (CI runs
// this suite with CI=true, and `DATABASE_URL=... pnpm test` must not leak the server into a test
// that means to have no connection settings).
const CONTROLLED = ['CI', 'DATABASE_URL', 'PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSERVICE',
  'PGOPTIONS', 'PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'PGAPPNAME', 'MIGRATION_STATUS_TIMEOUT', 'GIT_SHA', 'GITHUB_SHA', 'MIGRATION_BASE_REF', 'GITHUB_BASE_REF', 'GITHUB_ACTIONS', 'NO_COLOR', 'FORCE_COLOR', 'NODE_ENV', 'MIGRATION_JOB',
  'MIGRATION_DIR', 'MIGRATION_MODULE_TIMEOUT', 'MIGRATION_HISTORY_SCHEMA', 'MIGRATION_HISTORY_TABLE', 'MIGRATION_LOCK_TIMEOUT',
  'MIGRATION_STATEMENT_TIMEOUT', 'MIGRATION_TIMEOUT_SECONDS', 'MIGRATION_LOCK_RETRIES']

export function cleanEnv(extra = {}) {
  const env = { ...process.env }
  for (const k of CONTROLLED) delete env[k]
  return { ...env, ...extra }
}

/** Run `godwit ...args`; resolves to {code, stdout, stderr, json}. */
export function godwit(args, { cwd = ROOT, env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(env) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => {
      let json
      if (args.includes('--json')) {
        try {
          json = JSON.parse(stdout)
        } catch {
          json = undefined
        }
        // every `up --json` document is a report (a fleet's is its summary, held to its own
        // schema by the fleet tests): hold it to the shipped schema
        if (json && ['up', 'down', 'plan'].includes(args[0]) && json.command && json.fleetVersion === undefined) validateReport(json)
      }
      resolve({ code, stdout, stderr, json })
    })
  })
}

/** A fresh temporary folder removed after the test. */
export function tmpDir(t, prefix = 'godwit-test-') {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Copy a fixture folder into a temporary folder; returns the copy's path. */
export function fixtureCopy(t, rel) {
  const dir = path.join(tmpDir(t), 'migrations')
  cpSync(path.join(FIXTURES, rel), dir, { recursive: true })
  return dir
}

export function git(cwd, ...args) {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...cleanEnv(), GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  })
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout.trim()
}

/** A git repository with `main` checked out and no commits. */
export function gitRepo(t) {
  const dir = tmpDir(t, 'godwit-git-')
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'config', 'core.autocrlf', 'false')
  return dir
}

/** The (file, rule) pairs of a check report's errors (warnings do not fail a check). */
export function rules(json) {
  return json.violations.filter((v) => v.severity === 'error').map((v) => [v.file, v.rule]).sort()
}
