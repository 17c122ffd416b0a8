// Adopting godwit on a database another tool migrated: the real tool (dbmate, node-pg-migrate
// from npm) or, for the tools that do not install from the registries, the tool's history table
// created exactly as its own code does, with rows as it writes them. Then `import` converts the
// folder, `baseline --from` records what the tool applied, and godwit takes over: status clean,
// up a no-op, a new migration applies, the schema unchanged by the takeover itself. Also: the
// guard that refuses `up` over a populated database, `baseline <version>`, and an older release
// replayed on a database a newer one migrated (`ahead`).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import pg from 'pg'
import { ROOT, godwit, tmpDir, git } from './helpers.mjs'
import { freshDatabase, query, stopServer } from './db.mjs'
import { sourceProject } from './project.mjs'
import { realisticDbmate } from '../bench/history.mjs'

after(stopServer)
const api = createRequire(import.meta.url)(ROOT)
const BIN = path.join(ROOT, 'node_modules', '.bin')
const HISTORY = 'godwit_migrations'

/** The schema fingerprint of `url` without godwit's own history table. */
async function schema(url) {
  const saved = process.env.DATABASE_URL
  process.env.DATABASE_URL = url
  try {
    const f = await api.fingerprint({})
    return f.lines.filter((l) => !l.includes(HISTORY)).join('\n')
  } finally {
    if (saved === undefined) delete process.env.DATABASE_URL
    else process.env.DATABASE_URL = saved
  }
}

/** A godwit project (git repository) with these migrations (`version_name -> up SQL` or module text) and configuration. */
async function godwitProject(t, migrations, godwitConfig) {
  const cwd = tmpDir(t)
  git(cwd, 'init', '-q', '-b', 'main')
  const dir = path.join(cwd, 'db', 'migrations')
  mkdirSync(dir, { recursive: true })
  for (const [stem, text] of Object.entries(migrations)) {
    writeFileSync(path.join(dir, `${stem}.mjs`), text.startsWith('export ') ? text : `export const up = ${JSON.stringify(text)}\n`)
  }
  if (godwitConfig) writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ name: 'x', private: true, godwit: godwitConfig }))
  const sealed = await godwit(['check'], { cwd })
  assert.equal(sealed.code, 0, sealed.stdout + sealed.stderr)
  return { cwd, dir }
}

