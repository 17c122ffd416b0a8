// The API's start-up: verify, never migrate (the playbook). The pipeline's migration job ran
// `pnpm --filter app db:migrate:up` before this release; if it did not, refuse to serve a schema
// this code was not built for.
import { createServer } from 'node:http'
import godwit from 'godwit'

try {
  await godwit.assertSchemaCurrent()
} catch (err) {
  console.error(`app: not starting: [${err.code}] ${err.message}`)
  process.exit(1)
}
if (process.argv.includes('--check-only')) {
  console.log('app: schema is current')
} else {
  createServer((req, res) => res.end('ok\n')).listen(process.env.PORT ?? 3000)
}
