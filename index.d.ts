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

/** Errors thrown by godwit carry a stable `code` and the CLI's `exitCode` for it. */
export declare class GodwitError extends Error {
  readonly code: string
  readonly exitCode: number
}

export declare function create(name: string, options?: DirOptions): Promise<Created>
export declare function scan(options?: DirOptions): Promise<ScanResult>
export declare function check(options?: CheckOptions): Promise<CheckReport>
export declare function coreVersion(): string
