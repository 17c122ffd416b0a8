// What godwit says it wrote survives a power cut: every file it writes goes through a temporary
// name, is flushed to the disk before it is renamed into place, and its folder is flushed after
// (src/files). A power cut cannot be staged in a test, so the promise is checked where it is
// kept: in the system calls of the real CLI, traced with strace (a flush missing or after the
// rename is the empty ledger or report a crashed host comes back with).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { CLI, cleanEnv, git, tmpDir } from './helpers.mjs'
import { freshDatabase, stopServer } from './db.mjs'
import { project, sourceProject, sql, V } from './project.mjs'

after(stopServer)

const traceable = spawnSync('strace', ['-f', '-o', '/dev/null', 'true']).status === 0

/** `godwit ...args` under strace: its exit code and, in order, each flush and rename it made. */
function traced(t, args, { cwd, env = {} }) {
  const log = path.join(tmpDir(t, 'godwit-strace-'), 'calls')
  const r = spawnSync('strace', ['-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', '-o', log, process.execPath, CLI, ...args], { cwd, env: cleanEnv(env), encoding: 'utf8' })
  const calls = []
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const flush = line.match(/\b(?:fsync|fdatasync)\(\d+<([^>]+)>/)
    if (flush) calls.push({ flush: flush[1] })
    const moved = line.match(/\brename(?:at2?)?\(.*?"([^"]+)".*?"([^"]+)"/)
    if (moved && !/= -1/.test(line)) calls.push({ rename: [path.resolve(cwd, moved[1]), path.resolve(cwd, moved[2])] })
  }
  return { code: r.status, stderr: r.stderr, calls }
}

/** `file` was written the durable way: its temporary flushed, renamed to it, then its folder flushed. */
function writtenDurably(calls, file) {
  const moved = calls.findIndex((c) => c.rename?.[1] === file)
  assert.ok(moved >= 0, `${file} is renamed into place`)
  const tmp = calls[moved].rename[0]
  assert.equal(path.dirname(tmp), path.dirname(file), 'through a temporary name in the same folder')
  const flushed = calls.findIndex((c) => c.flush === tmp)
  assert.ok(flushed >= 0 && flushed < moved, `${path.basename(tmp)} is flushed before its rename: ${JSON.stringify(calls)}`)
  const folder = calls.findIndex((c, i) => i > moved && c.flush === path.dirname(file))
  assert.ok(folder > moved, `${path.dirname(file)} is flushed after the rename`)
}

/** Each new migration file is flushed before the ledger that seals it is renamed into place. */
function sealedAfterFlush(calls, dir) {
  const ledger = calls.findIndex((c) => c.rename?.[1] === path.join(dir, 'checksums.json'))
  const files = calls.filter((c) => c.flush && path.dirname(c.flush) === dir && c.flush.endsWith('.mjs'))
  assert.ok(files.length > 0, 'the new migration files are flushed')
  for (const f of files) assert.ok(calls.indexOf(f) < ledger, `${path.basename(f.flush)} flushed before the ledger seals it`)
  return files.length
}

test('create flushes the new migration, then the ledger it seals it into', { skip: !traceable && 'strace cannot trace here' }, (t) => {
  const cwd = tmpDir(t)
  git(cwd, 'init', '-q', '-b', 'main')
  mkdirSync(path.join(cwd, 'db', 'migrations'), { recursive: true })
  const r = traced(t, ['create', 'add_widgets'], { cwd })
  assert.equal(r.code, 0, r.stderr)
  writtenDurably(r.calls, path.join(cwd, 'db', 'migrations', 'checksums.json'))
  assert.equal(sealedAfterFlush(r.calls, path.join(cwd, 'db', 'migrations')), 1)
})

test('an up that applies flushes its report and the new folders; a no-op up flushes nothing', { skip: !traceable && 'strace cannot trace here' }, async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, { [`${V(1)}_a.mjs`]: sql('CREATE TABLE a (id int)') })
  const applied = traced(t, ['up', '--sha', 'rel1'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(applied.code, 0, applied.stderr)
  const sha = path.join(cwd, '.artifacts', 'deploy', 'rel1')
  const attempt = applied.calls.find((c) => c.rename && path.dirname(c.rename[1]) === path.join(sha, 'attempts')).rename[1]
  writtenDurably(applied.calls, attempt)
  // the latest is a link to the flushed attempt: its own folder flushed after its rename
  const latest = path.join(sha, 'migration.json')
  const linked = applied.calls.findIndex((c) => c.rename?.[1] === latest)
  assert.ok(linked >= 0 && applied.calls.some((c, i) => i > linked && c.flush === sha), 'the latest report\'s folder is flushed after its rename')
  // each folder made for this sha is flushed in the folder that holds it
  for (const made of [sha, path.join(sha, 'attempts')]) {
    assert.ok(applied.calls.some((c) => c.flush === path.dirname(made)), `${path.dirname(made)} flushed for ${path.basename(made)}`)
  }
  assert.equal(JSON.parse(readFileSync(latest, 'utf8')).outcome, 'applied')
  const noop = traced(t, ['up', '--sha', 'rel1'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(noop.code, 0, noop.stderr)
  assert.equal(JSON.parse(readFileSync(latest, 'utf8')).outcome, 'nothing-to-do', 'the no-op wrote its report')
  assert.deepEqual(noop.calls.filter((c) => c.flush?.startsWith(path.join(cwd, '.artifacts'))), [], 'a clean no-op\'s report is not flushed (it records nothing the history does not)')
})

test('import flushes the migrations before their ledger, and what Node writes goes through the same writer: the report and package.json\'s baseline', { skip: !traceable && 'strace cannot trace here' }, (t) => {
  const cwd = sourceProject(t, { '20240101000000_create_a.sql': '-- migrate:up\nCREATE TABLE a (id int);\n\n-- migrate:down\nDROP TABLE a;\n' })
  const r = traced(t, ['import', 'dbmate', 'source'], { cwd })
  assert.equal(r.code, 0, r.stderr)
  writtenDurably(r.calls, path.join(cwd, '.artifacts', 'import', 'dbmate.json'))
  writtenDurably(r.calls, path.join(cwd, 'package.json'))
  writtenDurably(r.calls, path.join(cwd, 'db', 'migrations', 'checksums.json'))
  assert.equal(sealedAfterFlush(r.calls, path.join(cwd, 'db', 'migrations')), 1)
  assert.ok(JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8')).godwit.baseline, 'the baseline is set')
})
