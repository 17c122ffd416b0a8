// A realistic migration history, for the adoption tests and `pnpm bench` (W7): tables, indexes
// (CONCURRENTLY, outside a transaction), foreign keys, renames, type changes, functions and
// triggers, six kinds in turn, one hour apart from 2020-01-01; the same SQL in each tool's format.

/** The history as steps: `{ stamp, name, up, down, notx }`, oldest first. */
export function realisticSteps(n) {
  const steps = []
  const stamp = (i) => new Date(Date.UTC(2020, 0, 1) + i * 3_600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14)
  for (let i = 1; i <= n; i++) {
    const k = Math.ceil(i / 6)
    const t = `t${k}`
    const fk = k > 1 ? [`${t}_parent`, `t${k - 1}`] : [`${t}_self`, t]
    const [name, up, down, notx] = [
      [`create_${t}`, `CREATE TABLE ${t} (id bigserial PRIMARY KEY, label varchar(50), parent_id bigint, made timestamp DEFAULT now());`, `DROP TABLE ${t};`],
      [`index_${t}`, `CREATE INDEX CONCURRENTLY ${t}_label ON ${t} (label);`, `DROP INDEX CONCURRENTLY ${t}_label;`, true],
      [`fk_${t}`, `ALTER TABLE ${t} ADD CONSTRAINT ${fk[0]} FOREIGN KEY (parent_id) REFERENCES ${fk[1]} (id);`, `ALTER TABLE ${t} DROP CONSTRAINT ${fk[0]};`],
      [`rename_${t}`, `ALTER TABLE ${t} RENAME COLUMN label TO title;`, `ALTER TABLE ${t} RENAME COLUMN title TO label;`],
      [`widen_${t}`, `ALTER TABLE ${t} ALTER COLUMN title TYPE varchar(200);`, `ALTER TABLE ${t} ALTER COLUMN title TYPE varchar(50);`],
      [`trigger_${t}`, `CREATE FUNCTION ${t}_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.made := now(); RETURN NEW; END $$;\nCREATE TRIGGER ${t}_touch BEFORE UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${t}_touch();`, `DROP TRIGGER ${t}_touch ON ${t};\nDROP FUNCTION ${t}_touch();`],
    ][(i - 1) % 6]
    steps.push({ stamp: stamp(i), name, up, down, notx: Boolean(notx) })
  }
  return steps
}

/** `{ file name: dbmate migration text }` for `n` migrations. */
export function realisticDbmate(n) {
  const files = {}
  for (const { stamp, name, up, down, notx } of realisticSteps(n)) {
    const opt = notx ? ' transaction:false' : ''
    files[`${stamp}_${name}.sql`] = `-- migrate:up${opt}\n${up}\n\n-- migrate:down${opt}\n${down}\n`
  }
  return files
}

/**
 * `{ file name: node-pg-migrate migration }` for `n` migrations: CommonJS modules, because only a
 * module can say `pgm.noTransaction()` (its SQL files always run in a transaction, where
 * PostgreSQL refuses `CREATE INDEX CONCURRENTLY`).
 */
export function realisticNodePgMigrate(n) {
  const files = {}
  for (const { stamp, name, up, down, notx } of realisticSteps(n)) {
    const body = (sql) => `${notx ? 'pgm.noTransaction(); ' : ''}pgm.sql(${JSON.stringify(sql)})`
    files[`${stamp}_${name}.cjs`] = `exports.up = (pgm) => { ${body(up)} }\nexports.down = (pgm) => { ${body(down)} }\n`
  }
  return files
}
