'use strict'
// Where a CLI run happens, from the environment: the answers the local conveniences (.env, the
// schema file) share, so they cannot disagree.

/** A variable set to anything but empty, `0` or `false` (as the core reads `CI`). */
const isSet = (v) => v !== undefined && v.trim() !== '' && v.trim() !== '0' && v.trim().toLowerCase() !== 'false'

/** This process declares itself the migration job (MIGRATION_JOB set); `up()`'s guard and the local conveniences read it alike. */
const migrationJob = (env = process.env) => isSet(env.MIGRATION_JOB)

/** Production or the migration job: the platform's environment is the whole configuration. */
const deployed = (env = process.env) => env.NODE_ENV === 'production' || migrationJob(env)

module.exports = { isSet, migrationJob, deployed }
