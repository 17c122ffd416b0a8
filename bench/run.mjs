// `pnpm bench`: godwit beside its peers and beside the physical floor, measured in one run.
//
// For N migrations (migration i creates `t_i (id bigint primary key, v text)`), in every tool's own
// format, on the server DATABASE_URL names (else a throwaway embedded PostgreSQL):
//   W1 apply N to an empty database   W2 `up` with all N applied (nothing to do)
//   W3 `status` with all N applied     W4 godwit `check` of N in CI mode (all merged; and --all,
//                                         every merged migration judged again)
//   A  godwit import and baseline --from dbmate of N (N <= 1000)
//   W6 `assertSchemaCurrent()` with all N applied: in a running process (module loaded, the call
//      timed with performance.now(), median of 20 after a warm-up), and as a cold API start
//      (`node -e` that imports godwit and calls it) against `node -e 0`
//   W5 a fleet: 100 databases x 50 migrations, godwit's `up --targets` against a shell loop of
//      single godwit runs, a loop of dbmate, and psql on every database with the same concurrency
//   W7 a realistic 300-migration history (imported from dbmate): W1, W2 and W3, godwit against
//      dbmate and node-pg-migrate on the same SQL
// Floors: F1 `psql -f`, one transaction per migration with a history insert; F2 the same SQL in
// one transaction; `node -e 0` for Node's own start-up; F3 Node reading and hashing every file
// (what any runner that verifies every file on every run pays, before its own work); F6a/F6b the
// two halves of W6 in a running process (a new `pg` connection reading the history; reading and
// hashing every file).
// Every timed command is a whole process (wall time from spawn to exit, peak RSS from
// /usr/bin/time); runs are interleaved across tools so machine drift hits all alike; every W1 run
// gets its own fresh database, created and checkpointed outside the timed command.
//
// Usage: `pnpm bench -- --help` (USAGE below); a subset of --workloads and --tools reproduces one goal.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync, rmSync, mkdtempSync, existsSync } from 'node:fs'
import { createHash } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { realisticDbmate, realisticNodePgMigrate } from './history.mjs'
import { server, stopServer } from '../scripts/embedded-pg.mjs'
import { table } from './table.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BENCH = path.join(ROOT, 'bench')
const BIN = path.join(BENCH, 'node_modules', '.bin')
const USAGE = `usage: pnpm bench [-- --sizes 100,1000,10000 --runs 5 --out bench/results.json
                    --workloads W1,W2,W3,W4,W5,W6,W7,A --tools godwit,F1]
  --sizes      migration counts to measure (default 100,1000,10000)
  --runs       timed runs per command (default 5)
  --out        where the results go (default bench/results.json)
  --workloads  a subset of W1,W2,W3,W4,W5,W6,W7,A (default all)
  --tools      only tools and floors whose name starts with one of these (e.g. godwit,F1)`
