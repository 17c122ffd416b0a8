'use strict'
// A fleet's targets: read from a targets file (JSON, or one target per line) or from the rows of
// `--targets-query`, checked, sharded, and turned into how each is reached. Pure but for reading
// the file; no secret is ever in a targets file (a URL lives in an environment variable the file
// names), so nothing here can print one.

const fs = require('node:fs')
const { GodwitError } = require('./errors.js')

/** A target's name: one safe path segment (its report folder) and a readable label. */
const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/
/** A database or schema name as a target gives it: a plain lowercase identifier. */
const IDENT = /^[a-z_][a-z0-9_$]{0,62}$/
/** An environment variable's name. */
const VAR = /^[A-Za-z_][A-Za-z0-9_]*$/
const KEYS = ['name', 'urlEnv', 'database', 'schema']

function bad(source, where, what, fix) {
  return new GodwitError('USAGE', `${source}${where ? ` (${where})` : ''}: ${what}; ${fix}`)
}

/**
 * One target, checked: `{ name, urlEnv?, database?, schema? }`. `urlEnv` names the variable that
 * holds its URL; without it the target is on DATABASE_URL's server, in `database` (default: that
 * URL's own), and with `schema`, in that schema of it (schema-per-tenant).
 */
function checkTarget(raw, source, where) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw bad(source, where, 'a target is an object like { "name": "acme", "database": "acme" }', 'see `godwit help up` for the forms')
  }
  for (const k of Object.keys(raw)) {
    if (k === 'url' || k === 'connectionString' || /password/i.test(k)) {
      throw bad(source, where, `\`${k}\` would put a connection secret in the targets file`, 'put the URL in an environment variable and name it with "urlEnv"')
    }
    if (!KEYS.includes(k)) throw bad(source, where, `unknown key \`${k}\``, `a target has ${KEYS.join(', ')}`)
  }
  const t = {}
  for (const k of KEYS) {
    if (raw[k] === undefined || raw[k] === null) continue
    if (typeof raw[k] !== 'string') throw bad(source, where, `\`${k}\` must be a string`, 'quote it')
    t[k] = raw[k].trim()
  }
  if (!t.name || !NAME.test(t.name)) {
    throw bad(source, where, `target name \`${t.name ?? ''}\` is not 1-63 characters of a-z, 0-9, _, . and - (starting with a letter or digit)`, 'rename it: the name is its report folder')
  }
  if (t.urlEnv !== undefined && !VAR.test(t.urlEnv)) throw bad(source, where, `urlEnv \`${t.urlEnv}\` is not an environment variable name`, 'name the variable that holds the URL, e.g. "ACME_DATABASE_URL"')
  if (t.urlEnv !== undefined && t.database !== undefined) throw bad(source, where, `target ${t.name} has both urlEnv and database`, 'the URL in urlEnv names its database already; keep one')
  for (const k of ['database', 'schema']) {
    if (t[k] !== undefined && !IDENT.test(t[k])) throw bad(source, where, `${k} \`${t[k]}\` of target ${t.name} is not a plain lowercase identifier`, 'use a-z, 0-9 and _ (PostgreSQL folds unquoted names to lowercase)')
  }
  return t
}

/** Every target checked, and no name twice. */
function checkAll(list, source) {
  const seen = new Set()
  const out = list.map(([raw, where]) => checkTarget(raw, source, where))
  for (const t of out) {
    if (seen.has(t.name)) throw bad(source, null, `target ${t.name} is listed twice`, 'give each target its own name')
    seen.add(t.name)
  }
  if (!out.length) throw bad(source, null, 'no targets', 'list at least one target')
  return out
}

/**
 * A targets file's text: a JSON array of targets (or `{ "targets": [...] }`), or one target per
 * line, `<name> [database=<db>] [schema=<schema>] [urlEnv=<VAR>]`, `#` starting a comment; a
 * bare name is a database of that name on DATABASE_URL's server.
 */
