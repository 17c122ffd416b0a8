import godwit from '../../index.js'
import { displayPath, UsageError } from '../cli.mjs'

export const name = 'create'
export const summary = 'Create a migration from the template and seal it into checksums.json.'
export const positionals = [{ name: 'name', description: 'snake_case name: a-z, 0-9 and _ (e.g. add_widgets)' }]
export const options = {}
export const details = 'The version is the current time in epoch milliseconds, always newer than every existing migration.\nAlso: pnpm db:migrate:create -- <name>'

export async function run({ values, positionals: args }, out) {
  if (args.length === 0) {
    throw new UsageError('missing <name>: godwit create <name>, e.g. godwit create add_widgets')
  }
  const created = await godwit.create(args[0], { dir: values.dir })
  if (values.json) out.json(created)
  else out.line(displayPath(created.path))
  return 0
}
