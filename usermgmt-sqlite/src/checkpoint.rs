//! Write-ahead-log checkpoints off the request path.
//!
//! SQLite's automatic checkpoint runs inside the commit that leaves the log at 1,000 pages or
//! more: that commit waits while every page is copied into the database file and synced
//! (0.35 s of a 10,000-user soft delete at 1,000,000 users). Pool connections instead note the
//! log's size after each commit (a WAL hook, which also turns the automatic checkpoint off);
//! when a pooled job leaves the log at [`THRESHOLD`] pages or more, a background thread with
//! its own connection runs a `PASSIVE` checkpoint, which waits for no reader or writer. The
//! log is bounded exactly as before (the same threshold, checked after the same commits); a
//! commit no longer pays for the copy. Attached databases keep SQLite's inline behaviour.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use rusqlite::Connection;
use rusqlite::hooks::Wal;

/// Pages in the log after which a checkpoint runs (SQLite's own default).
pub(crate) const THRESHOLD: i32 = 1_000;

thread_local! {
    /// The log size of the main database after this thread's last commit.
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// The WAL hook of every pooled connection: notes the log's size; never fails the commit.
fn note_commit(wal: &Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    if wal.name().to_bytes() == b"main" {
        WAL_PAGES.set(pages);
    } else if pages >= THRESHOLD {
        // An attached database: as SQLite's automatic checkpoint would (a busy log is
        // checkpointed by a later commit).
        let _ = wal.checkpoint();
    }
    Ok(())
}

/// Registers the hook on a pooled connection (replacing the automatic checkpoint).
pub(crate) fn install(conn: &Connection) {
    conn.wal_hook(Some(note_commit));
}

/// Takes the log size this thread's commits left since the last call.
pub(crate) fn take_pages() -> i32 {
    WAL_PAGES.replace(0)
}

/// The handle on the background thread; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct Checkpointer {
    wake: SyncSender<()>,
    path: PathBuf,
    /// Checkpoints the thread has completed.
    #[cfg(test)]
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the thread for the database at `path`.
    pub(crate) fn start(path: &Path) -> Self {
        let (wake, woken) = mpsc::sync_channel(1);
        let done = Arc::new(AtomicU64::new(0));
        let thread_path = path.to_path_buf();
        let thread_done = Arc::clone(&done);
        let started = std::thread::Builder::new()
            .name("usermgmt-sqlite-checkpoint".into())
            .spawn(move || run(&thread_path, &woken, &thread_done));
        if let Err(error) = started {
            tracing::warn!(%error, "starting the checkpoint thread; checkpoints run inline");
        }
        Self {
            wake,
            path: path.to_path_buf(),
            #[cfg(test)]
            done,
        }
    }

    /// Called after a pooled job with the log size its commits left: asks for a checkpoint
    /// when the log is at the threshold. Requests coalesce; if the thread is gone, the
    /// caller's connection checkpoints inline.
    pub(crate) fn after_job(&self, pages: i32, conn: &Connection) {
        if pages < THRESHOLD {
            return;
        }
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                if let Err(error) = checkpoint(conn) {
                    tracing::warn!(%error, path = %self.path.display(), "checkpointing inline");
                }
            }
        }
    }

    /// Checkpoints the background thread has completed (for tests).
    #[cfg(test)]
    pub(crate) fn completed(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }
}

/// A `PASSIVE` checkpoint of the main database: (pages in the log, pages copied).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i32, i32)> {
    conn.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

fn run(path: &Path, woken: &Receiver<()>, done: &AtomicU64) {
    let conn = match Connection::open(path) {
        Ok(conn) => conn,
        Err(error) => {
            // Requests then fail to send and each job's connection checkpoints inline.
            tracing::warn!(%error, "opening the checkpoint connection; checkpoints run inline");
            return;
        }
    };
    while woken.recv().is_ok() {
        match checkpoint(&conn) {
            Ok((log, copied)) => {
                tracing::debug!(log, copied, "checkpointed the write-ahead log");
                done.fetch_add(1, Ordering::AcqRel);
            }
            Err(error) => tracing::warn!(%error, "checkpointing the write-ahead log"),
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_commit_leaves_the_copy_to_the_background_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let setup = rusqlite::Connection::open(&path).unwrap();
        setup.pragma_update(None, "journal_mode", "WAL").unwrap();
        let pool = ConnectionPool::open(&path, 2).unwrap();
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
}
