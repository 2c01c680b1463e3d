//! A throwaway PostgreSQL schema per test.
//!
//! PostgreSQL is at `AGENCYBOT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Outside CI an unreachable
//! server skips the PostgreSQL half of a test with a note; with `CI=true` it
//! fails the test, so CI never passes by skipping.

use sqlx::Connection;

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
    /// Creates a fresh, uniquely named schema; `None` only outside CI when
    /// PostgreSQL cannot be reached.
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
        match created {
            Ok(()) => Some(PostgresSchema { url, name }),
            Err(err) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!(
                    "skipping PostgreSQL: {url} unreachable ({err}); CI=true makes this fail"
                );
                None
            }
            Err(err) => panic!("PostgreSQL at {url} is required when CI=true: {err}"),
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
