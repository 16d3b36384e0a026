//! One connection, SQLite or PostgreSQL, behind one small interface: statements are written
//! once with `$1`-style parameters (rewritten to `?1` for SQLite), values are a closed set
//! (`Val`), rows come back as values. The store's modules never see which database it is,
//! except the migrations (their DDL differs) and the partitions PostgreSQL drops.

use std::fmt;

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use super::StoreError;

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (`BIGINT` on PostgreSQL).
    Int(i64),
    /// Text (dates are `AAAA-MM-JJ` text on both databases).
    Text(String),
    /// Bytes (a file's content), shared rather than copied.
    Bytes(std::sync::Arc<[u8]>),
    /// Text shared by many rows (a month, a day), bound as text.
    Shared(std::sync::Arc<str>),
}

impl Val {
    /// The integer, 0 for anything else.
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            _ => 0,
        }
    }

    /// The text, empty for anything else.
    pub fn text(&self) -> &str {
        match self {
            Val::Text(s) => s,
            Val::Shared(s) => s,
            _ => "",
        }
    }

    /// The text, `None` for NULL.
    pub fn opt_text(&self) -> Option<String> {
        match self {
            Val::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Text(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::Text(s)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Val {
        Val::Int(i)
    }
}
impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Val {
        s.map_or(Val::Null, Val::Text)
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Val::Shared(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => i.to_sql(ty, out),
            Val::Text(s) => s.to_sql(ty, out),
            Val::Bytes(b) => ToSql::to_sql(&&**b, ty, out),
            Val::Shared(s) => ToSql::to_sql(&&**s, ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        })
    }
}

/// An open connection.
pub enum Db {
    /// SQLite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL.
    Postgres(Box<postgres::Client>),
}

/// `$1`, `$2`… → `?1`, `?2`… (SQLite reads `$1` as a name, bound by first appearance).
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn sqlite_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

fn pg_err(e: postgres::Error) -> StoreError {
    // The server's own message (code, detail) when it gave one: never the bound values.
    match e.as_db_error() {
        Some(db) => StoreError::Database(format!("{} ({})", db.message(), db.code().code())),
        None => StoreError::Database(e.to_string()),
    }
}

fn pg_params(params: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn pg_value(row: &postgres::Row, i: usize) -> Val {
    let ty = row.columns().get(i).map(|c| c.type_().clone());
    let got = match ty {
        Some(Type::INT8) => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Val::Int)),
        Some(Type::INT4) => row
            .try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|v| Val::Int(v.into()))),
        Some(Type::BYTEA) => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map(|v| v.map(|b| Val::Bytes(b.into()))),
        _ => row
            .try_get::<_, Option<String>>(i)
            .map(|v| v.map(Val::Text)),
    };
    got.ok().flatten().unwrap_or(Val::Null)
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Val {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(r) => Val::Text(r.to_string()),
        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Val::Bytes(b.into()),
    }
}

impl Db {
    /// Which database this is.
    pub fn kind(&self) -> Kind {
        match self {
            Db::Sqlite(_) => Kind::Sqlite,
            Db::Postgres(_) => Kind::Postgres,
        }
    }

    /// Runs statements without parameters (DDL, `BEGIN`…).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => c.execute_batch(sql).map_err(sqlite_err),
            Db::Postgres(c) => c.batch_execute(sql).map_err(pg_err),
        }
    }

    /// Runs one statement; the rows it changed.
    pub fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare_cached(&sqlite_sql(sql)).map_err(sqlite_err)?;
                let n = st
                    .execute(rusqlite::params_from_iter(params))
                    .map_err(sqlite_err)?;
                Ok(n as u64)
            }
            Db::Postgres(c) => c.execute(sql, &pg_params(params)).map_err(pg_err),
        }
    }

    /// Runs one query; every row, as values in column order.
    pub fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare_cached(&sqlite_sql(sql)).map_err(sqlite_err)?;
                let n = st.column_count();
                let mut rows = st
                    .query(rusqlite::params_from_iter(params))
                    .map_err(sqlite_err)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(sqlite_err)? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        vals.push(row.get_ref(i).map(sqlite_value).map_err(sqlite_err)?);
                    }
                    out.push(vals);
                }
                Ok(out)
            }
            Db::Postgres(c) => {
                let rows = c.query(sql, &pg_params(params)).map_err(pg_err)?;
                Ok(rows
                    .iter()
                    .map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect())
                    .collect())
            }
        }
    }

    /// The first column of the first row, `Null` when there is none.
    pub fn one(&mut self, sql: &str, params: &[Val]) -> Result<Val, StoreError> {
        let rows = self.query(sql, params)?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or(Val::Null))
    }

    /// Inserts rows into `table`: `values` holds them one after the other, `columns.len()`
    /// values each. One prepared statement per row on SQLite, multi-row statements on
    /// PostgreSQL (one round trip per few hundred rows).
    pub fn insert_many(
        &mut self,
        table: &str,
        columns: &[&str],
        values: &[Val],
    ) -> Result<(), StoreError> {
        let n = columns.len().max(1);
        let list = columns.join(", ");
        match self {
            Db::Sqlite(c) => {
                let marks: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
                let sql = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
                let mut st = c.prepare_cached(&sql).map_err(sqlite_err)?;
                for row in values.chunks(n) {
                    st.execute(rusqlite::params_from_iter(row))
                        .map_err(sqlite_err)?;
                }
                Ok(())
            }
            Db::Postgres(c) => {
                // PostgreSQL binds at most 65 535 parameters per statement.
                let per = (60_000 / n).clamp(1, 1000);
                for chunk in values.chunks(per * n) {
                    let tuples: Vec<String> = (0..chunk.len() / n)
                        .map(|r| {
                            let marks: Vec<String> =
                                (1..=n).map(|i| format!("${}", r * n + i)).collect();
                            format!("({})", marks.join(", "))
                        })
                        .collect();
                    let sql = format!("INSERT INTO {table} ({list}) VALUES {}", tuples.join(", "));
                    c.execute(sql.as_str(), &pg_params(chunk)).map_err(pg_err)?;
                }
                Ok(())
            }
        }
    }

    /// Runs `work` in one transaction: committed when it succeeds, rolled back otherwise.
    pub fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.batch(match self.kind() {
            Kind::Sqlite => "BEGIN IMMEDIATE",
            Kind::Postgres => "BEGIN",
        })?;
        match work(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}
