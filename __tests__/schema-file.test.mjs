// db/schema.sql: what the migrations build, as reviewers read it. A local up/down/reset keeps it
// true, verify fails a pull request whose file and migrations disagree, and drift compares a live
// database with it.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { godwit } from './helpers.mjs'
import { freshDatabase, query, stopServer } from './db.mjs'
import { project, sql, V } from './project.mjs'

after(stopServer)

const MIGRATIONS = {
  [`${V(1)}_mood.mjs`]: sql("CREATE TYPE mood AS ENUM ('happy', 'sad')"),
  [`${V(2)}_people.mjs`]: `export const up = ${JSON.stringify(`CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, mood mood, age positive, email text UNIQUE);
CREATE SEQUENCE tickets START 100;
CREATE VIEW happy_people AS SELECT id, name FROM people WHERE mood = 'happy';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER people_touch BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION touch();`)}\nexport const config = { ignore: { 'ban-create-domain-with-constraint': 'a test of the schema file' } }\nexport const down = 'DROP TRIGGER people_touch ON people; DROP FUNCTION touch(); DROP VIEW happy_people; DROP SEQUENCE tickets; DROP TABLE people; DROP DOMAIN positive'\n`,
  [`${V(3)}_people_name_idx.mjs`]: "export const config = { transaction: false }\nexport const up = 'CREATE INDEX CONCURRENTLY IF NOT EXISTS people_name_idx ON people (name)'\nexport const down = 'DROP INDEX CONCURRENTLY people_name_idx'\n",
}

const schemaPath = (cwd) => path.join(cwd, 'db', 'schema.sql')

