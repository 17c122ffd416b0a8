/** @type {import('godwit').MigrationSql} */
export const up = 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS accounts_email_key ON accounts (email)'

/** @type {import('godwit').MigrationConfig} */
export const config = { transaction: false, lockTimeout: '5s' }
