#!/usr/bin/env node
'use strict'
// godwit's CLI entry: picks the command, parses flags with the one parser, prints, and sets
// process.exitCode (never process.exit, so pending output is flushed). CommonJS on purpose: an
// ES module entry costs Node ~15 ms more to start, a tenth of a no-op `up`.
// First, before anything else loads: a signal from here on is a clean cancel (see interrupt.js).
require('./interrupt.js').install(process.argv[2])

// Output that cannot be written must never stop a command, least of all a run in the middle of
// applying (a migration module that logs while it is imported writes through here too): what is
// left to print on that stream is dropped, the command finishes and its report is written.
// A reader that went away (`| head`, a log collector that died) chose to stop reading: the exit
// code stands. Any other failure (a full disk under a redirect, an I/O error) lost output nobody
// chose to drop: at exit it is said on the other stream when that one works (never into a
// `--json` document), and a command that would have exited 0 exits 70 (the exit code of IO).
let outputLost = null
for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return
    outputLost ??= { name, err }
  })
}
process.on('exit', (code) => {
  if (!outputLost) return
  const { name, err } = outputLost
  if (name === 'stdout') {
    const outcome = code === 0 ? 'finished' : `finished with exit code ${code}`
    try {
      require('node:fs').writeSync(2, `godwit: [IO] writing to stdout failed (${err.code ?? err.message}); what was left to print is lost. The command itself ${outcome}; a run's report is on disk as usual\n`)
    } catch {}
  }
  if (code === 0) process.exitCode = cli?.EXIT.INTERNAL ?? 70
})

/** Every error that ends the run: printed (and as the --json document), its exit code set. */
function fail(err) {
  const json = process.argv.includes('--json')
  const code = typeof err.exitCode === 'number' ? err.exitCode : 70
  if (json) {
    process.stdout.write(JSON.stringify({ ok: false, exitCode: code, error: { code: err.code ?? 'INTERNAL', exitCode: code, message: err.message } }, null, 2) + '\n')
  }
  process.stderr.write(`godwit: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`)
  // A stack helps with a bug, not with a known condition that has its own code and fix.
  if (code === 70 && (!err.code || err.code === 'INTERNAL') && err.stack) process.stderr.write(err.stack + '\n')
  process.exitCode = code
}

// cli.js reads the exit-code table from the native core: a missing binary surfaces here, as
// godwit's NATIVE_MISSING message rather than an uncaught loader error.
let cli
try {
  cli = require('./cli.js')
} catch (err) {
  fail(err)
}
const { parse, helpText, colors, closest, COMMON_OPTIONS, EXIT, EXIT_CODES } = cli ?? {}
const path = require('node:path')
const fs = require('node:fs')
const { loadEnvFile } = require('../lib/env-file.js')
const { CONFIG_FILE } = require('../lib/config.js')

// Loaded on demand: a run pays only for the command it runs (start-up is most of a no-op `up`).
const COMMANDS = {
  create: () => require('./commands/create.js'),
  check: () => require('./commands/check.js'),
  up: () => require('./commands/up.js'),
  plan: () => require('./commands/plan.js'),
  status: () => require('./commands/status.js'),
  drift: () => require('./commands/drift.js'),
  verify: () => require('./commands/verify.js'),
  down: () => require('./commands/down.js'),
  reset: () => require('./commands/reset.js'),
  import: () => require('./commands/import.js'),
  baseline: () => require('./commands/baseline.js'),
  'fleet-merge': () => require('./commands/fleet-merge.js'),
}

async function topHelp() {
  const lines = ['godwit <command> [options]', '', 'PostgreSQL migrations for pnpm/Node monorepos.', '', 'Commands:']
  for (const load of Object.values(COMMANDS)) {
    const c = load()
    lines.push(`  ${c.name.padEnd(10)}${c.summary}`)
  }
  lines.push('', 'Run `godwit <command> --help` for a command\'s options.', '', 'Exit codes:')
  for (const [code, what] of EXIT_CODES) lines.push(`  ${String(code).padEnd(4)}${what}`)
  return lines.join('\n') + '\n'
}

const out = cli && {
  colors: colors(process.stdout),
  line: (s) => process.stdout.write(s + '\n'),
  raw: (s) => process.stdout.write(s),
  json: (doc) => process.stdout.write(JSON.stringify(doc, null, 2) + '\n'),
  status: (s) => process.stderr.write(s + '\n'),
}

/** The command called `name`, or a usage error that names the nearest one. */
function commandNamed(name) {
  if (Object.hasOwn(COMMANDS, name)) return COMMANDS[name]()
  const near = closest(name, Object.keys(COMMANDS))
  const err = new Error(`unknown command \`${name}\`${near ? `; did you mean \`${near}\`?` : '.'} Commands: ${Object.keys(COMMANDS).join(', ')}`)
  err.exitCode = EXIT.USAGE
  throw err
}

/**
 * The package the command runs for: the current folder, or, when it has no package.json (say,
 * db/migrations), the nearest folder above that has one, which is where `pnpm db:migrate:*`
 * would run. Paths the user typed stay relative to where they typed them.
 */
function enterProjectRoot(command, { values, positionals }) {
  const here = process.cwd()
  const marks = ['package.json', CONFIG_FILE]
  if (marks.some((m) => fs.existsSync(path.join(here, m)))) return
  for (let dir = path.dirname(here); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (marks.some((m) => fs.existsSync(path.join(dir, m)))) {
      for (const [key, o] of Object.entries({ ...command.options, ...COMMON_OPTIONS })) {
        if (o.path && typeof values[key] === 'string') values[key] = path.resolve(here, values[key])
      }
      ;(command.positionals ?? []).forEach((p, i) => {
        if (p.path && typeof positionals[i] === 'string') positionals[i] = path.resolve(here, positionals[i])
      })
      if (process.env.MIGRATION_DIR && !path.isAbsolute(process.env.MIGRATION_DIR)) process.env.MIGRATION_DIR = path.resolve(here, process.env.MIGRATION_DIR)
      process.chdir(dir)
      return
    }
  }
}

async function main(argv) {
  const [name, ...rest] = argv
  if (name === 'help' && rest.length > 0) {
    // `godwit help up` is `godwit up --help`
    process.stdout.write(helpText(commandNamed(rest[0])))
    return EXIT.OK
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(await topHelp())
    return name === undefined ? EXIT.USAGE : EXIT.OK
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(require('../package.json').version + '\n')
    return EXIT.OK
  }
  const command = commandNamed(name)
  // `pnpm db:migrate:create -- add_widgets` hands us the `--` too: one leading `--` is pnpm's.
  const parsed = parse(command, rest[0] === '--' ? rest.slice(1) : rest)
  if (parsed.values.help) {
    process.stdout.write(helpText(command))
    return EXIT.OK
  }
  enterProjectRoot(command, parsed)
  const env = loadEnvFile({ file: parsed.values.dotenv, disabled: parsed.values['no-dotenv'] })
  if (parsed.values.verbose && !parsed.values.json && env) {
    out.status(env.skipped ? `env: .env not read: ${env.skipped}` : `env: ${env.file}: set ${env.loaded.join(', ') || 'nothing'}${env.kept.length ? `; kept from the environment: ${env.kept.join(', ')}` : ''}`)
  }
  return command.run(parsed, out)
}

if (cli) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  }, fail)
}
