// Writes the figures the fault tests recorded (.artifacts/faults/*.json) into docs/reliability.md's
// reliability section, between its markers, so the numbers there are the tests' own. Run by
// `pnpm test:faults` after the tests; fails when a suite's figures are missing.
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DIR = path.join(ROOT, '.artifacts', 'faults')
const SUITES = ['sigkill', 'orphan', 'signals', 'load', 'server', 'hostile', 'security', 'fuzz', 'adversity']

const missing = SUITES.filter((s) => !existsSync(path.join(DIR, `${s}.json`)))
if (missing.length) {
  process.stderr.write(`faults-report: no figures from ${missing.join(', ')}; run all of \`pnpm test:faults\`\n`)
  process.exit(1)
}
const f = Object.fromEntries(SUITES.map((s) => [s, JSON.parse(readFileSync(path.join(DIR, `${s}.json`), 'utf8'))]))
const pgMajor = Math.floor(f.orphan.serverVersionNum / 10000)
const families = Object.entries(f.hostile.byFamily).map(([k, v]) => `${k} ${v}`).join(', ')
const exits = Object.entries(f.load.exitCodes).map(([code, n]) => `${n} × exit ${code}`).join(', ')

const rows = [
  ['SIGKILL of the runner at random points', `${f.sigkill.trials} trials (${f.sigkill.landedMidRun} mid-run, ${f.sigkill.landedBeforeAnyCommit} before the first commit, ${f.sigkill.landedAfterAll} after the last)`,
    `only whole migrations every time; the lock free ≤ ${f.sigkill.maxLockFreeMs} ms after the kill; the next \`up\` completed ${f.sigkill.recoveredRuns}/${f.sigkill.trials}`],
  ['a statement orphaned by a dead client', '1 (`pg_sleep(60)`, client SIGKILLed)',
    `the server ended it ${f.orphan.orphanEndMs} ms later and rolled it back (client_connection_check_interval, PostgreSQL ${pgMajor})`],
  ['SIGTERM / SIGINT at random points', `${f.signals.trials} trials`,
    `${f.signals.interrupted} interrupted (exit 6), ${f.signals.finishedFirst} finished first (exit 0), ${f.signals.killedBeforeStart ?? 0} killed while Node was still booting (before godwit's first line: no report, nothing touched), ${f.signals.killedDuringExit ?? 0} killed in Node's teardown after finishing (report written and true); the lock released by exit every time; every report written agreed with the history (${f.signals.reportsMatchingHistory}/${f.signals.trials - (f.signals.killedBeforeStart ?? 0)})`],
  [`${f.load.runners} concurrent runners on ${f.load.migrations} migrations`, `${f.load.repeats} repeats, ${f.load.runs} runs`,
    `every migration applied exactly once, no duplicates, no gaps; ${exits}; the longest lock wait ${f.load.maxWaitMs} ms`],
  ['backend terminated (`pg_terminate_backend`) at random points', `${f.server.terminatedBackends} trials`, 'exit 0 or 7 (`CONNECTION_LOST`); only whole migrations; the report agreed with the history; the retry completed'],
  ['server restarted mid-run', `${f.server.restarts} trials`, 'the same'],
  ['server crashed (SIGKILL of the postmaster) mid-run', `${f.server.crashes} trials`,
    `the same; in ${f.server.lostCommitsReported} the crash lost commits whose WAL had not reached disk, and the report said so`],
  ['connection refused, unknown host at start', `${f.server.refusedAtStart} + ${f.server.unknownHost}`, 'exit 7 (`CONNECT_FAILED`) naming the target without its password; the retry completed'],
  ['hostile input', `${f.hostile.cases} cases (${families})`, 'the documented exit code, a message naming the file and the cause, the database exactly as before'],
  ['a canary password', `${f.security.canaryCommands} command runs, ${f.security.canaryErrorObjects} JS error objects`, 'never in stdout, stderr, a report or an error object'],
  ['hostile history identifiers (quotes, spaces, unicode)', `${f.security.identifierCases} schema/table pairs`, 'quoted everywhere: up, status, down, reset'],
  ['`create` names that try to leave the folder', `${f.security.traversalNames} names`, 'refused (exit 2), nothing written'],
  ['fuzzing the pure parsers', `${f.fuzz.properties} properties × ${f.fuzz.casesPerProperty} inputs`, `${f.fuzz.crashes} crashes, every property held`],
  ['nothing waits without bound: a server that never answers, a proxy that goes silent mid-run, a server that starts sessions but runs no query, a locked history table, absurd durations', `${f.adversity.classes.bounded ?? 0} cases`,
    `every command ended within its bound with the documented exit code and a report; a signal answered within ${f.adversity.slowestSignalMs} ms at worst`],
  ['one migration cannot change the rules for the next: RESET ALL, SET ROLE, session timeouts, search_path, standard_conforming_strings, set_config, unlock, DISCARD', `${f.adversity.classes.session ?? 0} cases`,
    'every migration started from the job\'s role and settings; a released lock stopped the run fail-closed (exit 3); godwit\'s history writes were unaffected'],
  ['what is recorded is what happened: an INVALID index skipped by IF NOT EXISTS, a failed non-transactional down, a file swapped during the lock wait, an unwritable report, a full disk under the reports', `${f.adversity.classes.recorded ?? 0} cases`,
    'recorded failed (never applied or reverted); the sealed bytes ran; the output still listed what was applied, and no temporary file was left'],
  ['least privilege and real servers: CREATE on public only, missing grants, a long table name, a locked history table, a lock wait ended, COPY FROM STDIN', `${f.adversity.classes.privilege ?? 0} cases`,
    'the documented exit code (2, 3, 5 or 7) with the grant or fix named; nothing half-done'],
  ['secrets and the local-only guard: a raw `@` in the password, `hostaddr`', `${f.adversity.classes.secrets ?? 0} cases`, 'refused (exit 2) with no part of the password printed; down and reset refused for a remote hostaddr'],
  ['the documented deployment: reports per attempt, failure lines in the file', `${f.adversity.classes.deployment ?? 0} cases`, 'every attempt kept; lines of the migration file'],
]

const at = new Date(Math.max(...SUITES.map((s) => Date.parse(f[s].at)))).toISOString().slice(0, 10)
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()}`
const table = [
  `Figures from the last \`pnpm test:faults\` run (${at}, ${machine}, PostgreSQL ${pgMajor}); written here by`,
  '`scripts/faults-report.mjs` from what the tests recorded, not by hand.',
  '',
  '| fault | tried | what held |',
  '| --- | --- | --- |',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n')

const readme = path.join(ROOT, 'docs', 'reliability.md')
const text = readFileSync(readme, 'utf8')
const begin = '<!-- reliability:begin -->'
const end = '<!-- reliability:end -->'
const i = text.indexOf(begin)
const j = text.indexOf(end)
if (i < 0 || j < i) {
  process.stderr.write(`faults-report: docs/reliability.md has no ${begin} ... ${end} section\n`)
  process.exit(1)
}
writeFileSync(readme, text.slice(0, i + begin.length) + '\n' + table + '\n' + text.slice(j))
process.stdout.write(table + '\n')