test('a_local_up_writes_the_schema_file_and_down_rewrites_it', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, MIGRATIONS)
  const up = await godwit(['up', '--sha', 's'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(up.code, 0, up.stderr)
  assert.match(up.stderr, /schema: wrote db\/schema\.sql/)
  const text = readFileSync(schemaPath(cwd), 'utf8')
  assert.match(text, /^-- db\/schema\.sql: the schema the migrations build/)
  for (const want of [
    "CREATE TYPE public.mood AS ENUM ('happy', 'sad');",
    'CREATE DOMAIN public.positive AS integer;',
    'CREATE SEQUENCE public.tickets AS bigint START WITH 100 INCREMENT BY 1',
    'CREATE TABLE public.people (\n    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,\n    name text NOT NULL,\n    mood mood,\n    age positive,\n    email text\n);',
    'ALTER TABLE ONLY public.people ADD CONSTRAINT people_pkey PRIMARY KEY (id);',
    'ALTER TABLE ONLY public.people ADD CONSTRAINT people_email_key UNIQUE (email);',
    'ALTER DOMAIN public.positive ADD CONSTRAINT positive_check CHECK ((VALUE > 0));',
    'CREATE INDEX people_name_idx ON public.people USING btree (name);',
    // the view's text is PostgreSQL's own (pg_get_viewdef), which each major version prints its way
    'CREATE VIEW public.happy_people AS\n SELECT ',
    "'happy'::mood;",
    'CREATE OR REPLACE FUNCTION public.touch()',
    'CREATE TRIGGER people_touch BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION touch();',
  ]) assert.ok(text.includes(want), `missing:\n${want}\n--- in:\n${text}`)
  assert.doesNotMatch(text, /godwit_migrations|OWNER|GRANT/, 'no history table, owners or privileges')
  // nothing changed: the file is not rewritten
  const mtime = statSync(schemaPath(cwd)).mtimeMs
  assert.equal((await godwit(['up', '--sha', 's'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  assert.equal(statSync(schemaPath(cwd)).mtimeMs, mtime)
  // the same migrations on another database: the same text
  const other = await freshDatabase(t)
  const again = await project(t, MIGRATIONS)
  assert.equal((await godwit(['up', '--sha', 's'], { cwd: again, env: { DATABASE_URL: other } })).code, 0)
  assert.equal(readFileSync(schemaPath(again), 'utf8'), text)
  // down follows too
  const down = await godwit(['down', '--sha', 's'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(down.code, 0, down.stderr)
  assert.doesNotMatch(readFileSync(schemaPath(cwd), 'utf8'), /people_name_idx/)
})

test('the_schema_file_is_not_written_in_ci_production_the_job_or_for_a_remote_server', async (t) => {
  const url = await freshDatabase(t)
  for (const env of [{ CI: 'true' }, { NODE_ENV: 'production' }, { MIGRATION_JOB: '1' }]) {
    const cwd = await project(t, MIGRATIONS)
    const db = await freshDatabase(t)
    const r = await godwit(['up', '--sha', 's'], { cwd, env: { DATABASE_URL: db, ...env } })
    assert.equal(r.code, 0, `${JSON.stringify(env)}: ${r.stderr}`)
    assert.equal(existsSync(schemaPath(cwd)), false, JSON.stringify(env))
  }
  // a server named by a host that is not this machine's (reached here through hostaddr)
  const u = new URL(url)
  const remote = `postgres://${u.username}${u.password ? `:${u.password}` : ''}@db.example:${u.port || 5432}${u.pathname}?hostaddr=127.0.0.1&sslmode=disable`
  const cwd = await project(t, MIGRATIONS)
  const r = await godwit(['up', '--sha', 's'], { cwd, env: { DATABASE_URL: remote } })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(existsSync(schemaPath(cwd)), false, 'not for a remote server')
  // turned off, or elsewhere
  const off = await project(t, MIGRATIONS)
  writeFileSync(path.join(off, 'package.json'), JSON.stringify({ godwit: { schemaFile: false } }))
  assert.equal((await godwit(['up', '--sha', 's'], { cwd: off, env: { DATABASE_URL: await freshDatabase(t) } })).code, 0)
  assert.equal(existsSync(schemaPath(off)), false)
  const moved = await project(t, MIGRATIONS)
  writeFileSync(path.join(moved, 'package.json'), JSON.stringify({ godwit: { schemaFile: 'schema/app.sql' } }))
  assert.equal((await godwit(['up', '--sha', 's'], { cwd: moved, env: { DATABASE_URL: await freshDatabase(t) } })).code, 0)
  assert.ok(existsSync(path.join(moved, 'schema', 'app.sql')))
  writeFileSync(path.join(moved, 'package.json'), JSON.stringify({ godwit: { schemaFile: 3 } }))
  const bad = await godwit(['status'], { cwd: moved, env: { DATABASE_URL: url } })
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /`schemaFile` must be a path .* or false/)
})

test('verify_fails_when_the_schema_file_is_not_what_the_migrations_build', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, MIGRATIONS)
  // no file yet: verify passes and says so
  const none = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(none.code, 0, none.stdout + none.stderr)
  assert.match(none.json.steps.find((s) => s.step === 'schema-file').skipped, /no db\/schema\.sql/)
  assert.equal((await godwit(['up', '--sha', 's'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  const fresh = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr)
  // a new migration without the schema file it builds
  writeFileSync(path.join(cwd, 'db', 'migrations', `${V(4)}_people_nickname.mjs`), sql('ALTER TABLE people ADD COLUMN nickname text'))
  assert.equal((await godwit(['check'], { cwd })).code, 0)
  const stale = await godwit(['verify', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(stale.code, 1, stale.stdout + stale.stderr)
  assert.equal(stale.json.error.code, 'SCHEMA_FILE_STALE')
  assert.match(stale.json.error.message, /db\/schema\.sql is not the schema these migrations build/)
  assert.match(stale.json.error.message, /^\+    nickname text$/m)
})

test('drift_compares_a_live_database_with_the_schema_file', async (t) => {
  const url = await freshDatabase(t)
  const cwd = await project(t, MIGRATIONS)
  const missing = await godwit(['drift'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /db\/schema\.sql does not exist/)
  assert.equal((await godwit(['up', '--sha', 's'], { cwd, env: { DATABASE_URL: url } })).code, 0)
  const clean = await godwit(['drift'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(clean.code, 0, clean.stderr)
  assert.match(clean.stderr, /drift: none/)
  await query(url, 'ALTER TABLE people ADD COLUMN added_by_hand text; DROP INDEX people_name_idx')
  const drift = await godwit(['drift'], { cwd, env: { DATABASE_URL: url } })
  assert.equal(drift.code, 1, drift.stderr)
  assert.match(drift.stdout, /^\+    added_by_hand text$/m)
  assert.match(drift.stdout, /^-CREATE INDEX people_name_idx ON public\.people USING btree \(name\);$/m)
  const json = await godwit(['drift', '--json'], { cwd, env: { DATABASE_URL: url } })
  assert.deepEqual([json.code, json.json.drift, json.json.file], [1, true, 'db/schema.sql'])
})