const ALL_WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'A']
/** A bad flag: the usage, exit 2 (never a stack trace). */
function usage(problem) {
  console.error(`bench: ${problem}\n${USAGE}`)
  process.exit(2)
}
let args
try {
  ;({ values: args } = parseArgs({
    options: {
      sizes: { type: 'string', default: '100,1000,10000' },
      runs: { type: 'string', default: '5' },
      out: { type: 'string', default: path.join(BENCH, 'results.json') },
      workloads: { type: 'string', default: ALL_WORKLOADS.join(',') },
      tools: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    args: process.argv.slice(2).filter((a) => a !== '--'),
  }))
} catch (err) {
  usage(err.message)
}
if (args.help) {
  console.log(USAGE)
  process.exit(0)
}
const SIZES = args.sizes.split(',').filter(Boolean).map(Number)
const RUNS = Number(args.runs)
const WORKLOADS = new Set(args.workloads.split(','))
if (!SIZES.length || !SIZES.every((n) => Number.isInteger(n) && n > 0)) usage(`--sizes ${args.sizes}: positive whole numbers, comma-separated`)
if (!Number.isInteger(RUNS) || RUNS < 1) usage(`--runs ${args.runs}: a whole number, at least 1`)
const unknown = [...WORKLOADS].filter((w) => !ALL_WORKLOADS.includes(w))
if (unknown.length) usage(`--workloads: unknown ${unknown.join(', ')}; known: ${ALL_WORKLOADS.join(', ')}`)
/** `--tools godwit,F1`: only tools (and floors) whose name starts with one of these. */
const ONLY = args.tools?.split(',')
const wanted = (name) => !ONLY || ONLY.some((p) => name.startsWith(p))

if (!existsSync(BIN)) {
  console.error('bench: the peers are not installed; run `pnpm --dir bench install --ignore-workspace` (pnpm bench does it)')
  process.exit(2)
}
const psql = spawnSync('psql', ['--version'], { encoding: 'utf8' })
if (psql.status !== 0) {
  console.error('bench: psql (the floor) is not on PATH; install the PostgreSQL client')
  process.exit(2)
}

const { url: serverUrl } = await server()
const admin = new pg.Client({ connectionString: serverUrl })
await admin.connect()
const dbUrl = (name) => {
  const u = new URL(serverUrl)
  u.pathname = `/${name}`
  return u.toString()
}
let dbCounter = 0
async function freshDb() {
  const name = `godwit_bench_${process.pid}_${dbCounter++}`
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.query('CHECKPOINT')
  // Outside the timed command: flush what the previous run and the DROP before it left for the
  // disk, so one tool's I/O does not land in the next tool's timing.
  spawnSync('sync')
  return name
}

/**
 * `url` through a slow link (bench/slow-link.mjs: every chunk held 2 ms each way), started once
 * and stopped when the bench exits; without TLS, which the link would otherwise add round trips
 * of its own to.
 */
let slowLink
async function slowLinkUrl(url) {
  const u = new URL(url)
  if (!slowLink) {
    const { spawn } = await import('node:child_process')
    const child = spawn(process.execPath, [path.join(BENCH, 'slow-link.mjs'), u.hostname, u.port || '5432', '2'], { stdio: ['ignore', 'pipe', 'inherit'] })
    process.on('exit', () => child.kill())
    const port = await new Promise((resolve, reject) => {
      child.stdout.once('data', (d) => resolve(Number(String(d).trim())))
      child.once('exit', (code) => reject(new Error(`bench/slow-link.mjs exited ${code}`)))
    })
    // the bench's own end is not held up by it
    child.stdout.destroy()
    child.unref()
    slowLink = { child, port }
  }
  u.hostname = '127.0.0.1'
  u.port = String(slowLink.port)
  u.searchParams.set('sslmode', 'disable')
  return u.toString()
}

/** A fresh order each round: no tool always runs right after the same neighbour. */
function shuffled(list) {
  const a = [...list]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}
const dropDb = (name) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)

/**
 * The environment of every timed command. NODE_EXTRA_CA_CERTS makes every Node process parse that
 * certificate bundle at start-up, before any code runs (36 ms of a 56 ms `node -e 0` on a machine
 * that sets it): a cost of the machine, not of a tool, that would shrink every ratio to
 * `node -e 0` and charge the Node tools against dbmate. No timed command needs it (the servers
 * are local), so it is removed; the results record that.
 */
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'))
const ENV_NOTE = process.env.NODE_EXTRA_CA_CERTS ? 'NODE_EXTRA_CA_CERTS removed from the timed commands' : 'NODE_EXTRA_CA_CERTS not set'

