// A throwaway project folder with migrations sealed into its ledger, and its `up` report.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { godwit, tmpDir, git } from './helpers.mjs'
import { query } from './db.mjs'
import { validateReport } from './report-schema.mjs'

/** A project folder with these migrations (name -> module source), sealed into the ledger. */
export async function project(t, migrations) {
  const cwd = tmpDir(t)
  // a repository without commits: nothing is merged, so `check` re-seals edits in these tests
  git(cwd, 'init', '-q', '-b', 'main')
  const dir = path.join(cwd, 'db', 'migrations')
  mkdirSync(dir, { recursive: true })
  for (const [file, src] of Object.entries(migrations)) writeFileSync(path.join(dir, file), src)
  const sealed = await godwit(['check'], { cwd })
  assert.equal(sealed.code, 0, sealed.stdout + sealed.stderr)
  return cwd
}

export const sql = (s) => `export const up = ${JSON.stringify(s)}\n`
export const V = (i) => `17000000000${String(i).padStart(2, '0')}`

/** A project about to adopt godwit (git repository, package.json) with another tool's migrations in `source/` (path -> text). */
export function sourceProject(t, files) {
  const cwd = tmpDir(t)
  git(cwd, 'init', '-q', '-b', 'main')
  writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ name: 'adopter', private: true }, null, 2) + '\n')
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(cwd, 'source', rel)), { recursive: true })
    writeFileSync(path.join(cwd, 'source', rel), text)
  }
  return cwd
}

/** The report `up --sha <sha>` wrote, validated against the shipped JSON Schema. */
export function report(cwd, sha = 'test') {
  const doc = JSON.parse(readFileSync(path.join(cwd, '.artifacts', 'deploy', sha, 'migration.json'), 'utf8'))
  validateReport(doc)
  return doc
}

export async function tables(url) {
  return (await query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((r) => r.tablename)
}
