//! Write-ahead-log checkpoints off the request path.
//!
//! SQLite's automatic checkpoint runs inside the commit that leaves the log at 1,000 pages or
//! more: that commit waits while every page is copied into the database file and synced
//! (0.35 s of a 10,000-user soft delete at 1,000,000 users). Pooled connections replace it
//! with a WAL hook: a commit that leaves the log at [`THRESHOLD`] pages or more asks a
//! background thread, which has its own connection, for a `PASSIVE` checkpoint (it waits for
//! no reader or writer) and returns at once. Requests coalesce. Past [`CAP`] pages (writes
//! arriving faster than the copies finish keep the log from starting over) a commit
//! checkpoints inline again, as SQLite would, so the log stays bounded. Without the thread
//! (it could not start, or gave up after failing [`GIVE_UP`] times in a row) commits
//! checkpoint inline. Attached databases keep SQLite's behaviour.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::Wal;

/// Pages in the log after which a checkpoint is asked for (SQLite's own default).
const THRESHOLD: i32 = 1_000;

/// Pages in the log past which commits checkpoint inline (≈ 200 MB at 4 KiB pages).
const CAP: i32 = 50_000;

/// Consecutive failed checkpoints after which the thread stops (commits then checkpoint inline).
const GIVE_UP: u32 = 3;

thread_local! {
    /// The checkpointer of the pool whose job runs on this thread.
    static CURRENT: RefCell<Option<SyncSender<()>>> = const { RefCell::new(None) };
}

/// The WAL hook of every pooled connection. Never fails the commit (it has happened).
fn after_commit(wal: &Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    if pages < THRESHOLD {
        return Ok(());
    }
    let asked = pages < CAP
        && wal.name().to_bytes() == b"main"
        && CURRENT.with_borrow(|current| {
            current.as_ref().is_some_and(|wake| {
                !matches!(wake.try_send(()), Err(TrySendError::Disconnected(())))
            })
        });
    if !asked {
        // As SQLite's automatic checkpoint would; a busy log is checkpointed by a later commit.
        let _ = wal.checkpoint();
    }
    Ok(())
}

/// Registers the hook on a pooled connection, replacing the automatic checkpoint (run it after
/// the connection's pragmas: `PRAGMA wal_autocheckpoint` would replace the hook).
pub(crate) fn install(conn: &Connection) {
    conn.wal_hook(Some(after_commit));
}

/// The background thread of one pool; dropping the last handle stops and joins it.
#[derive(Clone)]
pub(crate) struct Checkpointer(Arc<Thread>);

struct Thread {
    /// Taken at drop (closing the channel).
    wake: Option<SyncSender<()>>,
    handle: Option<JoinHandle<()>>,
    /// Checkpoints completed.
    #[cfg(test)]
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the thread for the database at `path`.
    pub(crate) fn start(path: &Path) -> Self {
        let (wake, woken) = mpsc::sync_channel(1);
        let done = Arc::new(AtomicU64::new(0));
        let (thread_path, thread_done) = (path.to_path_buf(), Arc::clone(&done));
        let handle = std::thread::Builder::new()
            .name("usermgmt-sqlite-checkpoint".into())
            .spawn(move || run(&thread_path, &woken, &thread_done))
            .map_err(|error| {
                tracing::warn!(%error, "starting the checkpoint thread; checkpoints run inline");
            })
            .ok();
        Self(Arc::new(Thread {
            wake: Some(wake),
            handle,
            #[cfg(test)]
            done,
        }))
    }

    /// Runs `work` with this pool's checkpointer as the one the hook asks.
    pub(crate) fn serving<T>(&self, work: impl FnOnce() -> T) -> T {
        /// Puts the previous value back, also when `work` panics (a sender left behind would
        /// keep the thread, and the join at drop, waiting).
        struct Restore(Option<SyncSender<()>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.set(self.0.take());
            }
        }
        let _restore = Restore(CURRENT.replace(self.0.wake.clone()));
        work()
    }

    /// Checkpoints the background thread has completed (for tests).
    #[cfg(test)]
    pub(crate) fn completed(&self) -> u64 {
        self.0.done.load(Ordering::Acquire)
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; joining it closes its connection before
        // the storage is gone (a caller may reopen or copy the file next).
        self.wake.take();
        if let Some(handle) = self.handle.take()
            && handle.join().is_err()
        {
            tracing::warn!("the checkpoint thread panicked");
        }
    }
}

/// A `PASSIVE` checkpoint of the main database: (busy, pages in the log, pages copied).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

fn run(path: &Path, woken: &Receiver<()>, done: &AtomicU64) {
    let conn = match Connection::open(path) {
        Ok(conn) => conn,
        Err(error) => {
            // Requests then fail to send and commits checkpoint inline.
            tracing::warn!(%error, "opening the checkpoint connection; checkpoints run inline");
            return;
        }
    };
    let mut failures = 0;
    while woken.recv().is_ok() {
        match checkpoint(&conn) {
            Ok((busy, log, copied)) => {
                failures = 0;
                tracing::debug!(busy, log, copied, "checkpointed the write-ahead log");
                done.fetch_add(1, Ordering::AcqRel);
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, failures, "checkpointing the write-ahead log");
                if failures >= GIVE_UP {
                    tracing::warn!("checkpoints run inline from now on");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::pool::ConnectionPool;

    /// 2,000 pages of blobs in one transaction (the log passes the threshold).
    const BIG_WRITE: &str = "BEGIN; CREATE TABLE IF NOT EXISTS t (b BLOB); \
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
        INSERT INTO t SELECT randomblob(3500) FROM n; COMMIT;";

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A pool over a new database in WAL mode (the file's directory lives as long as the guard).
    fn wal_pool() -> (tempfile::TempDir, std::path::PathBuf, ConnectionPool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let setup = rusqlite::Connection::open(&path).unwrap();
        setup.pragma_update(None, "journal_mode", "WAL").unwrap();
        let pool = ConnectionPool::open(&path, 2).unwrap();
        (dir, path, pool)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_commit_leaves_the_copy_to_the_background_thread() {
        let (_dir, path, pool) = wal_pool();
        let file = path.clone();
        // Read inside the job, right after the commit: the copy has not happened in it.
        let size_after_commit = pool
            .run(move |conn| {
                conn.execute_batch(BIG_WRITE).unwrap();
                Ok(std::fs::metadata(&file).unwrap().len())
            })
            .await
            .unwrap();
        assert!(size_after_commit < 1_000_000, "{size_after_commit} bytes");
        let checkpointer = pool.checkpointer();
        wait_for("the checkpoint", || checkpointer.completed() >= 1);
        assert!(std::fs::metadata(&path).unwrap().len() > 7_000_000);
        // A small commit does not ask for another.
        pool.run(|conn| {
            conn.execute("INSERT INTO t VALUES (x'00')", []).unwrap();
            Ok(())
        })
        .await
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(checkpointer.completed(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_commit_of_a_long_job_asks_at_once() {
        let (_dir, _, pool) = wal_pool();
        let checkpointer = pool.checkpointer().clone();
        // An import commits batch after batch in one job: the first batch's commit is copied
        // while the job goes on.
        pool.run_blocking(move |conn| {
            conn.execute_batch(BIG_WRITE).unwrap();
            wait_for("the checkpoint", || checkpointer.completed() >= 1);
            conn.execute_batch(BIG_WRITE).unwrap();
            Ok(())
        })
        .await
        .unwrap();
    }
}
