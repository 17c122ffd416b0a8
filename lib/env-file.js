'use strict'
// `.env` for the CLI, as dbmate and Prisma read it: the package root's `.env` fills in variables
// the real environment does not set (the real environment always wins), parsed by Node's own
// parser (`util.parseEnv`). Never read in production (NODE_ENV=production) or in the migration job
// (MIGRATION_JOB set) unless a file is named with --dotenv: there the platform's secrets are the
// environment, and a stray .env baked into an image must not point the job at another database.
// The JS API never reads it: a program loads its own environment.
const fs = require('node:fs')
const path = require('node:path')
const { parseEnv } = require('node:util')
const { GodwitError } = require('./errors.js')
const { deployed } = require('./where.js')

/**
 * Loads the env file into `env`. `file`: an explicit path (--dotenv; must exist), or undefined
 * for `.env` in `cwd` when there is one. `disabled`: --no-dotenv. Returns what happened, for
 * --verbose: `{ file, loaded: [names], kept: [names the environment already set] }`, or
 * `{ skipped: reason }`, or null when there is no file. Values are never returned.
 */
function loadEnvFile({ file, disabled = false, cwd = process.cwd(), env = process.env } = {}) {
  if (disabled && file) throw new GodwitError('USAGE', '--dotenv and --no-dotenv contradict each other; pick one')
  if (disabled) return { skipped: '--no-dotenv' }
  const explicit = file !== undefined
  const target = explicit ? path.resolve(cwd, file) : path.join(cwd, '.env')
  if (!explicit && deployed(env)) {
    return fs.existsSync(target) ? { skipped: `${env.NODE_ENV === 'production' ? 'NODE_ENV=production' : 'MIGRATION_JOB is set'} (name a file with --dotenv to read one)` } : null
  }
  let text
  try {
    text = fs.readFileSync(target, 'utf8')
  } catch (err) {
    if (!explicit && err.code === 'ENOENT') return null
    throw new GodwitError(explicit ? 'USAGE' : 'IO', `${explicit ? '--dotenv ' : ''}${target}: cannot be read (${err.code ?? err.message})`)
  }
  const loaded = []
  const kept = []
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (Object.hasOwn(env, name)) kept.push(name)
    else {
      env[name] = value
      loaded.push(name)
    }
  }
  return { file: target, loaded, kept }
}

module.exports = { loadEnvFile }