/** One whole-process measurement: wall ms and peak RSS KiB. Throws when the command fails. */
function measure({ cmd, argv, cwd, env, okCodes = [0] }) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...argv], { cwd, env: { ...CLEAN_ENV, ...env }, encoding: 'utf8', maxBuffer: 256 << 20 })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (!okCodes.includes(r.status)) {
    throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}:\n${(r.stderr ?? '').slice(-2000)}`)
  }
  const rss = Number(r.stderr.trim().split('\n').pop())
  return { ms, rssKiB: rss }
}

/**
 * `assertSchemaCurrent()` as an API calls it at every start, in a process that has already loaded
 * godwit: the median of 20 calls after a warm-up, timed inside the process; the process's peak RSS.
 */
function inProcess(cwd, env) {
  const api = JSON.stringify(path.join(ROOT, 'index.js'))
  return timedInProcess(cwd, env, `const g = require(${api})`, 'await g.assertSchemaCurrent()')
}

/**
 * `call` (an awaited expression after `setup`) timed as `inProcess` times W6: the median of 20
 * calls after a warm-up, inside one process; and that process's peak RSS.
 */
function timedInProcess(cwd, env, setup, call) {
  const script = `${setup}; (async () => { ${call}; const t = []; for (let i = 0; i < 20; i++) { const a = performance.now(); ${call}; t.push(performance.now() - a) } t.sort((x, y) => x - y); console.log(JSON.stringify({ ms: (t[9] + t[10]) / 2 })) })().catch((e) => { console.error(e.message); process.exit(1) })`
  const r = spawnSync('/usr/bin/time', ['-f', '%M', node, '-e', script], { cwd, env: { ...CLEAN_ENV, ...env }, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`in-process timing exited ${r.status}:\n${r.stderr.slice(-2000)}`)
  return { ms: JSON.parse(r.stdout).ms, rssKiB: Number(r.stderr.trim().split('\n').pop()) }
}

/**
 * W6's floors, each the least one half of `assertSchemaCurrent()` can cost from Node, timed the
 * same way: F6a a new connection (the `pg` client) reading the history rows the core reads (the
 * same query) and closing; F6b reading and hashing every migration file (Node's own fs and
 * crypto, one file after another as an API would). godwit runs the two at once, so W6 can
 * approach the larger of them, not their sum.
 */
const historyFloor = (cwd, env) =>
  timedInProcess(cwd, env, `const pg = require(${JSON.stringify(path.join(BENCH, 'node_modules', 'pg'))})`,
    `{ const c = new pg.Client({ connectionString: process.env.DATABASE_URL }); await c.connect(); await c.query("SELECT version, name, checksum, status, (date_part('epoch', applied_at) * 1000)::bigint, execution_ms, sql_checksum = 'baseline' FROM public.godwit_migrations WHERE status <> 'reverted'"); await c.end() }`)
const filesFloor = (cwd, env) =>
  timedInProcess(cwd, env, `const fs = require('fs'), c = require('crypto'), d = 'db/migrations'`,
    `await (async () => { for (const f of fs.readdirSync(d)) c.createHash('sha256').update(fs.readFileSync(d + '/' + f)).digest('hex') })()`)

const pad = (i, w) => String(i).padStart(w, '0')
const tableSql = (i) => `CREATE TABLE t_${i} (id bigint primary key, v text);`

/** Every tool's migrations for N, in its own format, under one temporary folder. */
function generate(n) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `godwit-bench-${n}-`))
  const gw = path.join(dir, 'godwit', 'db', 'migrations')
  const npm = path.join(dir, 'npm', 'migrations')
  const dbm = path.join(dir, 'dbmate', 'db', 'migrations')
  const gm = path.join(dir, 'gm', 'migrations', 'committed')
  for (const d of [gw, npm, dbm, gm]) mkdirSync(d, { recursive: true })
  let prev = null
  const floorOne = ['CREATE TABLE floor_history (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());']
  const floorAll = ['BEGIN;', floorOne[0]]
  for (let i = 1; i <= n; i++) {
    const sql = tableSql(i)
    writeFileSync(path.join(gw, `${1700000000000 + i}_t_${i}.mjs`), `export const up = '${sql}'\n`)
    writeFileSync(path.join(npm, `${1700000000000 + i}_t-${i}.sql`), `-- Up Migration\n${sql}\n-- Down Migration\n`)
    writeFileSync(path.join(dbm, `2023${pad(i, 10)}_t_${i}.sql`), `-- migrate:up\n${sql}\n\n-- migrate:down\n`)
    // graphile-migrate's committed files are a hash chain (its own calculateHash)
    const hash = 'sha1:' + createHash('sha1').update(((prev || '') + '\n' + sql).trim() + '\n').digest('hex')
    writeFileSync(path.join(gm, `${pad(i, 6)}.sql`), `--! Previous: ${prev ?? '-'}\n--! Hash: ${hash}\n\n${sql}\n`)
    prev = hash
    floorOne.push(`BEGIN; ${sql} INSERT INTO floor_history (version) VALUES ('${i}'); COMMIT;`)
    floorAll.push(sql, `INSERT INTO floor_history (version) VALUES ('${i}');`)
  }
  floorAll.push('COMMIT;')
  writeFileSync(path.join(dir, 'f1.sql'), floorOne.join('\n') + '\n')
  writeFileSync(path.join(dir, 'f2.sql'), floorAll.join('\n') + '\n')
  writeFileSync(path.join(dir, 'gm', '.gmrc'), JSON.stringify({ migrationsFolder: './migrations' }))
  // seal godwit's ledger once, outside any timing
  const sealed = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'godwit.js'), 'check'], { cwd: path.join(dir, 'godwit'), encoding: 'utf8', env: { ...process.env, CI: '' } })
  if (sealed.status !== 0) throw new Error(`sealing the godwit set failed: ${sealed.stdout}${sealed.stderr}`)
  // then commit it, so W4 is the pull-request check: all N merged, each compared with its merged bytes
  const git = (...a) => {
    const r = spawnSync('git', a, { cwd: path.join(dir, 'godwit'), encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`git ${a.join(' ')} failed: ${r.stderr}`)
  }
  git('init', '-q', '-b', 'main')
  git('add', '-A')
  git('-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-q', '-m', 'merged')
  return dir
}

const node = process.execPath
const GODWIT = path.join(ROOT, 'scripts', 'godwit.js')

/** The tools, each with its commands per workload; `null` where a tool has no such command. */
function tools(dir) {
  const at = (sub) => path.join(dir, sub)
  return {
    'godwit': {
      // the production path, as the migration job runs it (MIGRATION_JOB: no .env, no schema file)
      apply: (db) => ({ cmd: node, argv: [GODWIT, 'up', '--quiet', '--sha', 'bench', '--artifacts-dir', at('artifacts')], cwd: at('godwit'), env: { DATABASE_URL: dbUrl(db), MIGRATION_JOB: '1' } }),
      status: (db) => ({ cmd: node, argv: [GODWIT, 'status'], cwd: at('godwit'), env: { DATABASE_URL: dbUrl(db) } }),
    },
    'node-pg-migrate': {
      apply: (db) => ({ cmd: path.join(BIN, 'node-pg-migrate'), argv: ['up', '-m', 'migrations', '--no-verbose'], cwd: at('npm'), env: { DATABASE_URL: dbUrl(db) } }),
      status: null,
    },
    'node-pg-migrate (no single tx)': {
      apply: (db) => ({ cmd: path.join(BIN, 'node-pg-migrate'), argv: ['up', '-m', 'migrations', '--no-verbose', '--no-single-transaction'], cwd: at('npm'), env: { DATABASE_URL: dbUrl(db) } }),
      status: null,
    },
    'dbmate': {
      apply: (db) => ({ cmd: path.join(BIN, 'dbmate'), argv: ['--no-dump-schema', 'up'], cwd: at('dbmate'), env: { DATABASE_URL: dbUrl(db) + '?sslmode=disable' } }),
      status: (db) => ({ cmd: path.join(BIN, 'dbmate'), argv: ['status'], cwd: at('dbmate'), env: { DATABASE_URL: dbUrl(db) + '?sslmode=disable' } }),
    },
    'graphile-migrate': {
      apply: (db) => ({ cmd: path.join(BIN, 'graphile-migrate'), argv: ['migrate'], cwd: at('gm'), env: { DATABASE_URL: dbUrl(db) } }),
      status: (db) => ({ cmd: path.join(BIN, 'graphile-migrate'), argv: ['status'], cwd: at('gm'), env: { DATABASE_URL: dbUrl(db) }, okCodes: [0, 1] }),
    },
  }
}

const floors = (dir) => ({
  'F1 psql, tx per migration': (db) => ({ cmd: 'psql', argv: ['-q', '-X', '-v', 'ON_ERROR_STOP=1', '-f', path.join(dir, 'f1.sql'), dbUrl(db)], cwd: dir }),
  'F2 psql, one tx': (db) => ({ cmd: 'psql', argv: ['-q', '-X', '-v', 'ON_ERROR_STOP=1', '-f', path.join(dir, 'f2.sql'), dbUrl(db)], cwd: dir }),
})

function median(values) {
  const a = [...values].sort((x, y) => x - y)
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2
}

function stats(samples) {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b)
  const rss = samples.map((s) => s.rssKiB).sort((a, b) => a - b)
  const mid = (a) => (a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2)
  return { runs: ms.length, medianMs: mid(ms), minMs: ms[0], maxMs: ms[ms.length - 1], medianRssMiB: mid(rss) / 1024 }
}

/**
 * The build measured: the commit, and `+changes` when the code (not docs or results) differs from
 * it, so a figure can be told from one measured before or after a change.
 */
function build() {
  const git = (...a) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' })
  const head = git('rev-parse', '--short=7', 'HEAD')
  if (head.status !== 0) return undefined
  const changed = git('status', '--porcelain', '--', 'src', 'lib', 'scripts', 'index.js', 'Cargo.toml', 'Cargo.lock', 'package.json').stdout.trim()
  return head.stdout.trim() + (changed ? '+changes' : '')
}

const results = { date: new Date().toISOString(), build: build(), command: ['pnpm bench --', ...process.argv.slice(2).filter((a) => a !== '--')].join(' '), machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`, node: process.version, env: ENV_NOTE, postgres: (await admin.query('SHOW server_version')).rows[0].server_version, sizes: {} }

