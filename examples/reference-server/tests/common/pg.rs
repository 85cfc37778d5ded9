//! PostgreSQL for tests: a database of its own per test, created through the
//! `WINMDM_TEST_POSTGRES` URL and dropped afterwards; without the variable a test prints
//! that it skipped and returns.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable holding the connection URL of a role that may create databases.
pub const ENV: &str = "WINMDM_TEST_POSTGRES";

/// A database created for one test through the `WINMDM_TEST_POSTGRES` URL, dropped with
/// this value.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

/// `url` with its database name replaced by `db` (URL or key=value form).
pub fn with_dbname(url: &str, db: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let (base, query) = match url.find('?') {
            Some(q) => (&url[..q], &url[q..]),
            None => (url, ""),
        };
        let host_start = scheme_end + 3;
        let path = base[host_start..].find('/').map(|i| host_start + i);
        let authority = &base[..path.unwrap_or(base.len())];
        format!("{authority}/{db}{query}")
    } else {
        format!("{url} dbname={db}")
    }
}

/// Runs `f` on a thread of its own: the `postgres` crate must not block on an async
/// runtime's thread.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("thread"))
}

impl PgDatabase {
    /// None (with the skip line on stderr) when the variable is not set.
    pub fn create(test: &str) -> Option<PgDatabase> {
        let Ok(admin_url) = std::env::var(ENV) else {
            // One write per line: tests running at once do not interleave their lines.
            let line = format!("{test}: skipped: {ENV} not set (PostgreSQL tests did not run)\n");
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "winmdm_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        off_runtime(|| {
            let mut c = ::postgres::Client::connect(&admin_url, ::postgres::NoTls)
                .unwrap_or_else(|e| panic!("{ENV}: connect: {e}"));
            c.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create database");
        });
        let url = with_dbname(&admin_url, &name);
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// A connection to the test's database.
    pub fn query_i64(&self, sql: &str) -> i64 {
        off_runtime(|| {
            let mut c = ::postgres::Client::connect(&self.url, ::postgres::NoTls).unwrap();
            c.query_one(sql, &[]).unwrap().get(0)
        })
    }

    /// The plan PostgreSQL makes for `sql` after `setup` on one connection of the test's
    /// database (an `EXPLAIN ...` statement, `PREPARE` and settings in `setup`), its lines
    /// joined.
    pub fn explain(&self, setup: &str, sql: &str) -> String {
        off_runtime(|| {
            let mut c = ::postgres::Client::connect(&self.url, ::postgres::NoTls).unwrap();
            c.batch_execute(setup).unwrap();
            let lines: Vec<String> = c
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            lines.join("\n")
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        off_runtime(|| {
            if let Ok(mut c) = ::postgres::Client::connect(&self.admin_url, ::postgres::NoTls) {
                let _ = c.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        });
    }
}
