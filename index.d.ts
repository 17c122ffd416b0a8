// godwit's typed JS face: the module contract, the options and the functions. The documents they
// return (reports, status, check) are typed in `types.d.ts`, generated from the Rust types that
// produce them, and are the same ones `godwit <command> --json` prints.
import type { CheckReport, Created, ErrorCode, Fingerprint, Imported, Policy, ProjectConfig, ScanResult, SchemaFileReport, StatusReport, UpReport } from './types'

export * from './types'

/** SQL a migration renders: a string, an array of strings, or a (async) function returning either. */
export type SqlText = string | string[]
export type MigrationSql = SqlText | (() => SqlText | Promise<SqlText>)

/** A PostgreSQL duration (`'5s'`, `'500ms'`, `'2min'`) or a whole number of milliseconds. */
export type Duration = string | number

export interface MigrationConfig {
  /** `false` runs the migration outside a transaction (CREATE INDEX CONCURRENTLY, VACUUM, ...); it then holds exactly one statement. Default `true`. */
  transaction?: boolean
  /** `lock_timeout` for this migration alone. */
  lockTimeout?: Duration
  /** `statement_timeout` for this migration alone. */
  statementTimeout?: Duration
  /** Declares that the migration destroys data on purpose (DROP TABLE, DROP COLUMN, TRUNCATE, ...). */
  destructive?: boolean
  /** Policy rules this migration opts out of: rule id -> the reason, listed in every `check` report. */
  ignore?: Record<string, string>
}

/** The shape of a migration module (`db/migrations/<13 digits>_<name>.mjs`). */
export interface Migration {
  up: MigrationSql
  down?: MigrationSql
  config?: MigrationConfig
}

export interface DirOptions {
  /** Migrations folder; default `db/migrations` under the current directory. */
  dir?: string
}

export interface CheckOptions extends DirOptions {
  /** Never write the ledger (implied when env `CI` is set). */
  frozen?: boolean
  /** Git ref whose migrations count as merged. */
  base?: string
  /** Also render and judge merged, unchanged migrations (by default only their bytes are compared with the base). */
  all?: boolean
  /** Bound for importing and rendering one module in ms (default 10000; or `moduleTimeout` as a duration). */
  moduleTimeoutMs?: number
  moduleTimeout?: Duration
  /** Judge SQL for this PostgreSQL major version when the configuration sets none (the CLI passes the server's). */
  postgresVersion?: string | number
}

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

export interface HistoryOptions extends DirOptions {
  /** For status and assertSchemaCurrent: the bound of the whole call (connect, lock and statement timeouts); default MIGRATION_STATUS_TIMEOUT, the configuration's `statusTimeout`, else 10s. */
  timeout?: Duration
  /** Schema of the history table (default `public`, env `MIGRATION_HISTORY_SCHEMA`). */
  schema?: string
  /** History table (default `godwit_migrations`, env `MIGRATION_HISTORY_TABLE`). */
  table?: string
}

export interface UpOptions extends HistoryOptions {
  /** `up`: apply pending migrations up to and including this version; `down`: revert every applied migration newer than it. Not for `reset`. */
  to?: string
  /** Release sha: names the report folder (else `GIT_SHA`, `GITHUB_SHA`, `git rev-parse HEAD`, `local`). */
  sha?: string
  /** Report root, default `.artifacts/deploy`. */
  artifactsDir?: string
  /** Progress lines on stderr. */
  progress?: boolean
  /** Aborting cancels the running statement, rolls back, releases the lock; outcome `interrupted`. */
  signal?: AbortSignal
  /** Bound for importing and rendering one module in ms, default 10000. */
  moduleTimeoutMs?: number
  moduleTimeout?: Duration
  /** Run even though godwit's history is empty and the database already holds a schema (else DATABASE_NOT_EMPTY). */
  allowExistingSchema?: boolean
  /**
   * This process is the pipeline's migration job. Under NODE_ENV=production `up()` refuses
   * (NOT_MIGRATION_JOB) unless this is set or env MIGRATION_JOB=1; the CLI always sets it.
   */
  migrationJob?: boolean
}

