'use strict'
// The CLI's one parser, its help texts and its output conventions. Commands declare their
// options here-in-shape (name, type, description) and the help is generated from the same table,
// so `--help` cannot drift from what is parsed.
const { parseArgs } = require('node:util')
const path = require('node:path')
const { EXIT, EXIT_CODES } = require('../lib/exit.js')
const { exitFor } = require('../lib/errors.js')

const COMMON_OPTIONS = {
  dir: { type: 'string', path: true, value: '<path>', description: 'migrations folder (default: db/migrations in the package root: the current folder, or the nearest one above with a package.json)' },
  // not --env-file: Node reads that flag anywhere on its command line and exits 9 when the file is missing
  dotenv: { type: 'string', path: true, value: '<path>', description: 'read variables from this file (default: .env in the package root, when present; never in production unless named here)' },
  'no-dotenv': { type: 'boolean', description: 'do not read .env' },
  json: { type: 'boolean', description: 'print one JSON document on stdout; progress goes to stderr' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
}

class UsageError extends Error {
  constructor(message) {
    super(message)
    this.code = 'USAGE'
    this.exitCode = EXIT.USAGE
  }
}

function parse(command, argv) {
  const options = { ...command.options, ...COMMON_OPTIONS }
  const config = Object.fromEntries(
    Object.entries(options).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}) }]),
  )
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(`${parseProblem(err, command, options)}\nrun \`godwit ${command.name} --help\` for usage`)
  }
  // a variadic command takes any number of its last positional
  const max = command.variadic ? Infinity : (command.positionals?.length ?? 0)
  if (!parsed.values.help && parsed.positionals.length > max) {
    const why = command.tooManyArguments?.(parsed.positionals) ?? `unexpected argument \`${parsed.positionals[max]}\``
    throw new UsageError(`${why}\nrun \`godwit ${command.name} --help\` for usage`)
  }
  return parsed
}

/**
 * parseArgs' error in godwit's words: which option, for which command, the nearest real one, and
 * the list (its own text suggests `--` quoting, which is never what was meant here).
 */
function parseProblem(err, command, options) {
  const flags = Object.keys(options).map((k) => `--${k}`)
  const named = /'(-[^' ]+)/.exec(err.message)?.[1]
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && named) {
    const flag = named.split('=')[0]
    const near = closest(flag, flags)
    return `unknown option \`${flag}\` for \`godwit ${command.name}\`${near ? `; did you mean \`${near}\`?` : '.'} Its options: ${flags.join(', ')}`
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && named) {
    const name = named.replace(/^-+/, '')
    const entry = Object.entries(options).find(([k, o]) => k === name || o.short === name)
    if (entry) {
      const [k, o] = entry
      return o.type === 'string' ? `option \`--${k}\` needs a value: \`--${k} ${o.value ?? '<value>'}\`` : `option \`--${k}\` takes no value`
    }
  }
  return err.message
}

