// godwit's typed JS face. Native functions come from napi's generated `binding.d.ts`; the
// documents below are the same ones `godwit <command> --json` prints.

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

export interface Violation {
  /** Entry of the migrations folder (or `checksums.json`). */
  file: string
  /** Stable rule id, e.g. `filename-contract`, `merged-edited`, or a squawk rule name. */
  rule: string
  /** Errors fail `check` (exit 1); warnings are reported only. */
  severity: 'error' | 'warning'
  message: string
  /** How to fix it. */
  hint: string
  /** 1-based line in the migration file, when the SQL is a literal written in it. */
  line?: number
  /** Where in the rendered SQL, when the finding points into SQL. */
  sql?: { part: 'up' | 'down'; chunk: number; line: number }
}

export interface MigrationFile {
  file: string
  version: string
  name: string
  checksum: string
}

export interface CheckedMigration extends MigrationFile {
  config?: { transaction: boolean; lockTimeoutMs?: number; statementTimeoutMs?: number; destructive?: boolean; ignore?: Record<string, string> }
  upStatements?: number
  downStatements?: number
}

/** A rule a migration opted out of (`config.ignore`), with its written reason. */
export interface Waiver {
  file: string
  rule: string
  reason: string
  /** Findings it silenced in this run. */
  silenced: number
}

/** The project's policy as `check` applied it. */
export interface Policy {
  postgresVersion: string
  destructive: 'allow' | 'require-declaration' | 'forbid'
  rules: Record<string, 'error' | 'warning' | 'off'>
}

export interface CheckReport {
  ok: boolean
  dir: string
  mode: 'local' | 'frozen'
  base: {
    spec: { source: 'flag' | 'env' | 'githubBaseRef'; ref: string } | { source: 'default' }
    described: string | null
    commit: string | null
    none: 'notAGitRepository' | 'noCommits' | null
  }
  migrations: CheckedMigration[]
  violations: Violation[]
  /** How many violations are errors (they fail the check) and warnings. */
  errors: number
  warnings: number
  waivers: Waiver[]
  policy: Policy
  /** Files whose ledger entry this run added or updated. */
  sealed: string[]
  /** Ledger entries removed because their unmerged file is gone. */
  unsealed: string[]
  ledgerWritten: boolean
}

export interface ScanResult {
  dir: string
  migrations: MigrationFile[]
  violations: Violation[]
  ledgerPresent: boolean
}

export interface Created {
  file: string
  path: string
  version: string
  checksum: string
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
  /** Bound for importing and rendering one module, default 10000. */
  moduleTimeoutMs?: number
}

/** The stable error codes (`GodwitError.code`, `report.error.code`). */
export type ErrorCode =
  | 'USAGE' | 'CONFIG' | 'IO' | 'DIR_NOT_FOUND' | 'BASE_REF_NOT_FOUND' | 'GIT_FAILED' | 'INVALID_NAME'
  | 'LEDGER_INVALID' | 'INTERNAL' | 'CONNECT_FAILED' | 'CONNECTION_LOST' | 'LOCK_NOT_ACQUIRED' | 'BUDGET_EXHAUSTED'
  | 'INTEGRITY' | 'MIGRATION_FAILED' | 'INTERRUPTED' | 'DB_ERROR'
  /** JS API: `assertSchemaCurrent()` found pending, changed, failed or missing migrations. */
  | 'SCHEMA_NOT_CURRENT'
  /** JS API: `up()` under NODE_ENV=production from a program that is not the migration job. */
  | 'NOT_MIGRATION_JOB'
  /** `verify` only. */
  | 'CHECK_FAILED' | 'NOT_IDEMPOTENT' | 'STATUS_NOT_CLEAN' | 'NOT_REVERSIBLE' | 'NOT_REPRODUCIBLE'

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

export interface HistoryTable {
  schema: string
  table: string
}

export interface HistoryOptions extends DirOptions {
  /** Schema of the history table (default `public`, env `MIGRATION_HISTORY_SCHEMA`). */
  schema?: string
  /** History table (default `godwit_migrations`, env `MIGRATION_HISTORY_TABLE`). */
  table?: string
}

export interface UpOptions extends HistoryOptions {
  /** Release sha: names the report folder (else `GIT_SHA`, `GITHUB_SHA`, `git rev-parse HEAD`, `local`). */
  sha?: string
  /** Report root, default `.artifacts/deploy`. */
  artifactsDir?: string
  /** Progress lines on stderr. */
  progress?: boolean
  /** Aborting cancels the running statement, rolls back, releases the lock; outcome `interrupted`. */
  signal?: AbortSignal
  /** Bound for importing and rendering one module, default 10000. */
  moduleTimeoutMs?: number
  /**
   * This process is the pipeline's migration job. Under NODE_ENV=production `up()` refuses
   * (NOT_MIGRATION_JOB) unless this is set or env MIGRATION_JOB=1; the CLI always sets it.
   */
  migrationJob?: boolean
}

/** States in a report; `status` uses the same names, with `applied` for `already-applied`. */
export type MigrationState = 'applied' | 'already-applied' | 'pending' | 'failed' | 'changed' | 'missing-file' | 'out-of-order' | 'reverted' | 'cancelled' | 'unknown'