for (const n of SIZES) {
  // W1 at 10,000 is half a minute a run, so it runs at most twice; every other command is under a
  // second and runs as often as asked (a median of two says little on a noisy machine)
  const runs = RUNS
  const w1Runs = n >= 10000 ? Math.max(1, Math.min(RUNS, 2)) : RUNS
  process.stderr.write(`bench: N=${n}, ${runs} run(s) per command (W1 ${w1Runs}), generating...\n`)
  const dir = generate(n)
  const t = tools(dir)
  const f = floors(dir)
  const samples = {}
  const add = (key, s) => (samples[key] ??= []).push(s)

  // W1: apply N to a fresh database; interleaved; warm-up run not recorded
  const w1 = [...Object.entries(t).map(([k, v]) => [k, v.apply]), ...Object.entries(f)].filter(([k]) => wanted(k) || k.startsWith('F1'))
  for (let r = -1; WORKLOADS.has('W1') && r < w1Runs; r++) {
    for (const [name, make] of shuffled(w1)) {
      const db = await freshDb()
      try {
        const s = measure(make(db))
        if (r >= 0) add(`W1|${name}`, s)
      } finally {
        await dropDb(db)
      }
    }
    process.stderr.write(`bench: N=${n} W1 run ${r + 1}/${w1Runs} done\n`)
  }

  // W2 / W3: one database per tool with everything applied, prepared by the tool itself
  const applied = {}
  const w23 = WORKLOADS.has('W2') || WORKLOADS.has('W3') || (WORKLOADS.has('W6') && wanted('godwit'))
  for (const [name, v] of Object.entries(t)) {
    if (!w23 || name.includes('no single tx') || !wanted(name)) continue
    applied[name] = await freshDb()
    measure(v.apply(applied[name]))
  }
  const nodeStart = { cmd: node, argv: ['-e', '0'], cwd: dir }
  // F3, the floor of any runner that verifies every file on every run: Node reading each file of
  // the folder and hashing it, nothing else (no addon, no database)
  const readAll = `const fs = require('fs'), c = require('crypto'), d = 'db/migrations'; for (const f of fs.readdirSync(d)) c.createHash('sha256').update(fs.readFileSync(d + '/' + f)).digest('hex')`
  const readFloor = { cmd: node, argv: ['-e', readAll], cwd: path.join(dir, 'godwit') }
  for (let r = -1; r < runs; r++) {
    const steps = [['node -e 0', () => measure(nodeStart)]]
    if ((WORKLOADS.has('W2') || WORKLOADS.has('W3')) && wanted('godwit')) steps.push(['F3 node: read + sha256 every file', () => measure(readFloor)])
    for (const [name, db] of Object.entries(applied)) {
      if (WORKLOADS.has('W2')) steps.push([`W2|${name}`, () => measure(t[name].apply(db))])
      if (WORKLOADS.has('W3') && t[name].status) steps.push([`W3|${name}`, () => measure(t[name].status(db))])
    }
    if (WORKLOADS.has('W6') && applied.godwit) {
      const env = { DATABASE_URL: dbUrl(applied.godwit) }
      const api = JSON.stringify(path.join(ROOT, 'index.js'))
      steps.push(['W6|godwit cold API start', () => measure({ cmd: node, argv: ['-e', `require(${api}).assertSchemaCurrent().then(() => {}, (e) => { console.error(e.message); process.exit(1) })`], cwd: path.join(dir, 'godwit'), env })])
      steps.push(['W6|godwit assertSchemaCurrent in process', () => inProcess(path.join(dir, 'godwit'), env)])
      steps.push(['F6a pg: connect + read the history, in process', () => historyFloor(path.join(dir, 'godwit'), env)])
      steps.push(['F6b node: read + sha256 every file, in process', () => filesFloor(path.join(dir, 'godwit'), env)])
      // the same call and its floor over a link with a 4 ms round trip: what W6's round trips cost
      const far = { DATABASE_URL: await slowLinkUrl(dbUrl(applied.godwit)) }
      steps.push(['W6|godwit assertSchemaCurrent in process, 4 ms round trips', () => inProcess(path.join(dir, 'godwit'), far)])
      steps.push(['F6a pg: connect + read the history, in process, 4 ms round trips', () => historyFloor(path.join(dir, 'godwit'), far)])
    }
    if (WORKLOADS.has('W4') && wanted('godwit')) {
      steps.push(['W4|godwit', () => measure({ cmd: node, argv: [GODWIT, 'check'], cwd: path.join(dir, 'godwit'), env: { CI: 'true', MIGRATION_BASE_REF: 'main' } })])
      // the same with every merged migration rendered and judged again (what check did before it
      // judged only what a change brings)
      steps.push(['W4|godwit --all', () => measure({ cmd: node, argv: [GODWIT, 'check', '--all'], cwd: path.join(dir, 'godwit'), env: { CI: 'true', MIGRATION_BASE_REF: 'main' } })])
    }
    for (const [key, run] of shuffled(steps)) {
      const s = run()
      if (r >= 0) add(key, s)
    }
  }
  // A (adoption, N <= 1000): `godwit import` of the dbmate folder into an empty one, and
  // `godwit baseline --from dbmate` on a database dbmate migrated (godwit's history dropped
  // between runs, outside the timing)
  if (WORKLOADS.has('A') && wanted('godwit') && n <= 1000) {
    const adopted = await freshDb()
    measure(t.dbmate.apply(adopted))
    const c = new pg.Client({ connectionString: dbUrl(adopted) })
    await c.connect()
    for (let r = -1; r < runs; r++) {
      const into = mkdtempSync(path.join(dir, 'import-'))
      writeFileSync(path.join(into, 'package.json'), '{ "name": "bench-import", "private": true }\n')
      const i = measure({ cmd: node, argv: [GODWIT, 'import', 'dbmate', path.join(dir, 'dbmate', 'db', 'migrations')], cwd: into })
      await c.query('DROP TABLE IF EXISTS godwit_migrations')
      await c.query('CHECKPOINT')
      const b = measure({ cmd: node, argv: [GODWIT, 'baseline', '--from', 'dbmate', '--quiet', '--sha', `b${r}`, '--artifacts-dir', path.join(dir, 'artifacts')], cwd: into, env: { DATABASE_URL: dbUrl(adopted) } })
      if (r >= 0) {
        add('A|godwit import', i)
        add('A|godwit baseline --from dbmate', b)
      }
    }
    await c.end()
    await dropDb(adopted)
  }
  for (const db of Object.values(applied)) await dropDb(db)
  rmSync(dir, { recursive: true, force: true })

  const summary = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]))
  // Ratios are paired: each round's time over the reference measured in that same round, then
  // the median of those, so drift between rounds cancels out.
  const paired = (key, ref) => {
    const a = samples[key]
    const b = samples[ref]
    if (!a || !b || a.length !== b.length) return undefined
    return median(a.map((s, i) => s.ms / b[i].ms))
  }
  for (const [k, s] of Object.entries(summary)) {
    if (k.startsWith('W1|')) s.xF1 = paired(k, 'W1|F1 psql, tx per migration')
    if (k.startsWith('W2|') || k.startsWith('W3|') || k.startsWith('F3 ') || k === 'W6|godwit cold API start') s.xNode = paired(k, 'node -e 0')
  }
  // W6 in process against the larger of its two floors in the same round (it runs both halves at once)
  const w6 = samples['W6|godwit assertSchemaCurrent in process']
  const [fa, fb] = [samples['F6a pg: connect + read the history, in process'], samples['F6b node: read + sha256 every file, in process']]
  if (w6 && fa?.length === w6.length && fb?.length === w6.length) {
    summary['W6|godwit assertSchemaCurrent in process'].xFloor = median(w6.map((s, i) => s.ms / Math.max(fa[i].ms, fb[i].ms)))
  }
  const [w6far, fafar] = [samples['W6|godwit assertSchemaCurrent in process, 4 ms round trips'], samples['F6a pg: connect + read the history, in process, 4 ms round trips']]
  if (w6far && fafar?.length === w6far.length) {
    summary['W6|godwit assertSchemaCurrent in process, 4 ms round trips'].xFloor = median(w6far.map((s, i) => s.ms / Math.max(fafar[i].ms, fb?.[i]?.ms ?? 0)))
  }
  results.sizes[n] = summary
  printTable(n, summary)
}

