// The shipped JSON Schema for `up` reports, compiled once; every report a test reads goes
// through validateReport, so the schema and the code cannot drift apart unnoticed.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema', 'migration-report.schema.json'), 'utf8'))
const ajv = new Ajv2020({ allErrors: true, strict: true })
addFormats(ajv)
const validate = ajv.compile(schema)

export function validateReport(doc) {
  if (!validate(doc)) {
    throw new Error(`report does not match schema/migration-report.schema.json:\n${ajv.errorsText(validate.errors, { separator: '\n' })}\n${JSON.stringify(doc, null, 2)}`)
  }
  return doc
}
