'use strict'
const fs = require('node:fs')
const { mergeFleets } = require('../../lib/fleet.js')
const { writeSynced } = require('../../lib/write.js')
const { exitFor } = require('../../lib/errors.js')
const { EXIT, UsageError, OUTPUT_OPTIONS } = require('../cli.js')

exports.name = 'fleet-merge'
exports.summary = 'Merge the fleet summaries of shards (`up --targets ... --shard i/n`) into one.'
exports.positionals = [{ name: 'fleet.json...', description: 'the shards\' fleet-<i>-of-<n>.json files' }]
exports.variadic = true
exports.options = {
  out: { type: 'string', path: true, value: '<file>', description: 'write the merged summary here (else only printed with --json)' },
  partial: { type: 'boolean', description: 'merge even when some shards\' files are missing (they are listed in missingShards)' },
  ...OUTPUT_OPTIONS,
}
exports.details = `Reads fleet-<i>-of-<n>.json files (one per shard, e.g. from the pods of a Kubernetes Indexed Job
writing to one volume) and writes one summary with every target once. Refused when a target appears
in two files (the shards were cut from different lists) or, without --partial, when a shard's file
is missing. Exit 0 when every target of every shard is ok, 8 otherwise.`

exports.run = async function run({ values, positionals }, out) {
  if (!positionals.length) throw new UsageError('fleet-merge needs the fleet summaries to merge, e.g. .artifacts/deploy/<sha>/fleet-*-of-3.json')
  const docs = positionals.map((file) => {
    try {
      return [file, JSON.parse(fs.readFileSync(file, 'utf8'))]
    } catch (e) {
      throw new UsageError(`${file}: ${e.code === 'ENOENT' ? 'no such file' : `not readable JSON (${e.message})`}; pass the fleet-<i>-of-<n>.json files the shards wrote`)
    }
  })
  const merged = mergeFleets(docs, { expectShards: !values.partial })
  // nothing ran here, so a summary that cannot be written is an IO error naming it
  if (values.out) writeSynced(values.out, JSON.stringify(merged, null, 2) + '\n')
  if (values.json) out.json(merged)
  const n = merged.counts
  const said = `fleet-merge: ${docs.length} file(s), ${n.targets} target(s): ${n.ok} ok, ${n.failed} failed, ${n.notStarted} not started` + (merged.missingShards.length ? `; missing shards ${merged.missingShards.join(', ')}` : '')
  out.status(merged.ok ? out.colors.green(said) : out.colors.red(said))
  if (values.out) out.status(out.colors.dim(`fleet: ${values.out}`))
  return merged.ok ? EXIT.OK : exitFor('TARGETS_FAILED')
}
