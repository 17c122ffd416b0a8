// Finding zig and cargo-zigbuild, for the cross builds (`pnpm pack:all`) and the cross-platform lint
// (`pnpm lint:platforms`).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs'
import path from 'node:path'

/**
 * Folders to put first on PATH so `zig` and `cargo-zigbuild` are found, or null when there is no
 * zig: on PATH already; else the project's own install (`python3 -m pip install --target
 * .tools/zig ziglang cargo-zigbuild`, what .ci/run does: a package manager's PATH may put
 * another python3 first); else the `ziglang` package of the python3 on PATH, behind a shim.
 */
export function zigDir(root) {
  if (spawnSync('zig', ['version']).status === 0) return ''
  const local = path.join(root, '.tools', 'zig')
  if (existsSync(path.join(local, 'ziglang', 'zig'))) return [path.join(local, 'ziglang'), path.join(local, 'bin')].join(path.delimiter)
  if (spawnSync('python3', ['-m', 'ziglang', 'version']).status !== 0) return null
  const dir = path.join(root, '.artifacts', 'zig-shim')
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'zig'), '#!/bin/sh\nexec python3 -m ziglang "$@"\n')
  chmodSync(path.join(dir, 'zig'), 0o755)
  return dir
}
