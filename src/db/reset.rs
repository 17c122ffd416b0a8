//! What only local development and verify do to a whole database: `reset` empties every schema
//! in one transaction; verify creates and drops its own scratch databases (and only those).

use serde::Serialize;
use tokio_postgres::Client;

use super::history::{HistoryTable, quote_ident};
use super::pg::describe_pg_error;
use crate::error::{Error, Result};

fn db_err(e: tokio_postgres::Error) -> Error {
    Error::Db(describe_pg_error(&e))
}

/// `CREATE DATABASE` / `DROP DATABASE ... WITH (FORCE)` for verify's scratch databases; `name`
/// must be one of ours, so this can never drop a real database.
pub async fn scratch(client: &Client, create: bool, name: &str) -> Result<()> {
    let ours = name.strip_prefix("godwit_verify_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    });
    if !ours {
        return Err(Error::Internal(format!(
            "refusing to touch database `{name}`: not a godwit_verify_ scratch database"
        )));
    }
    let sql = if create {
        format!("CREATE DATABASE {}", quote_ident(name))
    } else {
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
    };
    client.batch_execute(&sql).await.map_err(|e| {
        let d = describe_pg_error(&e);
        if create && d.contains("42501") {
            Error::Config(format!("verify needs to create scratch databases, and the role in DATABASE_URL may not: {d}; grant CREATEDB or point DATABASE_URL at a CI server"))
        } else {
            db_err(e)
        }
    })
}

/// The schemas to give back: `public` (every database has one) and the history's own, with their
/// owner, comment and grants as statements the server quoted itself.
async fn kept_schemas(
    client: &Client,
    h: &HistoryTable,
    user_schemas: &str,
) -> Result<Vec<tokio_postgres::Row>> {
    client
        .query(
            &format!(
                "SELECT n.nspname, pg_get_userbyid(n.nspowner),
                        coalesce(format('COMMENT ON SCHEMA %I IS %L', n.nspname, obj_description(n.oid, 'pg_namespace')), ''),
                        coalesce((SELECT string_agg(format('GRANT %s ON SCHEMA %I TO %s%s', a.privilege_type, n.nspname,
                                      CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                                      CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), '; ')
                                  FROM aclexplode(n.nspacl) a), '')
                   FROM pg_namespace n WHERE n.nspname IN ('public', $1) AND {user_schemas}"
            ),
            &[&h.schema],
        )
        .await
        .map_err(db_err)
}

/// Recreates the kept schemas with their owner, comment and grants. The comment and grants come
/// back from the server as statements it quoted itself (%I, %L): no server text is quoted here.
async fn recreate(client: &Client, keep: &[tokio_postgres::Row]) -> Result<Vec<String>> {
    let mut recreated = Vec::new();
    for r in keep {
        let (name, owner, comment, grants): (String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let mut sql = format!(
            "CREATE SCHEMA {} AUTHORIZATION {};",
            quote_ident(&name),
            quote_ident(&owner)
        );
        if !comment.is_empty() {
            sql.push_str(&format!(" {comment};"));
        }
        if !grants.is_empty() {
            sql.push_str(&format!(" {grants};"));
        }
        client.batch_execute(&sql).await.map_err(db_err)?;
        recreated.push(name);
    }
    Ok(recreated)
}

/// What a local `reset` did to the database.
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResetDone {
    pub dropped_schemas: Vec<String>,
    pub recreated_schemas: Vec<String>,
    pub reverted_rows: u64,
}

/// Empties the database for a local `reset`, in one transaction (all or nothing): marks every
/// live history row reverted (`reverted_by_command = 'reset'`), parks the history table, drops
/// every user schema with what is in it, recreates `public` and the history's schema with their
/// owner, comment and grants, and puts the history table back. Objects outside schemas (roles,
/// event triggers, publications) are left alone.
pub async fn reset_database(client: &Client, h: &HistoryTable) -> Result<ResetDone> {
    let t = h.qualified();
    let park = format!("godwit_reset_{}", std::process::id());
    let user_schemas = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";
    client.batch_execute("BEGIN").await.map_err(db_err)?;
    let result = async {
        let reverted = client
            .execute(
                &format!("UPDATE {t} SET status = 'reverted', reverted_at = now(), reverted_by = current_user, reverted_by_command = 'reset' WHERE status <> 'reverted'"),
                &[],
            )
            .await
            .map_err(db_err)?;
        let keep = kept_schemas(client, h, user_schemas).await?;
        let all: Vec<String> = client
            .query(&format!("SELECT n.nspname FROM pg_namespace n WHERE {user_schemas} ORDER BY 1"), &[])
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {p}; ALTER TABLE {t} SET SCHEMA {p}",
                p = quote_ident(&park)
            ))
            .await
            .map_err(db_err)?;
        for schema in &all {
            client
                .batch_execute(&format!("DROP SCHEMA {} CASCADE", quote_ident(schema)))
                .await
                .map_err(db_err)?;
        }
        let mut recreated = recreate(client, &keep).await?;
        if !recreated.contains(&h.schema) {
            client
                .batch_execute(&format!("CREATE SCHEMA {}", quote_ident(&h.schema)))
                .await
                .map_err(db_err)?;
            recreated.push(h.schema.clone());
        }
        client
            .batch_execute(&format!(
                "ALTER TABLE {p}.{tbl} SET SCHEMA {s}; DROP SCHEMA {p}",
                p = quote_ident(&park),
                tbl = quote_ident(&h.table),
                s = quote_ident(&h.schema)
            ))
            .await
            .map_err(db_err)?;
        Ok::<_, Error>(ResetDone {
            dropped_schemas: all,
            recreated_schemas: recreated,
            reverted_rows: reverted,
        })
    }
    .await;
    match result {
        Ok(done) => {
            client.batch_execute("COMMIT").await.map_err(db_err)?;
            Ok(done)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}
