/** @type {import('godwit').MigrationSql} */
export const up = `
  CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
`

/** @type {import('godwit').MigrationSql} */
export const down = 'DROP TABLE accounts'