/** Errors thrown by godwit carry a stable `code` and the CLI's `exitCode` for it. */
export declare class GodwitError extends Error {
  readonly code: ErrorCode
  readonly exitCode: number
  /** On SCHEMA_NOT_CURRENT: the status report that found it. */
  readonly status?: StatusReport
}

export declare function create(name: string, options?: DirOptions): Promise<Created>
export declare function scan(options?: DirOptions): Promise<ScanResult>
export declare function check(options?: CheckOptions): Promise<CheckReport>
/** The schema file against a database; see `godwit drift --help`. */
export declare function schemaFile(options?: HistoryOptions & { database?: string; write?: boolean }): Promise<SchemaFileReport>
/** The major version (`"15"`) of the server the connection settings name; bounded by `timeoutMs` (default 3000). */
export declare function serverVersion(options?: DirOptions & { timeoutMs?: number }): Promise<string>
/**
 * Resolves to the report also on failure (`ok: false`, `error.code`); rejects only when no report can be
 * written. Its `migrations` is parsed when first read (as `status()`'s; so are `down()`'s, `reset()`'s
 * and `plan()`'s): the object reads, spreads and serialises as the report written to disk.
 */
export declare function up(options?: UpOptions): Promise<UpReport>

export interface BaselineOptions extends Omit<UpOptions, 'allowExistingSchema' | 'moduleTimeout' | 'moduleTimeoutMs'> {
  /** Record every migration up to and including this version (13 digits). */
  version?: string
  /** Instead: record exactly what this tool's history table in the database says it applied. */
  from?: ImportTool
  /** With `from`: the tool's history table when it is not the tool's default name. */
  toolTable?: string
}
/**
 * Records migrations as applied without running them (adopting a database godwit did not
 * build). Locked, bounded and reported like `up` (report `baseline.json`); all rows or none.
 */
export declare function baseline(options: BaselineOptions): Promise<UpReport>

export type ImportTool = 'dbmate' | 'golang-migrate' | 'goose' | 'sqlx' | 'diesel' | 'flyway' | 'node-pg-migrate' | 'prisma'
/**
 * Converts another tool's migrations folder into godwit migrations in the project's (empty)
 * folder, sealed into the ledger, and sets the configuration's `baseline` (package.json#godwit;
 * for a godwit.config.mjs, `config.instruction` says what to add). Rejects with IMPORT_INVALID,
 * listing every problem, and writes nothing, when the folder cannot be converted as it is.
 */
export declare function importMigrations(
  tool: ImportTool,
  source: string,
  options?: DirOptions,
): Promise<Imported & { config: { written: true; file: string } | { written: false; instruction?: string } }>
/** The tools `importMigrations` and `baseline({ from })` know. */
export declare function importTools(): ImportTool[]
export interface DownOptions extends UpOptions {
  /** How many of the newest applied migrations to revert; default 1, 0 = all. */
  count?: number
  /** Run even under NODE_ENV=production, in CI, or against a non-local server. */
  allowNonLocal?: boolean
}

/**
 * What `up` would do, without doing it: no lock, a read-only session; the report's `plan` lists
 * each pending migration with the settings it would run with and its exact SQL. Report file
 * `plan.json`.
 */
export declare function plan(options?: UpOptions): Promise<UpReport>

/** Local development only; see `godwit down --help`. */
export declare function down(options?: DownOptions): Promise<UpReport>
export interface ResetOptions extends UpOptions {
  /** Run even under NODE_ENV=production, in CI, or against a non-local server. */
  allowNonLocal?: boolean
}
/** Local development only: empty every schema and apply every migration again; see `godwit reset --help`. */
export declare function reset(options?: ResetOptions): Promise<UpReport>
/**
 * Read-only, no lock. The report's `migrations` (a row per migration) is parsed from its JSON when
 * first read, so a caller that reads only `clean` or the counts never pays for 10,000 rows; it
 * reads, spreads and serialises as an ordinary array property.
 */