// W7: a realistic history (300 migrations: tables, CONCURRENTLY indexes, foreign keys, renames,
// type changes, functions, triggers), the same SQL in each tool's format; godwit's imported from
// dbmate's. W1 (apply to an empty database), W2 (`up` again) and W3 (`status`), interleaved.
if (WORKLOADS.has('W7') && wanted('godwit')) {
  const n = 300
  const runs = RUNS
  process.stderr.write(`bench: W7 realistic history of ${n}, ${runs} run(s) per command\n`)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'godwit-bench-real-'))
  const dbm = path.join(dir, 'dbmate', 'db', 'migrations')
  const npm = path.join(dir, 'npm', 'migrations')
  mkdirSync(dbm, { recursive: true })
  mkdirSync(npm, { recursive: true })
  for (const [f, text] of Object.entries(realisticDbmate(n))) writeFileSync(path.join(dbm, f), text)
  for (const [f, text] of Object.entries(realisticNodePgMigrate(n))) writeFileSync(path.join(npm, f), text)
  const gw = path.join(dir, 'godwit')
  mkdirSync(gw)
  writeFileSync(path.join(gw, 'package.json'), '{ "name": "bench-real", "private": true }\n')
  measure({ cmd: node, argv: [GODWIT, 'import', 'dbmate', dbm], cwd: gw })
  const cmds = {
    godwit: {
      apply: (db) => ({ cmd: node, argv: [GODWIT, 'up', '--quiet', '--sha', 'bench', '--artifacts-dir', path.join(dir, 'artifacts')], cwd: gw, env: { DATABASE_URL: dbUrl(db), MIGRATION_JOB: '1' } }),
      status: (db) => ({ cmd: node, argv: [GODWIT, 'status'], cwd: gw, env: { DATABASE_URL: dbUrl(db) } }),
    },
    dbmate: {
      apply: (db) => ({ cmd: path.join(BIN, 'dbmate'), argv: ['--no-dump-schema', 'up'], cwd: path.join(dir, 'dbmate'), env: { DATABASE_URL: dbUrl(db) + '?sslmode=disable' } }),
      status: (db) => ({ cmd: path.join(BIN, 'dbmate'), argv: ['status'], cwd: path.join(dir, 'dbmate'), env: { DATABASE_URL: dbUrl(db) + '?sslmode=disable' } }),
    },
    // each migration in its own transaction, as godwit and dbmate run them (and as the
    // CONCURRENTLY indexes need); node-pg-migrate has no status command
    'node-pg-migrate': {
      apply: (db) => ({ cmd: path.join(BIN, 'node-pg-migrate'), argv: ['up', '-m', 'migrations', '--no-verbose', '--no-single-transaction'], cwd: path.join(dir, 'npm'), env: { DATABASE_URL: dbUrl(db) } }),
      status: null,
    },
  }
  const samples = {}
  const add = (key, s) => (samples[key] ??= []).push(s)
  for (let r = -1; r < runs; r++) {
    for (const [name, c] of shuffled(Object.entries(cmds))) {
      const db = await freshDb()
      try {
        const s = measure(c.apply(db))
        if (r >= 0) add(`W1|${name}`, s)
      } finally {
        await dropDb(db)
      }
    }
  }
  const applied = {}
  for (const [name, c] of Object.entries(cmds)) {
    applied[name] = await freshDb()
    measure(c.apply(applied[name]))
  }
  for (let r = -1; r < runs; r++) {
    const steps = [['node -e 0', () => measure({ cmd: node, argv: ['-e', '0'], cwd: dir })]]
    for (const [name, c] of Object.entries(cmds)) {
      steps.push([`W2|${name}`, () => measure(c.apply(applied[name]))])
      if (c.status) steps.push([`W3|${name}`, () => measure(c.status(applied[name]))])
    }
    for (const [key, run] of shuffled(steps)) {
      const s = run()
      if (r >= 0) add(key, s)
    }
  }
  for (const db of Object.values(applied)) await dropDb(db)
  rmSync(dir, { recursive: true, force: true })
  const summary = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]))
  const pairedWith = (key, ref) => median(samples[key].map((s, i) => s.ms / samples[ref][i].ms))
  for (const [k, s] of Object.entries(summary)) {
    const [w] = k.split('|')
    if (w === 'W1') s.xDbmate = pairedWith(k, 'W1|dbmate')
    if (w === 'W2' || w === 'W3') {
      s.xDbmate = pairedWith(k, `${w}|dbmate`)
      s.xNode = pairedWith(k, 'node -e 0')
    }
  }
  results.sizes[`W7: ${n} realistic`] = summary
  printTable(`W7: ${n} realistic`, summary)
}

