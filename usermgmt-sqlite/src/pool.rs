//! A connection pool whose work always runs on the blocking thread pool, never on the async
//! executor.

use std::path::Path;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use usermgmt_core::{Error, Result, StorageError};

use crate::checkpoint::{self, Checkpointer};

/// Pragmas set on every connection. Reads go through a memory map of up to 1 GiB of the file
/// (no copy per page: exports run ~25% faster); those pages are the OS page cache, shared
/// and reclaimable, though they count in the process's RSS while mapped. The write-ahead log's
/// file is cut back to 64 MiB when the log starts over after a large write.
pub(crate) const CONNECTION_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; \
     PRAGMA mmap_size = 1073741824; PRAGMA journal_size_limit = 67108864;";

#[derive(Clone)]
pub(crate) struct ConnectionPool {
    pool: Pool<SqliteConnectionManager>,
    checkpointer: Checkpointer,
}

impl ConnectionPool {
    pub(crate) fn open(path: &Path, size: u32) -> Result<Self> {
        let manager = SqliteConnectionManager::file(path).with_init(|conn| {
            conn.set_prepared_statement_cache_capacity(64);
            conn.execute_batch(CONNECTION_PRAGMAS)?;
            checkpoint::install(conn);
            Ok(())
        });
        let pool = Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .build(manager)
            .map_err(|e| Error::Storage(StorageError::new("opening the SQLite database", e)))?;
        Ok(Self {
            pool,
            checkpointer: Checkpointer::start(path),
        })
    }

    /// The background checkpointer (for tests).
    #[cfg(test)]
    pub(crate) fn checkpointer(&self) -> &Checkpointer {
        &self.checkpointer
    }

    /// Runs `work` with a pooled connection without stalling the async executor: on a
    /// multi-threaded Tokio runtime through `block_in_place` (the worker hands its other
    /// tasks to another thread while SQLite works; no thread hop, which costs ~70 µs here),
    /// elsewhere on the blocking thread pool.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let (pool, checkpointer) = (self.pool.clone(), self.checkpointer.clone());
        let job = move || job(&pool, &checkpointer, work);
        let multi_threaded = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_threaded {
            tokio::task::block_in_place(job)
        } else {
            tokio::task::spawn_blocking(job)
                .await
                .map_err(|e| Error::Storage(StorageError::new("running a SQLite task", e)))?
        }
    }

    /// Runs long `work` (e.g. a streaming export) on the blocking thread pool, where it may
    /// block on a channel.
    pub(crate) async fn run_blocking<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let (pool, checkpointer) = (self.pool.clone(), self.checkpointer.clone());
        tokio::task::spawn_blocking(move || job(&pool, &checkpointer, work))
            .await
            .map_err(|e| Error::Storage(StorageError::new("running a SQLite task", e)))?
    }
}

/// Runs `work` on a pooled connection on this thread; its commits ask the pool's checkpointer.
fn job<T>(
    pool: &Pool<SqliteConnectionManager>,
    checkpointer: &Checkpointer,
    work: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<T> {
    let mut conn = pool
        .get()
        .map_err(|e| Error::Storage(StorageError::new("taking a SQLite connection", e)))?;
    checkpointer.serving(|| work(&mut conn))
}

/// Starts a write transaction, taking SQLite's write lock at once (so a read-then-write inside
/// it cannot fail half-way on a lock upgrade).
pub(crate) fn immediate(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(crate::error::map_err("starting a transaction"))
}

/// Commits a transaction.
pub(crate) fn commit(tx: rusqlite::Transaction<'_>) -> Result<()> {
    tx.commit().map_err(crate::error::map_err("committing"))
}