export declare function status(options?: HistoryOptions): Promise<StatusReport>
/**
 * For API start-up (the playbook: verify, never migrate, at start-up): read-only, no lock.
 * Resolves to the status report when every migration is applied and nothing is changed, failed or
 * missing; otherwise rejects with a `GodwitError` whose code is `SCHEMA_NOT_CURRENT` and whose
 * `status` holds the report. Connection problems reject with their own code (`CONNECT_FAILED`).
 */
export declare function assertSchemaCurrent(options?: HistoryOptions): Promise<StatusReport>

/** The fingerprint of the configured database, or of `database` on the same server. */
export declare function fingerprint(options?: { database?: string }): Promise<Fingerprint>

export interface VerifyOptions extends DirOptions {
  sha?: string
  artifactsDir?: string
  progress?: boolean
  signal?: AbortSignal
  /** `false` skips the down/up round trip (`godwit verify --no-round-trip`). Default true. */
  roundTrip?: boolean
}
export interface VerifyReport {
  reportVersion: 1
  command: 'verify'
  startedAt: string
  finishedAt: string
  ok: boolean
  outcome: 'verified' | 'failed' | 'interrupted' | 'error'
  error: { code: ErrorCode; exitCode: number; message: string } | null
  /** Each step that ran: check, up, up-again, idempotent, status, round-trip-down, round-trip, reproducible. */
  steps: Array<{ step: string; ok: boolean; [detail: string]: unknown }>
  scratchDatabases: string[]
  dropped: boolean
  dropError?: string
  fingerprint: { hash: string; objects: number } | null
  /** On NOT_IDEMPOTENT, NOT_REVERSIBLE or NOT_REPRODUCIBLE: the fingerprint lines that differ. */
  diff?: { onlyBefore: string[]; onlyAfter: string[] }
  /** Where the report was written; null when it could not be (`reportError` says why). */
  reportPath: string | null
  /** Why the report could not be written (the CLI exits REPORT_NOT_WRITTEN, 70, unless verify failed first). */
  reportError?: string
}
/** The migration-safety gate on scratch databases; see `godwit verify --help`. */
export declare function verify(options?: VerifyOptions): Promise<VerifyReport>

/** The project configuration (package.json `godwit` key or godwit.config.mjs), validated; `raw` as written. */
export declare function loadConfig(): Promise<ProjectConfig & { raw: unknown }>

/** What `godwit.config.mjs` exports by default, or package.json's `godwit` key holds. */
export interface GodwitConfig {
  /** Migrations folder, default `db/migrations` (env MIGRATION_DIR overrides). */
  dir?: string
  /** The PostgreSQL major version the safety rules judge for, default `16`. */
  postgresVersion?: string | number
  /** DROP/TRUNCATE and the like: allowed, allowed when the migration declares it (default), or forbidden. */
  destructive?: Policy['destructive']
  /** Rule id -> level. */
  rules?: Record<string, 'error' | 'warning' | 'off'>
  history?: { schema?: string; table?: string }
  lockTimeout?: Duration
  statementTimeout?: Duration
  /** The whole run's budget in seconds (MIGRATION_TIMEOUT_SECONDS overrides). */
  timeoutSeconds?: number
  lockRetries?: number
  /** Bound for importing and rendering one module. */
  moduleTimeout?: Duration
  /** Bound of `status` and `assertSchemaCurrent()` (MIGRATION_STATUS_TIMEOUT overrides). */
  statusTimeout?: Duration
  /** `up` may run over a database that already holds a schema godwit did not build. */
  allowExistingSchema?: boolean
  /** Migrations applied by a newer release (an older release replayed): reported as `ahead` (default 'allow') or refused like missing files. */
  ahead?: 'allow' | 'refuse'
  /** The newest migration of the legacy history (set by `godwit import`): it and older ones are exempt from the SQL safety rules and verify's round trip. */
  baseline?: string
  /** Where the schema file goes (default `schema.sql` beside the migrations folder: `db/schema.sql`), or `false` for none. A local up/down/reset rewrites it; `verify` fails when it is not what the migrations build; `drift` compares a database with it. */
  schemaFile?: string | false
}
/** Identity, for a typed `godwit.config.mjs`: `export default defineConfig({ ... })`. */
export declare function defineConfig(config: GodwitConfig): GodwitConfig
/** Identity, for a typed migration object: `const m = defineMigration({ up, down, config })`. */
export declare function defineMigration(migration: Migration): Migration
export declare function coreVersion(): string

