//! The schema as a reviewer reads it (`db/schema.sql`): DDL-shaped text built from the catalogs,
//! one statement per object, in a fixed order (kind, then name in byte order), without owners,
//! privileges, OIDs or data, and without godwit's own history table. The same schema gives the
//! same text on every machine of the same PostgreSQL major version, with no `pg_dump` needed
//! (whose output also depends on its own version), so a pull request's diff of the file is the
//! schema change and nothing else.

use tokio_postgres::Client;

use super::history::HistoryTable;
use super::pg::describe_pg_error;
use crate::error::{Error, Result};

/// The first line of every schema file: what it is and how it is made.
pub const HEADER: &str = "-- db/schema.sql: the schema the migrations build, written by godwit after a local up, down or reset.\n-- Do not edit: `godwit verify` rebuilds it from the migrations and fails when it differs.\n";

/// The schema's text (without the header).
pub async fn describe(client: &Client, history: &HistoryTable) -> Result<String> {
    const USER_NS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";
    // objects an extension owns are the extension's, not the migrations'
    const NOT_EXT: &str =
        "NOT EXISTS (SELECT 1 FROM pg_depend dx WHERE dx.objid = {oid} AND dx.deptype = 'e')";
    let not_ext = |oid: &str| NOT_EXT.replace("{oid}", oid);
    let sql = format!(
        "WITH hist AS (SELECT to_regclass($1)::oid AS oid)
        SELECT body FROM (
          SELECT 1 AS ord, n.nspname AS name, 'CREATE SCHEMA ' || quote_ident(n.nspname) || ';' AS body
            FROM pg_namespace n WHERE {USER_NS} AND n.nspname <> 'public' AND {ns_ext}
          UNION ALL
          SELECT 2, x.extname, 'CREATE EXTENSION IF NOT EXISTS ' || quote_ident(x.extname) || ' WITH SCHEMA ' || quote_ident(n.nspname) || ';'
            FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'
          UNION ALL
          SELECT 3, n.nspname || '.' || t.typname,
                 'CREATE TYPE ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' AS ENUM ('
                 || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ');'
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER_NS} AND t.typtype = 'e' AND {typ_ext}
          UNION ALL
          SELECT 3, n.nspname || '.' || t.typname,
                 'CREATE DOMAIN ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' AS ' || format_type(t.typbasetype, t.typtypmod)
                 || CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault ELSE '' END
                 || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END || ';'
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER_NS} AND t.typtype = 'd' AND {typ_ext}
          UNION ALL
          SELECT 3, n.nspname || '.' || t.typname,
                 'CREATE TYPE ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' AS ('
                 || (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                       FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) || ');'
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid
           WHERE {USER_NS} AND t.typtype = 'c' AND c.relkind = 'c' AND {typ_ext}
          UNION ALL
          SELECT 4, s.schemaname || '.' || s.sequencename,
                 'CREATE SEQUENCE ' || quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename) || ' AS ' || s.data_type
                 || ' START WITH ' || s.start_value || ' INCREMENT BY ' || s.increment_by || ' MINVALUE ' || s.min_value
                 || ' MAXVALUE ' || s.max_value || CASE WHEN s.cycle THEN ' CYCLE' ELSE '' END || ';'
            FROM pg_sequences s JOIN pg_class c ON c.relname = s.sequencename JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
           WHERE {USER_NS} AND {cls_ext}
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
          UNION ALL
          SELECT 5, n.nspname || '.' || c.relname,
                 'CREATE ' || CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END || 'TABLE '
                 || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                 || CASE WHEN c.relispartition THEN ' PARTITION OF ' || (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid)
                         || ' ' || pg_get_expr(c.relpartbound, c.oid) ELSE ' (' || E'\\n' || coalesce((
                   SELECT string_agg('    ' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                          || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
                          || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
                                  WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END
                          || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, ',' || E'\\n' ORDER BY a.attnum)
                     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || E'\\n' || ')' END
                 || CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_get_partkeydef(c.oid) ELSE '' END || ';'
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, hist
           WHERE {USER_NS} AND c.relkind IN ('r', 'p') AND c.oid IS DISTINCT FROM hist.oid AND {cls_ext}
          UNION ALL
          SELECT 6, n.nspname || '.' || coalesce(cl.relname, t.typname) || '.' || co.conname,
                 CASE WHEN co.contypid <> 0 THEN 'ALTER DOMAIN ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname)
                      ELSE 'ALTER TABLE ONLY ' || quote_ident(n.nspname) || '.' || quote_ident(cl.relname) END
                 || ' ADD CONSTRAINT ' || quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid) || ';'
            FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
            LEFT JOIN pg_class cl ON cl.oid = co.conrelid LEFT JOIN pg_type t ON t.oid = co.contypid, hist
           WHERE {USER_NS} AND co.conrelid IS DISTINCT FROM hist.oid AND co.contype <> 'n'
             AND (co.conparentid = 0) AND {con_ext}
          UNION ALL
          SELECT 7, n.nspname || '.' || c.relname,
                 pg_get_indexdef(i.indexrelid) || ';' || CASE WHEN NOT i.indisvalid THEN ' -- INVALID: a failed CREATE INDEX CONCURRENTLY left it' ELSE '' END
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace, hist
           WHERE {USER_NS} AND i.indrelid IS DISTINCT FROM hist.oid
             AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.contype IN ('p', 'u', 'x'))
             AND NOT EXISTS (SELECT 1 FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid)
             AND {idx_ext}
          UNION ALL
          SELECT 8, n.nspname || '.' || c.relname,
                 'CREATE ' || CASE c.relkind WHEN 'm' THEN 'MATERIALIZED ' ELSE '' END || 'VIEW ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                 || ' AS' || E'\\n' || rtrim(pg_get_viewdef(c.oid, true), ';' || E'\\n ') || CASE c.relkind WHEN 'm' THEN E'\\n' || 'WITH NO DATA' ELSE '' END || ';'
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS} AND c.relkind IN ('v', 'm') AND {cls_ext}
          UNION ALL
          SELECT 9, n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                 rtrim(pg_get_functiondef(p.oid), E'\\n') || ';'
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE {USER_NS} AND p.prokind IN ('f', 'p') AND {proc_ext}
          UNION ALL
          SELECT 10, n.nspname || '.' || c.relname || '.' || tg.tgname, pg_get_triggerdef(tg.oid, true) || ';'
            FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS} AND NOT tg.tgisinternal AND tg.tgparentid = 0
        ) o ORDER BY ord, name COLLATE \"C\", body COLLATE \"C\"",
        ns_ext = not_ext("n.oid"),
        typ_ext = not_ext("t.oid"),
        cls_ext = not_ext("c.oid"),
        con_ext = not_ext("co.oid"),
        idx_ext = not_ext("i.indexrelid"),
        proc_ext = not_ext("p.oid"),
    );
    let rows = client
        .query(&sql, &[&history.qualified()])
        .await
        .map_err(|e| Error::Db(describe_pg_error(&e)))?;
    let mut out = String::new();
    for r in &rows {
        let body: Option<String> = r.get(0);
        if let Some(b) = body {
            out.push_str(&b);
            out.push_str("\n\n");
        }
    }
    Ok(out)
}