/** The candidate nearest to `word` (edit distance at most 2, or a unique prefix), else null. */
function closest(word, candidates) {
  const prefixed = candidates.filter((c) => word.length >= 3 && c.startsWith(word))
  if (prefixed.length === 1) return prefixed[0]
  let best = null
  let bestDistance = 3
  for (const c of candidates) {
    const d = distance(word, c)
    if (d < bestDistance) [best, bestDistance] = [c, d]
  }
  return best
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function distance(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

function helpText(command) {
  const options = { ...command.options, ...COMMON_OPTIONS }
  const usageArgs = (command.positionals ?? []).map((p) => ` <${p.name}>`).join('')
  const lines = [`godwit ${command.name}${usageArgs} [options]`, '', command.summary, '']
  for (const p of command.positionals ?? []) lines.push(`  <${p.name}>`.padEnd(28) + p.description)
  if (command.positionals?.length) lines.push('')
  lines.push('Options:')
  for (const [name, o] of Object.entries(options)) {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`
    lines.push(`  ${flag}`.padEnd(28) + o.description)
  }
  if (command.details) lines.push('', command.details)
  lines.push('', 'Exit codes:')
  for (const [code, what] of EXIT_CODES) lines.push(`  ${String(code).padEnd(4)}${what}`)
  return lines.join('\n') + '\n'
}

/** `--quiet` and `--verbose`, shared by the commands that print progress. */
const OUTPUT_OPTIONS = {
  quiet: { type: 'boolean', short: 'q', description: 'no progress lines on stderr' },
  verbose: { type: 'boolean', description: 'more progress: settings in force, lock wait, each migration\'s SQL size and checksum' },
}

/** `{ progress, verbose }` from the flags; progress is off under --json (stdout is the document). */
function output(values) {
  if (values.quiet && values.verbose) throw new UsageError('--quiet and --verbose contradict each other; pick one')
  const progress = !values.quiet && !values.json
  return { progress, verbose: progress && Boolean(values.verbose) }
}

/** `--module-timeout <ms>`, shared by the commands that render modules. */
const MODULE_TIMEOUT_OPTION = {
  'module-timeout': { type: 'string', value: '<duration>', description: 'how long one module may take to import and render: ms or a duration like 20s (default 10s)' },
}

/** `--module-timeout` as given; the core parses it (one grammar for flag, variable and config). */
function moduleTimeout(values) {
  return values['module-timeout']
}

/** Colour only on a TTY, never with NO_COLOR; FORCE_COLOR forces it (except FORCE_COLOR=0). */
function colors(stream) {
  const force = process.env.FORCE_COLOR
  const on =
    force !== undefined && force !== '' ? force !== '0' && force !== 'false' : !process.env.NO_COLOR && Boolean(stream.isTTY)
  const wrap = (open, close) => (s) => (on ? `\x1b[${open}m${s}\x1b[${close}m` : String(s))
  return { on, red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) }
}

/** A path as the user should read it: relative to the current directory when inside it. */
function displayPath(p) {
  const rel = path.relative(process.cwd(), p)
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p
}

/**
 * A run whose record (its report, or the fleet's summary) could not be written: says so in red
 * and, unless --json printed it already, prints the document, so what the run did is still known.
 * The caller exits REPORT_NOT_WRITTEN's code unless the run failed for its own reason first.
 */
function notWritten(command, doc, error, values, out) {
  out.status(out.colors.red(`${command}: [REPORT_NOT_WRITTEN] the report could not be written: ${error}`))
  if (!values.json) out.line(JSON.stringify(doc, null, 2))
}

/**
 * Appends a pipeline step's outputs (`{ requires_migrations, clean }`) to the file in
 * $GITHUB_OUTPUT; true when they were written. A pipeline decides from them whether the
 * migration job runs, and a workflow that accepts `status`'s exit 1 (pending) would skip the job
 * if they went missing quietly. So a failure is said in red with the file and the reason, and the
 * caller exits IO's code whatever the status was, unless it failed for its own reason (exit 4).
 */
function githubOutput(outputs, out) {
  const file = process.env.GITHUB_OUTPUT
  try {
    require('node:fs').appendFileSync(file, Object.entries(outputs).map(([k, v]) => `${k}=${v}\n`).join(''))
    return true
  } catch (err) {
    out.status(out.colors.red(`status: [IO] --github-output: appending the step outputs to ${file} (GITHUB_OUTPUT) failed (${err.code ?? err.message}); requires_migrations and clean are not set, so this step fails rather than let a job that depends on them be skipped`))
    return false
  }
}

/**
 * A run's exit code (`up`, `down`, `verify`...): its own failure's first; else REPORT_NOT_WRITTEN's
 * when its report could not be written; else 0.
 */
function runExit(report) {
  if (!report.ok) return report.error?.exitCode ?? EXIT.INTERNAL
  return report.reportError ? exitFor('REPORT_NOT_WRITTEN') : EXIT.OK
}

module.exports = { notWritten, runExit, githubOutput, closest, COMMON_OPTIONS, OUTPUT_OPTIONS, output, MODULE_TIMEOUT_OPTION, EXIT, EXIT_CODES, UsageError, parse, helpText, colors, displayPath, moduleTimeout }