/** The `up` report: `schema/migration-report.schema.json`, written to `<artifactsDir>/<sha>/migration.json`. */
export interface UpReport {
  reportVersion: 1
  tool: { name: 'godwit'; version: string }
  command: 'up' | 'down' | 'reset'
  startedAt: string
  finishedAt: string
  durationMs: number
  outcome: 'applied' | 'reverted' | 'nothing-to-do' | 'refused' | 'failed' | 'lock-timeout' | 'budget-exhausted' | 'interrupted' | 'connection-lost' | 'error'
  ok: boolean
  error: { code: ErrorCode; exitCode: number; message: string } | null
  database: { connection: string | null; sslMode?: SslMode; tls?: boolean; serverVersion: string | null; backendPid?: number }
  settings: {
    budgetSeconds: number
    lockTimeoutMs: number
    statementTimeoutMs: number
    lockRetries: number
    historyTable: HistoryTable
    releaseSha: string
  } | null
  lockWaitMs: number | null
  problems: Array<{ file: string | null; version: string | null; kind: string; message: string; fix: string }>
  migrations: Array<{
    version: string
    name: string
    file: string | null
    state: MigrationState
    transactional?: boolean
    durationMs?: number
    sqlChecksum?: string
    attempts?: number
  }>
  failure: {
    file: string
    sqlstate: string | null
    message: string
    detail: string | null
    hint: string | null
    statement: string | null
    line: number | null
    chunk: number | null
    position: number | null
    invalidIndexes?: string[]
  } | null
  /** Only for a local `reset`: what it dropped and recreated before applying everything again. */
  reset?: { droppedSchemas: string[]; recreatedSchemas: string[]; revertedRows: number }
  reportPath: string | null
}

export interface StatusRow {
  version: string
  name: string
  file: string | null
  state: Exclude<MigrationState, 'already-applied' | 'reverted' | 'cancelled' | 'unknown'>
  appliedAt: string | null
  executionMs: number | null
  /** What to do, for a problem state. */
  fix?: string
}

export interface StatusReport {
  clean: boolean
  requiresMigrations: boolean
  /** The same value under the playbook's pipeline variable name. */
  requires_migrations: boolean
  pending: number
  problems: number
  historyTable: HistoryTable
  historyTableExists: boolean
  database: { connection: string; sslMode: SslMode; tls: boolean; serverVersion: string }
  fileViolations: Violation[]
  migrations: StatusRow[]
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
/** Resolves to the report also on failure (`ok: false`, `error.code`); rejects only when no report can be written. */
export declare function up(options?: UpOptions): Promise<UpReport>
export interface DownOptions extends UpOptions {
  /** How many of the newest applied migrations to revert; default 1, 0 = all. */
  count?: number
  /** Run even under NODE_ENV=production, in CI, or against a non-local server. */
  allowNonLocal?: boolean
}

/** Local development only; see `godwit down --help`. */
export declare function down(options?: DownOptions): Promise<UpReport>
export interface ResetOptions extends UpOptions {
  /** Run even under NODE_ENV=production, in CI, or against a non-local server. */
  allowNonLocal?: boolean
}
/** Local development only: empty every schema and apply every migration again; see `godwit reset --help`. */
export declare function reset(options?: ResetOptions): Promise<UpReport>
/** Read-only, no lock. */
export declare function status(options?: HistoryOptions): Promise<StatusReport>
/**
 * For API start-up (the playbook: verify, never migrate, at start-up): read-only, no lock.
 * Resolves to the status report when every migration is applied and nothing is changed, failed or
 * missing; otherwise rejects with a `GodwitError` whose code is `SCHEMA_NOT_CURRENT` and whose
 * `status` holds the report. Connection problems reject with their own code (`CONNECT_FAILED`).
 */
export declare function assertSchemaCurrent(options?: HistoryOptions): Promise<StatusReport>

/** A schema's fingerprint: one line per object (tables, columns, indexes, functions, grants, ...). */
export interface Fingerprint {
  /** sha256 over the lines. */
  hash: string
  objects: number
  lines: string[]
}
/** The fingerprint of the configured database, or of `database` on the same server. */
export declare function fingerprint(options?: { database?: string }): Promise<Fingerprint>

export interface VerifyOptions extends DirOptions {
  sha?: string
  artifactsDir?: string
  progress?: boolean
  signal?: AbortSignal
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
  reportPath: string
}
/** The migration-safety gate on scratch databases; see `godwit verify --help`. */
export declare function verify(options?: VerifyOptions): Promise<VerifyReport>

/** The project configuration (package.json `godwit` key or godwit.config.mjs), validated. */
export interface ProjectConfig {
  /** The configuration object as written, or null. */
  raw: unknown
  source: 'package.json#godwit' | 'godwit.config.mjs' | null
  dir: string | null
  postgresVersion: string
  destructive: Policy['destructive']
  rules: Policy['rules']
  /** Run settings; each is overridden by the environment and by flags. */
  run: {
    historySchema: string | null
    historyTable: string | null
    lockTimeoutMs: number | null
    statementTimeoutMs: number | null
    timeoutSeconds: number | null
    lockRetries: number | null
    moduleTimeoutMs: number | null
  }
}
export declare function loadConfig(): Promise<ProjectConfig>

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
}
/** Identity, for a typed `godwit.config.mjs`: `export default defineConfig({ ... })`. */
export declare function defineConfig(config: GodwitConfig): GodwitConfig
/** Identity, for a typed migration object: `const m = defineMigration({ up, down, config })`. */
export declare function defineMigration(migration: Migration): Migration
export declare function coreVersion(): string