function run(cmd, args, { cwd, env }) {
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8' })
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stdout}${r.stderr}`)
  return r
}

const liveRows = async (url) => (await query(url, `SELECT to_regclass('${HISTORY}') IS NOT NULL AS t`))[0].t ? (await query(url, `SELECT version, sql_checksum FROM ${HISTORY} WHERE status <> 'reverted' ORDER BY version`)) : []

/** import + baseline --from + status + up + a new migration, on a database the tool migrated. */
async function takeOver(t, { cwd, url, tool }) {
  const env = { DATABASE_URL: url }
  const before = await schema(url)
  const imported = await godwit(['import', tool, 'source', '--json'], { cwd })
  assert.equal(imported.code, 0, imported.stderr)
  const pkg = JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8'))
  assert.equal(pkg.godwit.baseline, imported.json.baseline)
  const written = JSON.parse(readFileSync(path.join(cwd, imported.json.reportPath), 'utf8'))
  assert.deepEqual(written.migrations, imported.json.migrations, 'the import report keeps the mapping')
  const checked = await godwit(['check'], { cwd })
  assert.equal(checked.code, 0, checked.stdout + checked.stderr)

  // the guard: godwit's history is empty and the database holds a schema (and the tool's
  // history): up is refused before any statement, the database unchanged
  const refused = await godwit(['up', '--sha', 'guard', '--json'], { cwd, env })
  assert.equal(refused.code, 4, refused.stderr)
  assert.equal(refused.json.error.code, 'DATABASE_NOT_EMPTY')
  assert.match(refused.json.error.message, /baseline --from/)
  assert.equal(await schema(url), before, 'a refused up changed nothing')
  assert.deepEqual(await liveRows(url), [])

  const base = await godwit(['baseline', '--from', tool, '--sha', 'adopt', '--json'], { cwd, env })
  assert.equal(base.code, 0, base.stderr + base.stdout)
  assert.equal(base.json.outcome, 'baselined')
  const recorded = base.json.migrations.filter((m) => m.state === 'baselined').length
  assert.ok(recorded > 0)
  assert.ok(existsSync(path.join(cwd, '.artifacts', 'deploy', 'adopt', 'baseline.json')))
  assert.ok((await liveRows(url)).every((r) => r.sql_checksum === 'baseline'))
  assert.equal(await schema(url), before, 'import and baseline ran nothing')

  const again = await godwit(['baseline', '--from', tool, '--sha', 'twice', '--json'], { cwd, env })
  assert.equal(again.code, 4, again.stderr)
  assert.equal(again.json.error.code, 'BASELINE_REFUSED')

  const status = await godwit(['status', '--json'], { cwd, env })
  assert.equal(status.code, 0, status.stdout)
  assert.equal(status.json.clean, true)
  assert.ok(status.json.migrations.every((m) => m.baselined))
  const noop = await godwit(['up', '--sha', 'noop', '--json'], { cwd, env })
  assert.equal(noop.code, 0, noop.stderr)
  assert.equal(noop.json.outcome, 'nothing-to-do')
  assert.equal(await schema(url), before)

  // a new migration, written the godwit way, applies on top
  const created = await godwit(['create', 'add_godwit_marker', '--json'], { cwd })
  writeFileSync(path.resolve(cwd, created.json.path), 'export const up = `CREATE TABLE godwit_took_over (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)`\n')
  assert.equal((await godwit(['check'], { cwd })).code, 0)
  const next = await godwit(['up', '--sha', 'next', '--json'], { cwd, env })
  assert.equal(next.code, 0, next.stderr)
  assert.deepEqual(next.json.migrations.filter((m) => m.state === 'applied').map((m) => m.file), [created.json.file])
  return { recorded, imported: imported.json }
}

const DBMATE = {
  '20230102030405_create_users.sql': '-- migrate:up\nCREATE TABLE users (id bigserial PRIMARY KEY, email varchar(100) NOT NULL);\n\n-- migrate:down\nDROP TABLE users;\n',
  '20230102030406_index_email.sql': '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n\n-- migrate:down\nDROP INDEX users_email;\n',
  '20230102030407_backfill.sql': "-- migrate:up\nALTER TABLE users ADD COLUMN name text;\nUPDATE users SET name = 'x';\n-- migrate:down\nALTER TABLE users DROP COLUMN name;\n",
}

test('dbmate_real_history_is_imported_baselined_and_extended', async (t) => {
  const url = await freshDatabase(t)
  const cwd = sourceProject(t, DBMATE)
  run(path.join(BIN, 'dbmate'), ['--url', `${url}?sslmode=disable`, '--migrations-dir', 'source', '--no-dump-schema', 'up'], { cwd })
  const { recorded, imported } = await takeOver(t, { cwd, url, tool: 'dbmate' })
  assert.equal(recorded, 3)
  assert.deepEqual(imported.migrations.map((m) => m.id), ['20230102030405', '20230102030406', '20230102030407'])
  // the no-transaction source keeps its mode; the mapping keeps the instant
  const text = readFileSync(path.join(cwd, 'db/migrations', imported.migrations[1].file), 'utf8')
  assert.match(text, /config = \{ transaction: false \}/)
  assert.equal(imported.migrations[0].version, String(Date.UTC(2023, 0, 2, 3, 4, 5)))
})

test('node_pg_migrate_real_history_is_imported_baselined_and_extended', async (t) => {
  const url = await freshDatabase(t)
  const cwd = sourceProject(t, {
    '1700000000000_create-accounts.sql': '-- Up Migration\nCREATE TABLE accounts (id serial PRIMARY KEY, name text);\n-- Down Migration\nDROP TABLE accounts;\n',
    '1700000000500_add-email.sql': '-- Up Migration\nALTER TABLE accounts ADD COLUMN email text;\n-- Down Migration\nALTER TABLE accounts DROP COLUMN email;\n',
  })
  run(path.join(BIN, 'node-pg-migrate'), ['up', '-m', 'source', '--no-verbose'], { cwd, env: { DATABASE_URL: url } })
  const { recorded, imported } = await takeOver(t, { cwd, url, tool: 'node-pg-migrate' })
  assert.equal(recorded, 2)
  assert.deepEqual(imported.migrations.map((m) => m.id), ['1700000000000_create-accounts', '1700000000500_add-email'])
})

// The tools that do not install from the registries: their folder in its documented shape, the
// SQL applied, and the history table and rows exactly as each tool's own code writes them.
const TOOLS = {
  'golang-migrate': {
    files: { '000001_init.up.sql': 'BEGIN;\nCREATE TABLE gm (id int);\nCOMMIT;\n', '000001_init.down.sql': 'DROP TABLE gm;\n', '000002_more.up.sql': 'ALTER TABLE gm ADD COLUMN v text;\n' },
    sql: 'CREATE TABLE gm (id int); ALTER TABLE gm ADD COLUMN v text;',
    history: 'CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null); INSERT INTO schema_migrations VALUES (2, false);',
    broken: 'UPDATE schema_migrations SET dirty = true',
  },
  goose: {
    files: { '00001_init.sql': '-- +goose Up\nCREATE TABLE gs (id int);\n-- +goose Down\nDROP TABLE gs;\n', '00002_fn.sql': "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION gs_one() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\n-- +goose StatementEnd\n" },
    sql: "CREATE TABLE gs (id int); CREATE FUNCTION gs_one() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;",
    history: 'CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now()); INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true);',
  },
  sqlx: {
    files: { '20230102030405_init.sql': 'CREATE TABLE sx (id int);\n', '20230102030406_more.sql': '-- no-transaction\nCREATE INDEX CONCURRENTLY sx_id ON sx (id);\n' },
    sql: 'CREATE TABLE sx (id int); CREATE INDEX sx_id ON sx (id);',
    history: "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL); INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (20230102030405, 'init', true, '\\x00', 1), (20230102030406, 'more', true, '\\x00', 1);",
    broken: 'UPDATE _sqlx_migrations SET success = false WHERE version = 20230102030406',
  },
  diesel: {
    files: { '2023-01-02-030405_create_dz/up.sql': 'CREATE TABLE dz (id int);\n', '2023-01-02-030405_create_dz/down.sql': 'DROP TABLE dz;\n', '2023-01-02-030406_idx/up.sql': 'CREATE INDEX CONCURRENTLY dz_id ON dz (id);\n', '2023-01-02-030406_idx/metadata.toml': 'run_in_transaction = false\n' },
    sql: 'CREATE TABLE dz (id int); CREATE INDEX dz_id ON dz (id);',
    history: "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); INSERT INTO __diesel_schema_migrations (version) VALUES ('20230102030405'), ('20230102030406');",
  },
  flyway: {
    files: { 'V1__Create_fw.sql': 'CREATE TABLE fw (id int);\n', 'V1_1__Add_v.sql': 'ALTER TABLE fw ADD COLUMN v text;\n', 'U1_1__Add_v.sql': 'ALTER TABLE fw DROP COLUMN v;\n' },
    sql: 'CREATE TABLE fw (id int); ALTER TABLE fw ADD COLUMN v text;',
    history: `CREATE TABLE "flyway_schema_history" ("installed_rank" INT NOT NULL, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL, "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER, "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(), "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL);
      ALTER TABLE "flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
      CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_schema_history" ("success");
      INSERT INTO flyway_schema_history VALUES (1, '1', 'Create fw', 'SQL', 'V1__Create_fw.sql', 1, 'app', now(), 3, true), (2, '1.1', 'Add v', 'SQL', 'V1_1__Add_v.sql', 2, 'app', now(), 3, true);`,
    broken: "INSERT INTO flyway_schema_history VALUES (3, '1.2', 'Broken', 'SQL', 'V1_2__Broken.sql', 3, 'app', now(), 3, false)",
  },
  prisma: {
    files: { 'migration_lock.toml': 'provider = "postgresql"\n', '20230102030405_init/migration.sql': 'CREATE TABLE "Pm" ("id" SERIAL NOT NULL, CONSTRAINT "Pm_pkey" PRIMARY KEY ("id"));\n', '20230102030406_email/migration.sql': 'ALTER TABLE "Pm" ADD COLUMN "email" TEXT;\n' },
    sql: 'CREATE TABLE "Pm" ("id" SERIAL NOT NULL, CONSTRAINT "Pm_pkey" PRIMARY KEY ("id")); ALTER TABLE "Pm" ADD COLUMN "email" TEXT;',
    history: `CREATE TABLE "_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ, "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ, "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0);
      INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count) VALUES ('a', 'x', now(), '20230102030405_init', 1), ('b', 'y', now(), '20230102030406_email', 1);`,
    broken: "INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ('c', 'z', '20230102030406_email')",
  },
}

for (const [tool, spec] of Object.entries(TOOLS)) {
  test(`${tool}_history_as_its_code_writes_it_is_imported_baselined_and_extended`, async (t) => {
    const url = await freshDatabase(t)
    const cwd = sourceProject(t, spec.files)
    await query(url, spec.sql)
    await query(url, spec.history)
    const { recorded } = await takeOver(t, { cwd, url, tool })
    assert.equal(recorded, 2)
  })

  if (spec.broken) {
    test(`${tool}_history_with_a_failed_entry_refuses_the_baseline_and_writes_nothing`, async (t) => {
      const url = await freshDatabase(t)
      const cwd = sourceProject(t, spec.files)
      await query(url, spec.sql)
      await query(url, spec.history)
      await query(url, spec.broken)
      assert.equal((await godwit(['import', tool, 'source'], { cwd })).code, 0)
      const r = await godwit(['baseline', '--from', tool, '--sha', 'x', '--json'], { cwd, env: { DATABASE_URL: url } })
      assert.equal(r.code, 4, r.stderr)
      assert.equal(r.json.error.code, 'BASELINE_REFUSED')
      assert.match(r.json.error.message, /failed or dirty/)
      assert.equal((await query(url, `SELECT to_regclass('${HISTORY}') IS NULL AS absent`))[0].absent, true, 'not even the history table')
    })
  }
}

test('baseline_from_a_history_with_entries_no_imported_file_has_is_refused_naming_them', async (t) => {
  const url = await freshDatabase(t)
  const cwd = sourceProject(t, TOOLS.goose.files)
  await query(url, TOOLS.goose.sql)
  await query(url, TOOLS.goose.history)
  await query(url, 'INSERT INTO goose_db_version (version_id, is_applied) VALUES (7, true)')
  assert.equal((await godwit(['import', 'goose', 'source'], { cwd })).code, 0)
  const r = await godwit(['baseline', '--from', 'goose', '--sha', 'x', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(r.code, 4)
  assert.match(r.json.error.message, /no imported file here has: 7/)
  const missing = await godwit(['baseline', '--from', 'dbmate', '--sha', 'y', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(missing.code, 4)
  assert.match(missing.json.error.message, /no migration here was imported from dbmate/)
})

test('baseline_to_a_version_records_up_to_it_refuses_twice_past_and_unknown_and_waits_for_the_lock', async (t) => {
  const url = await freshDatabase(t)
  const { cwd } = await godwitProject(t, { '1700000000001_m': 'CREATE TABLE a (id int)', '1700000000002_m': 'CREATE TABLE b (id int)', '1700000000003_m': 'CREATE TABLE c (id int)' })
  await query(url, 'CREATE TABLE a (id int); CREATE TABLE b (id int)')
  const env = { DATABASE_URL: url }
  // while another runner holds the lock: bounded like up, nothing written
  const holder = new pg.Client({ connectionString: url })
  await holder.connect()
  await holder.query('SELECT pg_advisory_lock(2873364230597916043)')
  const waited = await godwit(['baseline', '1700000000002', '--sha', 'w', '--json'], { cwd, env: { ...env, MIGRATION_TIMEOUT_SECONDS: '1' } })
  await holder.end()
  assert.equal(waited.code, 3, waited.stderr)
  assert.equal(waited.json.error.code, 'LOCK_NOT_ACQUIRED')
  assert.deepEqual(await liveRows(url), [])

  const unknown = await godwit(['baseline', '1700000000009', '--sha', 'u'], { cwd, env })
  assert.equal(unknown.code, 2, unknown.stderr)
  assert.match(unknown.stderr, /not the version of a migration file here/)
  const ok = await godwit(['baseline', '1700000000002', '--sha', 'b'], { cwd, env })
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stderr, /recorded 2 migrations as applied/)
  assert.equal((await godwit(['baseline', '1700000000002', '--sha', 'b2'], { cwd, env })).code, 4)
  assert.equal((await godwit(['baseline', '1700000000001', '--sha', 'b3'], { cwd, env })).code, 4, 'the history goes past it')
  const up = await godwit(['up', '--sha', 'up', '--json'], { cwd, env })
  assert.equal(up.code, 0, up.stderr)
  assert.deepEqual(up.json.migrations.map((m) => m.state), ['already-applied', 'already-applied', 'applied'])
})

test('an_older_release_replayed_is_ahead_not_broken_unless_the_project_refuses_it', async (t) => {
  const url = await freshDatabase(t)
  const { cwd, dir } = await godwitProject(t, { '1700000000001_m': 'CREATE TABLE a (id int)', '1700000000002_m': 'CREATE TABLE b (id int)', '1700000000003_m': 'CREATE TABLE c (id int)' })
  const env = { DATABASE_URL: url }
  assert.equal((await godwit(['up', '--sha', 'new'], { cwd, env })).code, 0)
  // the older release: its files end at the first migration
  const older = tmpDir(t)
  const olderDir = path.join(older, 'db', 'migrations')
  mkdirSync(olderDir, { recursive: true })
  writeFileSync(path.join(olderDir, '1700000000001_m.mjs'), readFileSync(path.join(dir, '1700000000001_m.mjs')))
  assert.equal((await godwit(['check'], { cwd: older })).code, 0)
  const up = await godwit(['up', '--sha', 'old', '--json'], { cwd: older, env })
  assert.equal(up.code, 0, up.stderr)
  assert.equal(up.json.outcome, 'database-ahead')
  assert.deepEqual(up.json.migrations.map((m) => m.state), ['already-applied', 'ahead', 'ahead'])
  const st = await godwit(['status', '--json'], { cwd: older, env })
  assert.equal(st.code, 0)
  assert.equal(st.json.requires_migrations, false)
  assert.equal(st.json.ahead, 2)
  // a gap in the middle is still an integrity failure
  const gap = tmpDir(t)
  mkdirSync(path.join(gap, 'db', 'migrations'), { recursive: true })
  for (const v of ['1700000000001', '1700000000003']) writeFileSync(path.join(gap, 'db', 'migrations', `${v}_m.mjs`), readFileSync(path.join(dir, `${v}_m.mjs`)))
  assert.equal((await godwit(['check'], { cwd: gap })).code, 0)
  const g = await godwit(['up', '--sha', 'gap', '--json'], { cwd: gap, env })
  assert.equal(g.code, 4)
  assert.match(g.json.error.message, /1700000000002 m: applied, but its file is gone/)
  // the strict rule, for teams who want it
  writeFileSync(path.join(older, 'package.json'), JSON.stringify({ name: 'x', godwit: { ahead: 'refuse' } }))
  const strict = await godwit(['up', '--sha', 'strict', '--json'], { cwd: older, env })
  assert.equal(strict.code, 4, strict.stderr)
  assert.equal((await godwit(['status'], { cwd: older, env })).code, 4)
})

test('import_refuses_bad_input_listing_every_problem_and_writes_nothing', async (t) => {
  const cwd = sourceProject(t, {
    'V1__ok.sql': 'CREATE TABLE a (id int);',
    'R__views.sql': 'CREATE VIEW v AS SELECT 1;',
    'V1__again.sql': 'CREATE TABLE b (id int);',
    'notes.txt': 'hello',
  })
  writeFileSync(path.join(cwd, 'source', 'V2__latin1.sql'), Buffer.from([0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0x27, 0xe9, 0x27, 0x3b]))
  const r = await godwit(['import', 'flyway', 'source', '--json'], { cwd })
  assert.equal(r.code, 2, r.stderr)
  assert.equal(r.json.error.code, 'IMPORT_INVALID')
  for (const says of ['R__views.sql: a repeatable migration', 'notes.txt: not a flyway migration', 'V2__latin1.sql: is not UTF-8', 'appears twice']) {
    assert.ok(r.json.error.message.includes(says), `${says} in ${r.json.error.message}`)
  }
  assert.equal(existsSync(path.join(cwd, 'db', 'migrations')), false, 'nothing was written')
  assert.equal(JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8')).godwit, undefined)
  const js = sourceProject(t, { '1700000000000_builder.js': 'exports.up = (pgm) => { pgm.createTable("t", {}) }' })
  const j = await godwit(['import', 'node-pg-migrate', 'source'], { cwd: js })
  assert.equal(j.code, 2)
  assert.match(j.stderr, /1700000000000_builder\.js: a JavaScript migration; its up\/down call node-pg-migrate's builder API/)
  const unknownTool = await godwit(['import', 'liquibase', 'source'], { cwd: js })
  assert.equal(unknownTool.code, 2)
  assert.match(unknownTool.stderr, /not a tool godwit imports from; known: dbmate/)
})

test('an_import_whose_report_cannot_be_written_keeps_the_migrations_and_prints_the_mapping', async (t) => {
  // before: the import wrote and sealed the migrations, then died on the report with Node's own
  // ENOTDIR, and the mapping from each source id to its file was lost
  const cwd = sourceProject(t, TOOLS.goose.files)
  writeFileSync(path.join(cwd, '.artifacts'), 'a file where the report folder goes')
  const r = await godwit(['import', 'goose', 'source'], { cwd })
  assert.equal(r.code, 70, r.stderr)
  assert.match(r.stderr, /import: \[REPORT_NOT_WRITTEN\] the report could not be written: \S*\.artifacts\S*: Not a directory/)
  const printed = JSON.parse(r.stdout)
  assert.equal(printed.reportPath, null)
  assert.equal(printed.migrations.length, Object.keys(TOOLS.goose.files).length)
  const written = readdirSync(path.join(cwd, 'db', 'migrations')).filter((f) => f.endsWith('.mjs')).sort()
  assert.deepEqual(written, printed.migrations.map((m) => m.file).sort(), 'the migrations stay written, as printed')
  assert.equal((await godwit(['check'], { cwd })).code, 0, 'and sealed')
})

test('a_300_migration_history_is_imported_checked_in_ci_in_a_few_lines_baselined_and_extended', async (t) => {
  const url = await freshDatabase(t)
  const cwd = sourceProject(t, realisticDbmate(300))
  run(path.join(BIN, 'dbmate'), ['--url', `${url}?sslmode=disable`, '--migrations-dir', 'source', '--no-dump-schema', 'up'], { cwd })
  const imported = await godwit(['import', 'dbmate', 'source'], { cwd })
  assert.equal(imported.code, 0, imported.stderr)
  assert.equal(readdirSync(path.join(cwd, 'db', 'migrations')).filter((f) => f.endsWith('.mjs')).length, 300)
  git(cwd, 'add', '-A')
  git(cwd, '-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-q', '-m', 'import')
  const ci = await godwit(['check'], { cwd, env: { CI: 'true', MIGRATION_BASE_REF: 'main' } })
  assert.equal(ci.code, 0, ci.stdout + ci.stderr)
  const lines = (ci.stdout + ci.stderr).trim().split('\n')
  assert.ok(lines.length < 20, `CI check printed ${lines.length} lines:\n${lines.join('\n')}`)
  assert.match(ci.stderr, /legacy history: 300 migration\(s\)/)
  const before = await schema(url)
  const base = await godwit(['baseline', '--from', 'dbmate', '--sha', 'adopt'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(base.code, 0, base.stderr)
  assert.match(base.stderr, /recorded 300 migrations/)
  assert.equal(await schema(url), before)
  // extended: a new migration is judged by every rule (it is not legacy)
  const created = await godwit(['create', 'index_t1_made', '--json'], { cwd })
  writeFileSync(path.resolve(cwd, created.json.path), 'export const up = `CREATE INDEX t1_made ON t1 (made)`\n')
  const judged = await godwit(['check'], { cwd })
  assert.equal(judged.code, 1, 'a blocking index on an existing table is refused in a new migration')
  assert.match(judged.stdout, /require-concurrent-index-creation/)
  writeFileSync(path.resolve(cwd, created.json.path), 'export const up = `CREATE INDEX CONCURRENTLY t1_made ON t1 (made)`\nexport const config = { transaction: false }\n')
  assert.equal((await godwit(['check'], { cwd })).code, 0)
  const up = await godwit(['up', '--sha', 'next', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(up.code, 0, up.stderr)
  assert.equal(up.json.migrations.filter((m) => m.state === 'applied').length, 1)
})

test('verify_no_round_trip_skips_the_round_trip', async (t) => {
  const url = await freshDatabase(t)
  // a down that does not revert its up: the round trip would refuse it
  const { cwd } = await godwitProject(t, { '1700000000001_m': "export const up = 'CREATE TABLE a (id int)'\nexport const down = 'SELECT 1'\n" })
  const env = { DATABASE_URL: url, CI: 'true', MIGRATION_BASE_REF: 'none' }
  const strict = await godwit(['verify', '--json'], { cwd, env })
  assert.equal(strict.code, 1, strict.stderr)
  assert.equal(strict.json.error.code, 'NOT_REVERSIBLE')
  const r = await godwit(['verify', '--no-round-trip', '--json'], { cwd, env })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.json.steps.some((s) => s.step === 'round-trip' && s.skipped))
})

test('verify_leaves_the_legacy_history_out_of_the_round_trip', async (t) => {
  const url = await freshDatabase(t)
  // legacy: its down does not revert its up (it never ran in a chain); after it, a proper pair
  const { cwd } = await godwitProject(t, {
    '1700000000001_legacy': "export const up = 'CREATE TABLE a (id int)'\nexport const down = 'SELECT 1'\n",
    '1700000000002_new': "export const up = 'CREATE TABLE b (id int)'\nexport const down = 'DROP TABLE b'\n",
  }, { baseline: '1700000000001' })
  const r = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url, CI: 'true', MIGRATION_BASE_REF: 'none' } })
  assert.equal(r.code, 0, r.stderr + JSON.stringify(r.json?.error))
  const down = r.json.steps.find((s) => s.step === 'round-trip-down')
  assert.equal(down.reverted, 1, 'only the migration after the baseline was reverted')
  assert.ok(r.json.steps.some((s) => s.step === 'round-trip' && s.ok && !s.skipped))
})
