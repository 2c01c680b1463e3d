//! The two pools and the few primitives every query goes through.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments, FromRow};

use crate::{Result, Store, StoreError};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool, SqliteWrites),
    Postgres(PgPool),
}

/// One SQLite write at a time from this process. SQLite lets one
/// connection write at a time and makes the others retry by sleeping (1, 2,
/// 5… ms); queued here instead, a burst of writes runs back to back.
#[derive(Clone, Debug, Default)]
pub(crate) struct SqliteWrites(std::sync::Arc<tokio::sync::Mutex<()>>);

impl SqliteWrites {
    /// Holds the write turn while `sql` runs, if it writes.
    async fn hold(&self, sql: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let verb = sql
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or_default();
        let reads = verb.eq_ignore_ascii_case("SELECT") || verb.eq_ignore_ascii_case("PRAGMA");
        if reads {
            None
        } else {
            Some(self.0.lock().await)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db`, `sqlite::memory:`, or `postgres://…`.
    pub url: String,
    pub max_connections: u32,
    /// PostgreSQL only: keep agencybot's tables in this schema (created if
    /// missing), so several deployments can share one database.
    pub schema: Option<String>,
    /// SQLite only: create the database file if it does not exist.
    pub create_if_missing: bool,
}

impl StoreOptions {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            max_connections: 8,
            schema: None,
            create_if_missing: true,
        }
    }
}

/// Which migrations the database has and lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
}

impl Store {
    /// Closes the pool's idle connections but one, once a burst is over:
    /// on SQLite each holds a thread, a page cache of up to 2 MB and its
    /// prepared statements, on PostgreSQL a server process. (The pool's own
    /// idle timeout would also close the last one, and reopen it, every
    /// time it sat idle that long.) Returns how many were closed.
    pub async fn close_idle_connections(&self) -> usize {
        match &self.db {
            Db::Sqlite(pool, _) => close_idle_but_one(pool).await,
            Db::Postgres(pool) => close_idle_but_one(pool).await,
        }
    }

    /// How many connections the pool has open, idle or in use.
    #[must_use]
    pub fn open_connections(&self) -> u32 {
        match &self.db {
            Db::Sqlite(pool, _) => pool.size(),
            Db::Postgres(pool) => pool.size(),
        }
    }

    /// Opens (and for SQLite, by default, creates) the database. Does not migrate.
    pub async fn connect(options: &StoreOptions) -> Result<Store> {
        let url = options.url.as_str();
        let invalid = |reason: String| StoreError::InvalidUrl {
            url: redact_url(url),
            reason,
        };
        let db = if url.starts_with("sqlite:") {
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|err| invalid(err.to_string()))?
                .create_if_missing(options.create_if_missing)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let connect = if in_memory {
                connect
            } else {
                connect
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            };
            // An in-memory database lives in its one connection: keep it forever.
            let pool = if in_memory {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                SqlitePoolOptions::new().max_connections(options.max_connections.max(1))
            };
            Db::Sqlite(pool.connect_with(connect).await?, SqliteWrites::default())
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut connect =
                PgConnectOptions::from_str(url).map_err(|err| invalid(err.to_string()))?;
            if let Some(schema) = &options.schema {
                if !is_identifier(schema) {
                    return Err(invalid(format!(
                        "schema `{schema}` must be letters, digits and underscores"
                    )));
                }
                let mut conn =
                    <sqlx::postgres::PgConnection as sqlx::Connection>::connect_with(&connect)
                        .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
                )))
                .execute(&mut conn)
                .await?;
                connect = connect.options([("search_path", schema.as_str())]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await?;
            Db::Postgres(pool)
        } else {
            return Err(invalid(
                "expected sqlite://PATH, sqlite::memory: or postgres://…".into(),
            ));
        };
        Ok(Store {
            db,
            access_changes: std::sync::Arc::default(),
        })
    }

    /// An empty in-memory SQLite store with the schema applied (tests, `chat`).
    pub async fn in_memory() -> Result<Store> {
        let store = Store::connect(&StoreOptions::new("sqlite::memory:")).await?;
        store.migrate().await?;
        Ok(store)
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every migration the database lacks; returns their descriptions.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let before = self.migration_status().await?;
        match &self.db {
            Db::Sqlite(pool, _) => SQLITE_MIGRATOR.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(before.pending)
    }

    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        let migrator = match self.db {
            Db::Sqlite(..) => &SQLITE_MIGRATOR,
            Db::Postgres(_) => &POSTGRES_MIGRATOR,
        };
        let table_exists: Option<(i64,)> = match &self.db {
            Db::Sqlite(..) => {
                self.db
                    .fetch_optional(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                        vec![],
                    )
                    .await?
            }
            Db::Postgres(_) => {
                self.db
                    .fetch_optional(
                        "SELECT CAST(1 AS BIGINT) FROM information_schema.tables \
                         WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()",
                        vec![],
                    )
                    .await?
            }
        };
        let applied_versions: Vec<(i64,)> = if table_exists.is_some() {
            self.db
                .fetch_all(
                    "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
                    vec![],
                )
                .await?
        } else {
            Vec::new()
        };
        let mut status = MigrationStatus {
            applied: Vec::new(),
            pending: Vec::new(),
        };
        for migration in migrator.iter() {
            let name = format!("{} {}", migration.version, migration.description);
            if applied_versions.iter().any(|(v,)| *v == migration.version) {
                status.applied.push(name);
            } else {
                status.pending.push(name);
            }
        }
        Ok(status)
    }

    /// Reaches the database with a trivial query.
    pub async fn ping(&self) -> Result<()> {
        let _: (i64,) = self
            .db
            .fetch_one("SELECT CAST(1 AS BIGINT)", vec![])
            .await?;
        Ok(())
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pool, _) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// A bound parameter, typed so that NULLs have a type on PostgreSQL.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Real(Option<f64>),
    Bool(Option<bool>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(Some(v))
    }
}
impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        Value::Real(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(Some(v))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_owned))
    }
}

