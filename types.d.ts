// Generated from godwit's Rust types by `src/generated.rs`; do not edit.
// `GODWIT_BLESS=1 cargo test generated` rewrites it.

export type ErrorCode = "USAGE" | "CONFIG" | "IO" | "DIR_NOT_FOUND" | "BASE_REF_NOT_FOUND" | "BASE_UNKNOWN" | "GIT_FAILED" | "INVALID_NAME" | "LEDGER_INVALID" | "INTERNAL" | "CONNECT_FAILED" | "CONNECTION_LOST" | "INSUFFICIENT_PRIVILEGE" | "LOCK_NOT_ACQUIRED" | "LOCK_LOST" | "BUDGET_EXHAUSTED" | "INTEGRITY" | "DATABASE_NOT_EMPTY" | "MIGRATION_FAILED" | "MIGRATION_INVALID" | "INTERRUPTED" | "DB_ERROR" | "REPORT_NOT_WRITTEN" | "SCHEMA_NOT_CURRENT" | "NOT_MIGRATION_JOB" | "NATIVE_MISSING" | "CHECK_FAILED" | "NOT_IDEMPOTENT" | "STATUS_NOT_CLEAN" | "NOT_REVERSIBLE" | "NOT_REPRODUCIBLE" | "SCHEMA_FILE_STALE" | "TARGETS_FAILED" | "IMPORT_INVALID" | "BASELINE_REFUSED";

export type ErrorDoc = { code: ErrorCode, exitCode: number, message: string, };

export type Severity = "error" | "warning";

export type SqlAt = { 
/**
 * `up` or `down`.
 */
part: 'up' | 'down', 
/**
 * Index of the string, when the module renders an array of strings.
 */
chunk: number, 
/**
 * 1-based line inside that string.
 */
line: number, };

export type Violation = { 
/**
 * Path of the offending entry relative to the migrations folder (`checksums.json` for the
 * ledger itself).
 */
file: string, 
/**
 * A rule id above, or a squawk rule name (`adding-not-nullable-field`, ...).
 */
rule: string, severity: Severity, message: string, hint: string, 
/**
 * 1-based line in the migration file, when the SQL is a literal written in it.
 */
line?: number, 
/**
 * Where in the rendered SQL, when the finding points into SQL.
 */
sql?: SqlAt, };

export type MigrationFile = { 
/**
 * File name, e.g. `1732500000000_add_users.mjs`.
 */
file: string, 
/**
 * The 13-digit version as written (zero-padded), the sort key.
 */
version: string, name: string, 
/**
 * `checksum::checksum` of the file's bytes.
 */
checksum: string, };

export type ScanResult = { dir: string, 
/**
 * Files that meet the contract, ordered by version then file name.
 */
migrations: Array<MigrationFile>, violations: Array<Violation>, ledgerPresent: boolean, };

export type Created = { file: string, path: string, version: string, checksum: string, };

export type ImportedFile = { file: string, version: string, 
/**
 * The id the source tool's history records for it.
 */
id: string, from: Array<string>, 
/**
 * `[part, of]` when a non-transactional source was split one statement each.
 */
part?: [number, number], };

export type Imported = { tool: string, source: string, dir: string, migrations: Array<ImportedFile>, 
/**
 * The newest imported version: the project's `baseline` (legacy history up to it).
 */
baseline: string, notes: Array<string>, };

export type BaseSpec = { "source": "flag", "ref": string } | { "source": "env", "ref": string } | { "source": "githubBaseRef", "ref": string } | { "source": "default" } | { "source": "none" };

export type NoBase = "notAGitRepository" | "gitMissing" | "noCommits" | "declared";

export type BaseInfo = { 
/**
 * How the base was chosen and what it resolved to; `null` commit when there is no git base.
 */
spec: BaseSpec, described: string | null, commit: string | null, none: NoBase | null, };

export type JudgedConfig = { transaction: boolean, lockTimeoutMs?: number, statementTimeoutMs?: number, 
/**
 * The migration declares that it destroys data on purpose (`config.destructive = true`).
 */
destructive: boolean, 
/**
 * Policy rules this migration opts out of, each with the reason its author wrote.
 */
ignore: { [key in string]: string }, };

export type CheckedMigration = { 
/**
 * How it was judged (absent when the module could not be rendered).
 */
config?: JudgedConfig, upStatements?: number, downStatements?: number, 
/**
 * Merged and unchanged relative to the base: not rendered or judged (`check --all` judges
 * it).
 */
skipped?: boolean, 
/**
 * File name, e.g. `1732500000000_add_users.mjs`.
 */
file: string, 
/**
 * The 13-digit version as written (zero-padded), the sort key.
 */
version: string, name: string, 
/**
 * `checksum::checksum` of the file's bytes.
 */
checksum: string, };

