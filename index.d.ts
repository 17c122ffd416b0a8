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
  /** Stable rule id, e.g. `filename-contract`, `merged-edited`. */
  rule: string
  message: string
  /** How to fix it. */
  hint: string
  /** 1-based line inside the rendered SQL, when the finding points into SQL. */
  line?: number
}

export interface MigrationFile {
  file: string
  version: string
  name: string
  checksum: string
}

export interface CheckedMigration extends MigrationFile {
  config?: { transaction: boolean; lockTimeoutMs?: number; statementTimeoutMs?: number }
  upStatements?: number
  downStatements?: number
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
export declare function coreVersion(): string