/** A fleet target (docs/fleet.md): a database on DATABASE_URL's server, a schema of one, or a URL in an environment variable. */
export interface Target {
  name: string
  database?: string
  schema?: string
  urlEnv?: string
}
export interface FleetOptions {
  /** Targets at a time, 1-64, default 4. */
  concurrency?: number
  /** Start no target after the first failure. */
  failFast?: boolean
  /** The first N targets first; the rest only if all of them succeed. */
  canary?: number
  /** The whole fleet's budget (default MIGRATION_TIMEOUT_SECONDS, else 1800). */
  budgetSeconds?: number
  sha?: string
  artifactsDir?: string
  /** Aborting cancels every running target (each reports `interrupted`) and starts no other. */
  signal?: AbortSignal
  /** What each target's `up` gets besides its connection. */
  up?: Omit<UpOptions, 'signal' | 'sha' | 'artifactsDir'>
  /** Called after each target with its summary entry. */
  onTarget?: (entry: FleetTarget) => void
  /** Where DATABASE_URL and each target's urlEnv are read (default process.env). */
  env?: Record<string, string | undefined>
  /** As `up()`'s: under NODE_ENV=production `upTargets()` refuses (NOT_MIGRATION_JOB) unless this or MIGRATION_JOB=1. */
  migrationJob?: boolean
}
export interface FleetTarget {
  name: string
  database?: string
  schema?: string
  urlEnv?: string
  connection: string | null
  outcome: string
  ok: boolean
  applied: number
  pending: number
  problems?: number
  ahead?: number
  durationMs: number
  skipped?: 'fail-fast' | 'canary' | 'budget' | 'interrupted'
  error?: { code: string; message: string }
  report: string | null
}
/** The fleet summary (`schema/fleet.schema.json`). */
export interface FleetSummary {
  fleetVersion: 1
  tool: 'godwit'
  command: 'up' | 'status'
  startedAt: string | null
  durationMs: number
  concurrency: number
  budgetSeconds?: number
  failFast?: boolean
  canary?: number
  shard: { index: number; count: number } | null
  sha: string | null
  interrupted?: string | null
  ok: boolean
  requires_migrations?: boolean
  counts: { targets: number; ok: number; failed: number; notStarted: number; applied: number }
  failed: string[]
  notStarted: string[]
  behind: string[]
  targets: FleetTarget[]
  /** `upTargets()`: where the summary was written; null when it could not be (`reportError` says why). */
  fleetPath?: string | null
  reportError?: string
}
/**
 * `up` on every target (a targets file's path, or the targets), each its own locked, bounded run
 * and report; writes `<artifactsDir>/<sha>/fleet.json` and resolves to the summary.
 */
export declare function upTargets(targets: string | Target[], options?: FleetOptions): Promise<FleetSummary>
/**
 * The targets a read-only query on DATABASE_URL returns (columns `name`, and any of `database`,
 * `schema`, `url_env`), checked as a targets file's are; bounded like `status`.
 */
export declare function queryTargets(sql: string, options?: DirOptions & { timeout?: Duration }): Promise<Target[]>
/** `status` of every target, read-only; resolves to the summary (`requires_migrations`, `behind`). */
export declare function statusTargets(targets: string | Target[], options?: { concurrency?: number; status?: HistoryOptions; env?: Record<string, string | undefined> }): Promise<FleetSummary>