export type Destructive = "allow" | "require-declaration" | "forbid";

export type Level = "error" | "warning" | "off";

export type Policy = { postgresVersion: string, destructive: Destructive, 
/**
 * Levels set by the project, by rule id.
 */
rules: { [key in string]: Level }, };

export type Waiver = { file: string, rule: string, reason: string, 
/**
 * Findings it silenced in this run.
 */
silenced: number, };

export type CheckMode = "local" | "frozen";

export type Legacy = { baseline: string, migrations: number, };

export type CheckReport = { ok: boolean, dir: string, mode: CheckMode, base: BaseInfo, migrations: Array<CheckedMigration>, 
/**
 * Errors fail the check; warnings are reported only.
 */
violations: Array<Violation>, errors: number, warnings: number, 
/**
 * Rules migrations opted out of, with their written reasons: listed in every report.
 */
waivers: Array<Waiver>, policy: Policy, 
/**
 * Files whose ledger entry this run added or updated.
 */
sealed: Array<string>, 
/**
 * Ledger entries this run removed (their unmerged file is gone).
 */
unsealed: Array<string>, ledgerWritten: boolean, 
/**
 * Files new or changed relative to the base (every file when there is none): the ones a
 * pull request touches, and the only ones that get CI annotations.
 */
changed: Array<string>, 
/**
 * The legacy history (the configuration's `baseline`): how many migrations it holds. They
 * keep the file contract, ledger and immutability, not the SQL safety rules.
 */
legacy?: Legacy, };

export type HistoryTable = { schema: string, table: string, };

export type HistoryStatus = "applied" | "failed" | "reverted";

export type PlanState = "applied" | "pending" | "changed" | "missing-file" | "failed" | "out-of-order" | "ahead";

export type StatusRow = { version: string, name: string, 
/**
 * File name, when the file exists.
 */
file: string | null, state: PlanState, appliedAt: string | null, executionMs: number | null, 
/**
 * Recorded as applied by `baseline`: it ran before godwit took over.
 */
baselined: boolean, 
/**
 * What to do about a problem state.
 */
fix?: string, };

export type StatusDatabase = { connection: string, sslMode: string, tls: boolean, serverVersion: string, };

export type StatusReport = { clean: boolean, requiresMigrations: boolean, 
/**
 * The playbook's pipeline variable, by its own name, for pipelines that read it as such.
 */
requires_migrations: boolean, pending: number, problems: number, 
/**
 * Applied by a newer release (this is an older one): not a problem unless the project
 * says `ahead: 'refuse'`.
 */
ahead: number, historyTable: HistoryTable, historyTableExists: boolean, database: StatusDatabase, fileViolations: Array<Violation>, migrations: Array<StatusRow>, };

export type RunSettings = { budgetSeconds: number, lockTimeoutMs: number, statementTimeoutMs: number, lockRetries: number, historyTable: HistoryTable, releaseSha: string, };

export type MigrationState = "applied" | "already-applied" | "pending" | "failed" | "changed" | "missing-file" | "out-of-order" | "reverted" | "cancelled" | "unknown" | "baselined" | "ahead";

export type Outcome = "applied" | "reverted" | "nothing-to-do" | "database-ahead" | "baselined" | "planned" | "refused" | "failed" | "lock-timeout" | "budget-exhausted" | "interrupted" | "connection-lost" | "lock-lost" | "error";

export type Command = "up" | "down" | "reset" | "baseline" | "plan";

export type ToolInfo = { name: string, version: string, };

export type DatabaseInfo = { 
/**
 * postgres://user@host:port/db, never the password.
 */
connection: string | null, sslMode?: string, 
/**
 * Whether the session is encrypted (pg_stat_ssl).
 */
tls?: boolean, serverVersion: string | null, backendPid?: number, };

export type MigrationEntry = { version: string, name: string, file: string | null, state: MigrationState, transactional?: boolean, durationMs?: number, sqlChecksum?: string, attempts?: number, };

export type FailureDetail = { file: string, sqlstate: string | null, message: string, detail: string | null, hint: string | null, statement: string | null, 
/**
 * 1-based line of the failing position in the migration file when its SQL is written there
 * literally, else inside the rendered SQL string `chunk`.
 */
line: number | null, 
/**
 * 1-based line inside the rendered SQL string `chunk`.
 */
sqlLine: number | null, chunk: number | null, position: number | null, invalidIndexes: Array<string>, };