/// The file's whole text: the header, then the schema.
pub fn file_text(schema: &str) -> String {
    format!("{HEADER}\n{schema}")
}

/// A unified diff of the file (`expected`) against the database (`actual`), cut to `max` lines.
pub fn diff(
    expected: &str,
    actual: &str,
    expected_name: &str,
    actual_name: &str,
    max: usize,
) -> String {
    let text = similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(2)
        .header(expected_name, actual_name)
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max {
        return text;
    }
    let mut cut = lines
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    cut.push_str(&format!(
        "\n... and {} more line(s) of diff",
        lines.len() - max
    ));
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_is_unified_and_cut() {
        let file = "CREATE TABLE a (\n    id int\n);\n";
        let db = "CREATE TABLE a (\n    id int,\n    v text\n);\n";
        let d = diff(file, db, "db/schema.sql", "database", 50);
        assert!(d.starts_with("--- db/schema.sql\n+++ database\n"), "{d}");
        assert!(
            d.contains("-    id int\n+    id int,\n+    v text\n"),
            "{d}"
        );
        assert_eq!(diff(file, file, "a", "b", 50), "");
        let many: String = (0..30).map(|i| format!("line {i}\n")).collect();
        let cut = diff(&many, "", "a", "b", 5);
        assert_eq!(cut.lines().count(), 6);
        assert!(cut.ends_with("more line(s) of diff"), "{cut}");
    }
}
