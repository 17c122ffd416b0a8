// The schema fingerprint verify relies on is not vacuous: each kind of object the issue names
// (tables, columns, types, defaults, constraints, indexes, sequences, functions, views, enums,
// extensions, privileges) changes at least one line when it changes, and is stable otherwise.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { freshDatabase, query, server, stopServer } from './db.mjs'
import { ROOT } from './helpers.mjs'

const godwit = createRequire(import.meta.url)(ROOT)
after(stopServer)

const ROLE = `godwit_fp_reader_${process.pid}`
const BASE = `
CREATE TABLE t (id bigint PRIMARY KEY, v text DEFAULT 'a', n int);
CREATE SEQUENCE s;
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE VIEW tv AS SELECT id FROM t;
`

const CHANGES = {
  table: 'CREATE TABLE t2 (id int)',
  'column added': 'ALTER TABLE t ADD COLUMN w int',
  'column type': 'ALTER TABLE t ALTER COLUMN n TYPE bigint',
  default: "ALTER TABLE t ALTER COLUMN v SET DEFAULT 'b'",
  'not null': 'ALTER TABLE t ALTER COLUMN v SET NOT NULL',
  constraint: 'ALTER TABLE t ADD CONSTRAINT n_positive CHECK (n > 0)',
  index: 'CREATE INDEX t_v_idx ON t (v)',
  sequence: 'ALTER SEQUENCE s INCREMENT BY 2',
  function: "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2'",
  view: 'CREATE OR REPLACE VIEW tv AS SELECT id, v FROM t',
  enum: "ALTER TYPE mood ADD VALUE 'happy'",
  extension: 'CREATE EXTENSION pg_trgm',
  privilege: `GRANT SELECT ON t TO ${ROLE}`,
}

test('every_kind_of_schema_change_changes_the_fingerprint', async (t) => {
  const { url: serverUrl } = await server()
  // roles are cluster-wide: one for this process, dropped at the end
  await query(serverUrl, `CREATE ROLE ${ROLE}`)
  t.after(() => query(serverUrl, `DROP ROLE IF EXISTS ${ROLE}`))
  const saved = process.env.DATABASE_URL
  process.env.DATABASE_URL = serverUrl // the native side reads the server from the environment
  t.after(() => (saved === undefined ? delete process.env.DATABASE_URL : (process.env.DATABASE_URL = saved)))
  for (const [kind, change] of Object.entries(CHANGES)) {
    await t.test(kind, async (tt) => {
      const url = await freshDatabase(tt)
      const database = new URL(url).pathname.slice(1)
      await query(url, BASE)
      const before = await godwit.fingerprint({ database })
      assert.equal((await godwit.fingerprint({ database })).hash, before.hash, 'stable without a change')
      await query(url, change)
      const changed = await godwit.fingerprint({ database })
      const old = new Set(before.lines)
      assert.ok(changed.lines.some((l) => !old.has(l)), `${kind}: \`${change}\` added or altered no line`)
      assert.notEqual(changed.hash, before.hash)
    })
  }
})
