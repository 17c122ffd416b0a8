'use strict'
// The CLI's one parser, its help texts and its output conventions. Commands declare their
// options here-in-shape (name, type, description) and the help is generated from the same table,
// so `--help` cannot drift from what is parsed.
const { parseArgs } = require('node:util')
const path = require('node:path')
const { EXIT, EXIT_CODES } = require('../lib/exit.js')

const COMMON_OPTIONS = {
  dir: { type: 'string', value: '<path>', description: 'migrations folder (default: db/migrations under the current directory)' },
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
    throw new UsageError(`${err.message}\nrun \`godwit ${command.name} --help\` for usage`)
  }
  const max = command.positionals?.length ?? 0
  if (!parsed.values.help && parsed.positionals.length > max) {
    throw new UsageError(
      `unexpected argument \`${parsed.positionals[max]}\`\nrun \`godwit ${command.name} --help\` for usage`,
    )
  }
  return parsed
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
  return { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) }
}

/** A path as the user should read it: relative to the current directory when inside it. */
function displayPath(p) {
  const rel = path.relative(process.cwd(), p)
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p
}

module.exports = { COMMON_OPTIONS, OUTPUT_OPTIONS, output, MODULE_TIMEOUT_OPTION, EXIT, EXIT_CODES, UsageError, parse, helpText, colors, displayPath, moduleTimeout }