/// `args![a, b, c]`: the parameters `$1, $2, $3` of a query.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::db::Value::from($value)),*]
    };
}
pub(crate) use args;

fn sqlite_arguments(values: Vec<Value>) -> Result<SqliteArguments> {
    let mut arguments = SqliteArguments::default();
    for value in values {
        match value {
            Value::Int(v) => arguments.add(v),
            Value::Text(v) => arguments.add(v),
            Value::Real(v) => arguments.add(v),
            Value::Bool(v) => arguments.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}

fn postgres_arguments(values: Vec<Value>) -> Result<PgArguments> {
    let mut arguments = PgArguments::default();
    for value in values {
        match value {
            Value::Int(v) => arguments.add(v),
            Value::Text(v) => arguments.add(v),
            Value::Real(v) => arguments.add(v),
            Value::Bool(v) => arguments.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` values: the VALUES
/// of a multi-row insert.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * columns + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// A row type that decodes from both backends' rows.
pub(crate) trait Row:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

/// Builds `query_as(sql)` with the values bound for whichever backend is
/// open, and runs `$run` on it: one body, two concrete database types.
macro_rules! on_pool {
    ($db:expr, $sql:expr, $values:expr, |$query:ident, $pool:ident| $run:expr) => {
        Ok(match $db {
            Db::Sqlite($pool, writes) => {
                let _writing = writes.hold($sql).await;
                let $query = sqlx::query_as_with($sql, sqlite_arguments($values)?);
                $run?
            }
            Db::Postgres($pool) => {
                let $query = sqlx::query_as_with($sql, postgres_arguments($values)?);
                $run?
            }
        })
    };
}

impl Db {
    /// Runs a statement; returns the number of rows it affected.
    pub(crate) async fn execute(&self, sql: &'static str, values: Vec<Value>) -> Result<u64> {
        Ok(match self {
            Db::Sqlite(pool, writes) => {
                let _writing = writes.hold(sql).await;
                sqlx::query_with(sql, sqlite_arguments(values)?)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Db::Postgres(pool) => sqlx::query_with(sql, postgres_arguments(values)?)
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }

    /// [`Db::execute`] for a statement built at run time (a multi-row
    /// insert); its text must come from the store, never from input.
    pub(crate) async fn execute_built(&self, sql: String, values: Vec<Value>) -> Result<u64> {
        Ok(match self {
            Db::Sqlite(pool, writes) => {
                let _writing = writes.hold(&sql).await;
                sqlx::query_with(sqlx::AssertSqlSafe(sql), sqlite_arguments(values)?)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Db::Postgres(pool) => {
                sqlx::query_with(sqlx::AssertSqlSafe(sql), postgres_arguments(values)?)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        })
    }

    /// [`Db::fetch_all`] for a statement built at run time (a multi-row
    /// insert that returns rows); its text must come from the store.
    pub(crate) async fn fetch_all_built<T: Row>(
        &self,
        sql: String,
        values: Vec<Value>,
    ) -> Result<Vec<T>> {
        Ok(match self {
            Db::Sqlite(pool, writes) => {
                let _writing = writes.hold(&sql).await;
                sqlx::query_as_with(sqlx::AssertSqlSafe(sql), sqlite_arguments(values)?)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as_with(sqlx::AssertSqlSafe(sql), postgres_arguments(values)?)
                    .fetch_all(pool)
                    .await?
            }
        })
    }

    pub(crate) async fn fetch_all<T: Row>(
        &self,
        sql: &'static str,
        values: Vec<Value>,
    ) -> Result<Vec<T>> {
        on_pool!(self, sql, values, |query, pool| query.fetch_all(pool).await)
    }

    pub(crate) async fn fetch_optional<T: Row>(
        &self,
        sql: &'static str,
        values: Vec<Value>,
    ) -> Result<Option<T>> {
        on_pool!(self, sql, values, |query, pool| query
            .fetch_optional(pool)
            .await)
    }

    pub(crate) async fn fetch_one<T: Row>(
        &self,
        sql: &'static str,
        values: Vec<Value>,
    ) -> Result<T> {
        on_pool!(self, sql, values, |query, pool| query.fetch_one(pool).await)
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Query parameters that carry a password (compared without regard to case).
const SECRET_PARAMETERS: [&str; 3] = ["password", "sslpassword", "pass"];

/// The URL with any password replaced, for messages and logs: the one in
/// the user info and any `password=`, `sslpassword=` or `pass=` parameter.
#[must_use]
pub fn redact_url(url: &str) -> String {
    // Parameters first: a value with an `@` in it must not be mistaken for
    // the end of the user info below.
    let url = redact_parameters(url);
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url,
            }
        }
        _ => url,
    }
}

/// Replaces the value of every secret parameter after the first `?`, up to
/// the next `&` or `#`.
fn redact_parameters(url: &str) -> String {
    let Some(query_start) = url.find('?') else {
        return url.to_owned();
    };
    let (head, query) = url.split_at(query_start + 1);
    let (query, fragment) = match query.find('#') {
        Some(at) => query.split_at(at),
        None => (query, ""),
    };
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((name, _))
                if SECRET_PARAMETERS
                    .iter()
                    .any(|secret| name.eq_ignore_ascii_case(secret)) =>
            {
                format!("{name}=***")
            }
            _ => parameter.to_owned(),
        })
        .collect();
    format!("{head}{}{fragment}", parameters.join("&"))
}

async fn close_idle_but_one<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> usize {
    let mut closed = 0;
    while pool.num_idle() > 1 {
        // Only an idle connection, and none a waiting task is owed.
        let Some(connection) = pool.try_acquire() else {
            break;
        };
        if let Err(error) = connection.close().await {
            tracing::debug!(%error, "an idle connection did not close cleanly");
        }
        closed += 1;
    }
    closed
}

#[cfg(test)]
mod tests {
    use super::SqliteWrites;

    #[tokio::test]
    async fn sqlite_writes_queue_and_reads_do_not() {
        let writes = SqliteWrites::default();
        assert!(writes.hold("SELECT id FROM teams").await.is_none());
        assert!(writes.hold("\n  select 1").await.is_none());
        assert!(writes.hold("PRAGMA journal_mode").await.is_none());
        let writing = writes
            .hold("\n  INSERT INTO leases (name) VALUES ($1)")
            .await;
        assert!(writing.is_some());
        // A second write waits for the first.
        let second = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            writes.hold("UPDATE teams SET name = $1"),
        )
        .await;
        assert!(second.is_err(), "a second write ran beside the first");
        drop(writing);
        for sql in [
            "UPDATE teams SET name = $1",
            "DELETE FROM leases",
            "WITH x AS (SELECT 1) DELETE FROM leases",
        ] {
            assert!(writes.hold(sql).await.is_some(), "{sql}");
        }
    }

    use super::*;

    async fn idle_connections_but_one_close_after_a_burst(store: &Store) {
        // A burst: four connections in use at once.
        let burst: Box<dyn std::any::Any> = match &store.db {
            Db::Sqlite(pool, _) => Box::new(hold(pool, 4).await),
            Db::Postgres(pool) => Box::new(hold(pool, 4).await),
        };
        assert_eq!(store.open_connections(), 4);
        assert_eq!(store.close_idle_connections().await, 0, "all in use");
        drop(burst);
        // A dropped connection goes back to the pool from a task of its own.
        let idle = || match &store.db {
            Db::Sqlite(pool, _) => pool.num_idle(),
            Db::Postgres(pool) => pool.num_idle(),
        };
        for _ in 0..100 {
            if idle() == 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(store.close_idle_connections().await, 3);
        assert_eq!(store.open_connections(), 1);
        assert_eq!(store.close_idle_connections().await, 0, "one stays");
        // The one left serves.
        assert!(store.team_by_name("nobody").await.expect("query").is_none());
        assert_eq!(store.open_connections(), 1);
    }

    /// Holds `n` connections of `pool` at once.
    async fn hold<DB: sqlx::Database>(
        pool: &sqlx::Pool<DB>,
        n: usize,
    ) -> Vec<sqlx::pool::PoolConnection<DB>> {
        let mut held = Vec::new();
        for _ in 0..n {
            held.push(pool.acquire().await.expect("connection"));
        }
        held
    }

    #[tokio::test]
    async fn sqlite_idle_connections_but_one_close_after_a_burst() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("idle.db").display());
        let store = Store::connect(&StoreOptions::new(url)).await.expect("open");
        store.migrate().await.expect("migrate");
        idle_connections_but_one_close_after_a_burst(&store).await;
    }

    #[tokio::test]
    async fn postgres_idle_connections_but_one_close_after_a_burst() {
        let Some(schema) = agencybot_testkit::PostgresSchema::create().await else {
            return;
        };
        let mut options = StoreOptions::new(schema.url.clone());
        options.schema = Some(schema.name.clone());
        let store = Store::connect(&options).await.expect("open postgres");
        store.migrate().await.expect("migrate");
        idle_connections_but_one_close_after_a_burst(&store).await;
        store.close().await;
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://bot:s3cret@db:5432/agency"),
            "postgres://bot:***@db:5432/agency"
        );
        assert_eq!(
            redact_url("postgres://bot@db/agency"),
            "postgres://bot@db/agency"
        );
        assert_eq!(
            redact_url("sqlite://data/agencybot.db"),
            "sqlite://data/agencybot.db"
        );
    }

    #[test]
    fn password_parameters_are_redacted_whatever_their_case() {
        assert_eq!(
            redact_url("postgres://db/agency?sslmode=require&password=s3cret"),
            "postgres://db/agency?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://db/agency?PassWord=s3cret&sslmode=require"),
            "postgres://db/agency?PassWord=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/agency?SSLPASSWORD=key-pass&pass=other#top"),
            "postgres://db/agency?SSLPASSWORD=***&pass=***#top"
        );
        assert_eq!(
            redact_url("postgres://bot:s3cret@db/agency?password=a@b&application_name=x"),
            "postgres://bot:***@db/agency?password=***&application_name=x",
            "an `@` in a parameter is not the user info"
        );
        assert_eq!(
            redact_url("postgres://db/agency?passfile=/etc/pgpass&user=bot"),
            "postgres://db/agency?passfile=/etc/pgpass&user=bot",
            "other parameters are kept"
        );
        for url in [
            "postgres://db/agency?password=hunter2",
            "postgres://u:hunter2@db/agency?sslpassword=hunter2",
            "postgres://db/agency?x=1&Pass=hunter2",
        ] {
            assert!(!redact_url(url).contains("hunter2"), "{url}");
        }
    }
}
