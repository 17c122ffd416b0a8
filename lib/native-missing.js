'use strict'
// Why the native core could not be loaded, in godwit's words: the platform Node runs on (os,
// arch, libc and glibc version), the package that should have carried the binary, what went
// wrong with it, and the fix. napi's own loader text blames an npm bug, which is rarely the cause.
const { GodwitError } = require('./errors.js')

// The docs do not ship in the package; the repository has them.
const DOCS = "docs/install.md in godwit's repository"

/** The C library on Linux: glibc with its version, or musl (no glibc version in the report). */
function libc() {
  if (process.platform !== 'linux') return { name: null, version: null }
  try {
    const header = process.report.getReport().header
    if (header.glibcVersionRuntime) return { name: 'glibc', version: header.glibcVersionRuntime }
    return { name: 'musl', version: null }
  } catch {
    return { name: 'unknown', version: null }
  }
}

/** napi's platform package suffix for this process: linux-x64-gnu, darwin-arm64, win32-x64-msvc... */
function platformKey(platform, arch, libcName) {
  if (platform === 'linux') return `linux-${arch}-${libcName === 'musl' ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The platform packages this godwit publishes, from its own package.json. */
function publishedPackages() {
  try {
    const pkg = require('../package.json')
    const optional = Object.keys(pkg.optionalDependencies ?? {})
    if (optional.length > 0) return { name: pkg.name, version: pkg.version, packages: optional, source: false }
    // A source checkout: no optionalDependencies (they are written when packing), the binary is
    // built in place.
    return { name: pkg.name, version: pkg.version, packages: [], source: true }
  } catch {
    return { name: 'godwit', version: 'unknown', packages: [], source: false }
  }
}

/** Whether `name` resolves from godwit's folder, and where. */
function resolvePackage(name) {
  try {
    return require.resolve(`${name}/package.json`, { paths: [__dirname] })
  } catch {
    return null
  }
}

/** The first line of every message in an error and its `cause` chain (napi's loader chains them). */
function reasons(err) {
  const out = []
  for (let e = err, i = 0; e && i < 20; e = e.cause, i++) {
    const first = String(e.message ?? e).split('\n')[0]
    if (first && !out.includes(first)) out.push(first)
  }
  return out
}

/**
 * The error the CLI prints (exit 70, NATIVE_MISSING) and the API throws when the binary for this
 * platform is missing or does not load.
 */
function nativeMissing(cause, env = process.env) {
  const { platform, arch } = process
  const c = libc()
  const key = platformKey(platform, arch, c.name)
  const published = publishedPackages()
  const wanted = `${published.name}-${key}`
  const detected = [platform, arch, c.name && (c.version ? `${c.name} ${c.version}` : c.name)].filter(Boolean).join(' ')
  const lines = [`godwit's native core could not be loaded on ${detected} (Node ${process.version}).`]

  const override = env.NAPI_RS_NATIVE_LIBRARY_PATH
  if (override) {
    const all = reasons(cause)
    lines.push(`NAPI_RS_NATIVE_LIBRARY_PATH points at ${override}, which did not load: ${all.find((r) => r.includes(override)) ?? all.at(-1) ?? 'unknown reason'}.`)
    lines.push('Fix: point it at a godwit binary built for this platform (`pnpm build` in a godwit checkout writes one), or unset it.')
  } else if (published.source) {
    lines.push(`This is a source checkout of godwit ${published.version} and its binary (godwit.${key}.node) is not built or does not load.`)
    lines.push(`Fix: build it with Rust: \`pnpm build\` in the godwit folder (see ${DOCS}).`)
  } else if (!published.packages.includes(wanted)) {
    lines.push(`godwit ${published.version} publishes no binary for ${key}; it has: ${published.packages.map((p) => p.slice(published.name.length + 1)).join(', ')}.`)
    lines.push(`Fix: build the binary from source with Rust (a godwit checkout, \`pnpm build\`) and set NAPI_RS_NATIVE_LIBRARY_PATH to the .node file it writes (${DOCS}).`)
  } else {
    const at = resolvePackage(wanted)
    if (!at) {
      lines.push(`The package that carries its binary, ${wanted}@${published.version}, is not installed.`)
      lines.push(
        'Fix: install again with optional dependencies (pnpm and npm install them by default; drop --no-optional / --omit=optional). ' +
          'If node_modules or the lockfile were installed on another platform (macOS, then copied into a Linux image), run the install on this platform, ' +
          `or list it in pnpm-workspace.yaml: supportedArchitectures: { os: [${platform}], cpu: [${arch}]${c.name && c.name !== 'unknown' ? `, libc: [${c.name}]` : ''} }. ` +
          `Last resort: build from source with Rust and set NAPI_RS_NATIVE_LIBRARY_PATH (${DOCS}).`,
      )
    } else {
      const why = reasons(cause).find((r) => /\.node|GLIBC|ELF|dlopen|symbol|image|architecture|cannot open/i.test(r)) ?? reasons(cause)[0]
      lines.push(`${wanted} is installed (${at.replace(/[\\/]package\.json$/, '')}) but its binary did not load: ${why ?? 'unknown reason'}.`)
      lines.push(
        'Fix: install again so the package is complete; if the reason names GLIBC, this system\'s C library is older than the binary needs ' +
          `(godwit's gnu binaries need glibc 2.17): report it, and meanwhile build from source with Rust and set NAPI_RS_NATIVE_LIBRARY_PATH (${DOCS}).`,
      )
    }
  }
  const err = new GodwitError('NATIVE_MISSING', lines.join('\n'), 70)
  err.cause = cause
  err.detected = { platform, arch, libc: c.name, glibc: c.version, package: wanted }
  return err
}

module.exports = { nativeMissing, platformKey }
