// Module loader hooks for the render worker: a migration module is loaded from the exact text the
// core hashed and verified, never read again from disk, so a file swapped after verification is
// not what runs. Its own imports (relative ones included) resolve and load as usual.
let sources = new Map()

export async function initialize(data) {
  sources = new Map(Object.entries(data?.sources ?? {}))
}

export async function load(url, context, nextLoad) {
  const source = sources.get(url)
  if (source !== undefined) return { format: 'module', source, shortCircuit: true }
  return nextLoad(url, context)
}
