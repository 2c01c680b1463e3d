//! A throwaway PostgreSQL schema per test.
//!
//! PostgreSQL is at `AGENCYBOT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). An unreachable server fails
//! the test, naming the way out: `AGENCYBOT_TEST_POSTGRES=skip` skips the
//! PostgreSQL half of each test with a note, an explicit choice of the run.
//! Under `CI=true` even that fails, so CI never passes by skipping.

use sqlx::Connection;

/// Set to `skip` to skip PostgreSQL tests when no server is reachable.
pub const SKIP_VARIABLE: &str = "AGENCYBOT_TEST_POSTGRES";

#[must_use]
pub fn postgres_url() -> String {
    std::env::var("AGENCYBOT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema that exists until this value is dropped.
#[derive(Debug)]
pub struct PostgresSchema {
    pub url: String,
    pub name: String,
}

impl PostgresSchema {
    /// Creates a fresh, uniquely named schema; `None` only when PostgreSQL
    /// cannot be reached and the run opted out with
    /// `AGENCYBOT_TEST_POSTGRES=skip` (never under `CI=true`).
    pub async fn create() -> Option<PostgresSchema> {
        let url = postgres_url();
        let name = format!(
            "agencybot_test_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let created = async {
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
                .execute(&mut conn)
                .await?;
            conn.close().await
        }
        .await;
        let in_ci = std::env::var("CI").as_deref() == Ok("true");
        let opted_out = std::env::var(SKIP_VARIABLE).as_deref() == Ok("skip");
        match created {
            Ok(()) => Some(PostgresSchema { url, name }),
            Err(err) if opted_out && !in_ci => {
                eprintln!("skipping PostgreSQL ({SKIP_VARIABLE}=skip): {url} unreachable ({err})");
                None
            }
            Err(err) if in_ci => panic!("PostgreSQL at {url} is required when CI=true: {err}"),
            Err(err) => panic!(
                "PostgreSQL at {url} is unreachable ({err}): start it, point AGENCYBOT_TEST_POSTGRES_URL at one, or set {SKIP_VARIABLE}=skip to skip the PostgreSQL half of these tests"
            ),
        }
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Its own thread and runtime: drop may run inside a test's runtime,
        // which cannot be blocked on.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