function parseTargets(text, source = 'targets file') {
  const trimmed = text.trim()
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let doc
    try {
      doc = JSON.parse(trimmed)
    } catch (e) {
      throw bad(source, null, `not valid JSON (${e.message})`, 'fix the JSON, or write one target per line')
    }
    const list = Array.isArray(doc) ? doc : doc?.targets
    if (!Array.isArray(list)) throw bad(source, null, 'the JSON is neither an array of targets nor { "targets": [...] }', 'write an array of targets')
    return checkAll(list.map((t, i) => [t, `target ${i + 1}`]), source)
  }
  const list = []
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const words = line.replace(/#.*$/, '').trim().split(/\s+/).filter(Boolean)
    if (!words.length) continue
    const [name, ...rest] = words
    const t = { name }
    for (const w of rest) {
      const eq = w.indexOf('=')
      if (eq < 1) throw bad(source, `line ${i + 1}`, `\`${w}\` is not key=value`, 'write e.g. `acme database=acme` or `acme schema=tenant_acme`')
      t[w.slice(0, eq)] = w.slice(eq + 1)
    }
    if (rest.length === 0) t.database = name.replace(/[.-]/g, '_')
    list.push([t, `line ${i + 1}`])
  }
  return checkAll(list, source)
}

function readTargets(file) {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw new GodwitError('USAGE', `cannot read the targets file ${file}: ${e.code ?? e.message}; pass the path of a file listing the targets`)
  }
  return parseTargets(text, file)
}

/** The rows of `--targets-query` (columns name, and any of database, schema, url_env). */
function targetsFromRows(rows, source = '--targets-query') {
  return checkAll(
    rows.map((r, i) => {
      const t = { name: r.name }
      if (r.database != null) t.database = r.database
      if (r.schema != null) t.schema = r.schema
      if (r.url_env != null) t.urlEnv = r.url_env
      const extra = Object.keys(r).filter((k) => !['name', 'database', 'schema', 'url_env'].includes(k))
      if (extra.length) throw bad(source, `row ${i + 1}`, `unknown column(s) ${extra.join(', ')}`, 'select name and any of database, schema, url_env')
      return [t, `row ${i + 1}`]
    }),
    source,
  )
}

/** `--shard i/n`: `{ index, count }`, 0-based. */
function parseShard(text) {
  const m = /^(\d+)\/(\d+)$/.exec(String(text).trim())
  const index = m && Number(m[1])
  const count = m && Number(m[2])
  if (!m || count < 1 || index >= count) {
    throw new GodwitError('USAGE', `--shard ${text}: expected i/n with 0 <= i < n (e.g. 0/3; in a Kubernetes Indexed Job: $JOB_COMPLETION_INDEX/$JOB_COMPLETIONS)`)
  }
  return { index, count }
}

/**
 * This shard's targets: those whose position in name order is `index` modulo `count`, so every
 * shard computes the same split from the same list, whatever order it was written in.
 */
function shardOf(targets, { index, count }) {
  return [...targets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).filter((_t, i) => i % count === index)
}

/**
 * How a target is reached: the variables its run sees in front of the process's own (its
 * DATABASE_URL), the history's schema and the guard's scope. `env` is the process environment.
 */
function reach(target, env = process.env) {
  let url
  if (target.urlEnv) {
    url = env[target.urlEnv]
    if (!url) throw new GodwitError('CONFIG', `target ${target.name}: the environment variable ${target.urlEnv} (its urlEnv) is not set; set it to the target's connection URL`)
  } else {
    const base = env.DATABASE_URL
    if (!base) throw new GodwitError('CONFIG', `target ${target.name}: DATABASE_URL is not set; targets without urlEnv are databases on DATABASE_URL's server`)
    let u
    try {
      u = new URL(base)
    } catch {
      throw new GodwitError('CONFIG', 'DATABASE_URL is not a URL; targets without urlEnv need DATABASE_URL as postgres://user@host:port/db')
    }
    if (target.database) u.pathname = `/${target.database}`
    url = u.toString()
  }
  if (target.schema) {
    // the tenant's schema first, then public (where shared extensions live); set at session
    // start, so the runner's reset before each migration comes back to it
    const u = new URL(url)
    const options = [u.searchParams.get('options'), `-c search_path=${target.schema},public`].filter(Boolean).join(' ')
    u.searchParams.delete('options')
    // percent-encoded by hand: libpq's URL reading (and godwit's) takes `+` literally, not as a space
    const rest = u.searchParams.toString()
    u.search = `${rest ? `${rest}&` : ''}options=${encodeURIComponent(options)}`
    url = u.toString()
  }
  return {
    env: { DATABASE_URL: url },
    schema: target.schema,
    onlySchema: target.schema,
  }
}

module.exports = { parseTargets, readTargets, targetsFromRows, parseShard, shardOf, reach, NAME }
