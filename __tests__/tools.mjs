// Validators from the registries that some tests run: installed on first use into .tools/ (a
// folder git ignores), from PyPI with the machine's python3. When python3 is missing the test
// that needs the tool is skipped, and says so.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from './helpers.mjs'

const TOOLS = path.join(ROOT, '.tools', 'py')

/** `kubernetes-validate` (PyPI) as [command, args, env], or null when it cannot be had here. */
export function kubernetesValidate() {
  const onPath = spawnSync('kubernetes-validate', ['--version'], { encoding: 'utf8' })
  if (onPath.status === 0) return { cmd: 'kubernetes-validate', env: {} }
  const env = { PYTHONPATH: TOOLS }
  const local = () => spawnSync('python3', ['-m', 'kubernetes_validate', '--version'], { encoding: 'utf8', env: { ...process.env, ...env } })
  if (!existsSync(TOOLS) || local().status !== 0) {
    mkdirSync(TOOLS, { recursive: true })
    const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--target', TOOLS, 'kubernetes-validate==1.37.0'], { encoding: 'utf8' })
    if (pip.status !== 0) return null
  }
  return local().status === 0 ? { cmd: 'python3', pre: ['-m', 'kubernetes_validate'], env } : null
}

/** zizmor (PyPI; GitHub Actions security audits) as a command path, or null when it cannot be had. */
export function zizmor() {
  const onPath = spawnSync('zizmor', ['--version'], { encoding: 'utf8' })
  if (onPath.status === 0) return 'zizmor'
  // its own folder: pip --target will not add to a bin/ another tool's install made
  const dir = path.join(ROOT, '.tools', 'zizmor')
  const bin = path.join(dir, 'bin', 'zizmor')
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true })
    const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--target', dir, 'zizmor==1.32.0'], { encoding: 'utf8' })
    if (pip.status !== 0) return null
  }
  return existsSync(bin) ? bin : null
}
