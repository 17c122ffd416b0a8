//! What adopting a database reads: the schema already there (the guard against running over a
//! database godwit did not build) and another tool's history table (`baseline --from`).

use super::PgSession;
use crate::db::history::HistoryTable;
use crate::db::{Existing, ToolEntry, ToolState};
use crate::error::{Error, Result};

impl PgSession {
    pub(super) async fn read_existing_schema(
        &self,
        h: &HistoryTable,
        only: Option<&str>,
    ) -> Result<Existing> {
        let history_rows = match self
            .client
            .query(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", h.qualified()),
                &[],
            )
            .await
        {
            Ok(rows) => rows.first().is_some_and(|r| r.get::<_, bool>(0)),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => false,
            Err(e) => return Err(self.classify(e, "reading the history table", None)),
        };
        let rows = self
            .client
            .query(
                crate::db::history::EXISTING_SQL,
                &[&h.schema, &h.table, &only],
            )
            .await
            .map_err(|e| self.classify(e, "looking for an existing schema", None))?;
        let mut out = Existing {
            history_rows,
            ..Existing::default()
        };
        for r in rows {
            let (kind, name, total, tool): (String, String, i64, bool) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            out.total = total;
            if tool {
                out.tools.push(name.clone());
            }
            out.objects.push(format!("{kind} {name}"));
        }
        Ok(out)
    }

    pub(super) async fn read_tool_history(
        &self,
        tool: crate::import::tool::Tool,
        table: &str,
    ) -> Result<Option<(String, Vec<ToolEntry>)>> {
        // the server resolves the name (search_path, quoting) and names it back, quoted
        let found = self
            .client
            .query_one("SELECT pg_catalog.to_regclass($1)::text", &[&table])
            .await;
        let name: Option<String> = match found {
            Ok(row) => row.get(0),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_NAME) => {
                return Err(Error::Usage(format!(
                    "`{table}` is not a table name PostgreSQL can read (--tool-table)"
                )));
            }
            Err(e) => return Err(self.classify(e, "looking for the tool's history table", None)),
        };
        let Some(name) = name else { return Ok(None) };
        let grant = format!("GRANT SELECT ON {name} TO <this role>");
        let rows = self
            .client
            .query(&tool.history_sql(&name), &[])
            .await
            .map_err(|e| {
                self.classify(
                    e,
                    &format!("reading {}'s history table {name}", tool.name()),
                    Some(&grant),
                )
            })?;
        let entries = rows
            .iter()
            .map(|r| ToolEntry {
                id: r.get::<_, Option<String>>(0).unwrap_or_default(),
                state: ToolState::parse(&r.get::<_, String>(1)),
            })
            .collect();
        Ok(Some((name, entries)))
    }
}
