//! The schema fingerprint: the schema as sorted text lines, read from the catalogs. `verify`
//! compares fingerprints (idempotence, reproducibility, round trips); two databases with the same
//! lines have the same schema as far as migrations can tell.

use tokio_postgres::Client;

use super::pg::describe_pg_error;
use crate::error::{Error, Result};

/// The schema as text lines, sorted: schemas, relations, columns, constraints, indexes, sequences,
/// functions, views, triggers, enums, extensions and privileges; no OIDs, no data. Two databases
/// with the same lines have the same schema as far as migrations can tell.
pub async fn fingerprint(client: &Client) -> Result<Vec<String>> {
    const USER_NS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";
    let sql = format!(
        "SELECT line FROM (
          SELECT 'schema ' || n.nspname || ' owner=' || pg_get_userbyid(n.nspowner) || ' acl=' || coalesce(n.nspacl::text, '') AS line
            FROM pg_namespace n WHERE {USER_NS}
          UNION ALL
          SELECT 'relation ' || n.nspname || '.' || c.relname || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
                 || ' owner=' || pg_get_userbyid(c.relowner) || ' acl=' || coalesce(c.relacl::text, '')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          UNION ALL
          SELECT 'column ' || n.nspname || '.' || c.relname || ' #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
                 || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
                 || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' identity=' || a.attidentity::text
                 || ' generated=' || a.attgenerated::text || ' acl=' || coalesce(a.attacl::text, '')
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE {USER_NS} AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          UNION ALL
          SELECT 'constraint ' || n.nspname || '.' || coalesce(cl.relname, t.typname) || '.' || co.conname || ' ' || pg_get_constraintdef(co.oid)
                 || ' validated=' || co.convalidated
            FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
            LEFT JOIN pg_class cl ON cl.oid = co.conrelid LEFT JOIN pg_type t ON t.oid = co.contypid
           WHERE {USER_NS}
          UNION ALL
          SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS}
          UNION ALL
          SELECT 'sequence ' || s.schemaname || '.' || s.sequencename || ' ' || s.data_type || ' start=' || s.start_value
                 || ' increment=' || s.increment_by || ' min=' || s.min_value || ' max=' || s.max_value || ' cycle=' || s.cycle
            FROM pg_sequences s WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')
          UNION ALL
          SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
                 || md5(pg_get_functiondef(p.oid)) || ' acl=' || coalesce(p.proacl::text, '')
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE {USER_NS} AND p.prokind IN ('f', 'p')
          UNION ALL
          SELECT 'view ' || n.nspname || '.' || c.relname || ' ' || md5(pg_get_viewdef(c.oid))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS} AND c.relkind IN ('v', 'm')
          UNION ALL
          SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS} AND NOT t.tgisinternal
          UNION ALL
          SELECT 'enum ' || n.nspname || '.' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
           WHERE {USER_NS} GROUP BY n.nspname, t.typname
          UNION ALL
          SELECT 'type ' || n.nspname || '.' || t.typname || ' kind=' || t.typtype::text
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE {USER_NS} AND t.typtype IN ('d', 'e', 'r', 'm') OR ({USER_NS} AND t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
          UNION ALL
          SELECT 'extension ' || x.extname || ' ' || x.extversion FROM pg_extension x
        ) f ORDER BY line COLLATE \"C\""
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| Error::Db(describe_pg_error(&e)))?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
        .collect())
}