export type Problem = { 
/**
 * The migration file (or `checksums.json`); `null` for a history row whose file is gone.
 */
file: string | null, version: string | null, 
/**
 * A `check` rule (e.g. `ledger-mismatch`) or a plan state (e.g. `changed`).
 */
kind: string, message: string, fix: string, };

export type ResetDone = { droppedSchemas: Array<string>, recreatedSchemas: Array<string>, revertedRows: number, };

export type PlannedMigration = { version: string, file: string, 
/**
 * In one transaction with its history row (else each statement on its own).
 */
transactional: boolean, 
/**
 * `lock_timeout` and `statement_timeout` it runs with: its own `config`, else the job's.
 */
lockTimeoutMs: number, statementTimeoutMs: number, 
/**
 * Whether those are the migration's own (`config`) rather than the job's.
 */
ownTimeouts: boolean, 
/**
 * The SQL strings the module rendered, in order, exactly as they would be sent.
 */
sql: Array<string>, 
/**
 * The SQL's sha256, as the history row would record it.
 */
sqlChecksum: string, };

export type UpReport = { reportVersion: number, tool: ToolInfo, command: Command, startedAt: string, finishedAt: string | null, durationMs: number, outcome: Outcome, ok: boolean, error: ErrorDoc | null, database: DatabaseInfo, settings: RunSettings | null, lockWaitMs: number | null, problems: Array<Problem>, migrations: Array<MigrationEntry>, 
/**
 * How many of `migrations` are in each state (states with none are left out): what a
 * summary line or a pipeline step needs, without reading every row.
 */
counts: { [key in MigrationState]?: number }, failure: FailureDetail | null, 
/**
 * What a local `reset` dropped and recreated before applying everything again.
 */
reset?: ResetDone, 
/**
 * `plan`: each migration `up` would apply, in order, with the settings it would run with
 * and its SQL exactly as rendered.
 */
plan?: Array<PlannedMigration>, 
/**
 * The latest report of this command for this sha.
 */
reportPath: string | null, 
/**
 * This attempt's own copy, kept when later runs on the same sha write the latest.
 */
attemptPath?: string, 
/**
 * Why the report could not be written (it is still printed).
 */
reportError?: string, 
/**
 * The fleet target this run migrated (`up --targets`).
 */
target?: string, };

export type Fingerprint = { hash: string, objects: number, lines: Array<string>, };

export type SchemaFileReport = { path: string | null, exists: boolean, 
/**
 * The file is exactly what the database's schema gives.
 */
same: boolean, 
/**
 * A unified diff, the file (`-`) against the database (`+`); empty when `same`.
 */
diff: string, written: boolean, 
/**
 * The server is this machine's (loopback or a Unix socket): only then is the file written.
 */
local: boolean, };

export type ProjectRunSettings = { historySchema: string | null, historyTable: string | null, lockTimeoutMs: number | null, statementTimeoutMs: number | null, timeoutSeconds: number | null, lockRetries: number | null, moduleTimeoutMs: number | null, 
/**
 * The bound of `status` and `assertSchemaCurrent()`: connecting, and each query's lock and
 * statement timeout.
 */
statusTimeoutMs: number | null, 
/**
 * `up` may run over a database that already holds a schema (see the guard in `run`).
 */
allowExistingSchema: boolean | null, 
/**
 * `ahead: 'refuse'`: migrations applied by a newer release (replaying an older one) refuse
 * the run like a missing file, instead of being reported as `ahead`.
 */
aheadRefuse: boolean | null, };

export type SchemaFile = string | boolean;

export type ProjectConfig = { 
/**
 * Where the configuration came from (`package.json#godwit`, `godwit.config.mjs`), or `null`.
 */
source: string | null, dir: string | null, run: ProjectRunSettings, 
/**
 * The newest migration of the legacy history (imported, or written before godwit): it and
 * every older one keep the file contract, ledger and immutability, but not the SQL safety
 * rules or verify's round trip (they already ran in production).
 */
baseline: string | null, 
/**
 * `schemaFile`: where the schema file goes (a path), or `false`: none. Unset: `schema.sql`
 * beside the migrations folder (`db/schema.sql`).
 */
schemaFile: SchemaFile | null, postgresVersion: string, destructive: Destructive, 
/**
 * Levels set by the project, by rule id.
 */
rules: { [key in string]: Level }, };