// W5: a fleet, 100 databases x 50 migrations. godwit's fleet (`up --targets`, concurrency C)
// against a shell loop of single `godwit up` runs and a loop of dbmate (one database after the
// other, as a team scripts it today), and a floor: psql (one transaction per migration with a
// history insert) on every database, C at a time. Each measured run gets 100 fresh databases.
if (WORKLOADS.has('W5') && wanted('godwit')) {
  const dbsN = 100
  const n = 50
  const C = 4
  const runs = Math.max(1, Math.min(RUNS, 2))
  process.stderr.write(`bench: W5 fleet of ${dbsN} databases x ${n} migrations, concurrency ${C}, ${runs} run(s)\n`)
  const dir = generate(n)
  const sh = (script) => ({ cmd: 'bash', argv: ['-c', script], cwd: dir })
  const list = (names) => names.map((d) => dbUrl(d)).join(' ')
  const cmds = {
    'godwit up --targets (fleet)': (names) => {
      writeFileSync(path.join(dir, 'godwit', 'targets.txt'), names.map((d) => `${d.replaceAll('_', '-')} database=${d}`).join('\n') + '\n')
      return { cmd: node, argv: [GODWIT, 'up', '--targets', 'targets.txt', '--concurrency', String(C), '--quiet', '--sha', 'bench', '--artifacts-dir', path.join(dir, 'artifacts')], cwd: path.join(dir, 'godwit'), env: { DATABASE_URL: serverUrl, MIGRATION_JOB: '1' } }
    },
    'godwit up, shell loop': (names) => sh(`cd godwit && for u in ${list(names)}; do DATABASE_URL=$u MIGRATION_JOB=1 ${node} ${GODWIT} up --quiet --sha bench --artifacts-dir ../artifacts || exit 1; done`),
    'dbmate, shell loop': (names) => sh(`cd dbmate && for u in ${list(names)}; do DATABASE_URL="$u?sslmode=disable" ${path.join(BIN, 'dbmate')} --no-dump-schema up > /dev/null || exit 1; done`),
    [`F psql, ${C} at a time`]: (names) => sh(`printf '%s\\n' ${list(names)} | xargs -P ${C} -I{} psql -q -X -v ON_ERROR_STOP=1 -f f1.sql {}`),
  }
  const samples = {}
  // no warm-up round: each command runs for many seconds, and 100 databases per command are slow
  // to create
  for (let r = 0; r < runs; r++) {
    for (const [name, make] of shuffled(Object.entries(cmds))) {
      const names = []
      for (let i = 0; i < dbsN; i++) {
        const d = `godwit_w5_${process.pid}_${dbCounter++}`
        await admin.query(`CREATE DATABASE ${d}`)
        names.push(d)
      }
      await admin.query('CHECKPOINT')
      spawnSync('sync')
      try {
        const s = measure(make(names))
        ;(samples[`W5|${name}`] ??= []).push(s)
      } finally {
        for (const d of names) await dropDb(d)
      }
    }
    process.stderr.write(`bench: W5 run ${r + 1}/${runs} done\n`)
  }
  rmSync(dir, { recursive: true, force: true })
  const summary = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]))
  const floor = `W5|F psql, ${C} at a time`
  for (const [k, s] of Object.entries(summary)) s.xFloor = median(samples[k].map((x, i) => x.ms / samples[floor][i].ms))
  results.sizes[`W5: ${dbsN} databases x ${n}`] = summary
  printTable(`W5: ${dbsN} databases x ${n}`, summary)
}

await admin.end()
await stopServer()
mkdirSync(path.dirname(args.out), { recursive: true })
writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n')
process.stderr.write(`bench: ${results.machine}; PostgreSQL ${results.postgres}; node ${results.node}; ${results.env}\nbench: results written to ${path.relative(process.cwd(), args.out)}\n`)

function printTable(n, summary) {
  console.log(table(n, summary) + '\n')
}
