//! The idle wait of spawned event tasks, and time arithmetic that never panics.

use std::time::Duration;

use tokio::sync::watch;

/// Waits `interval`, or less when asked to stop; whether to stop. A task whose handle was
/// dropped (the sender gone) runs on for the life of the process.
pub(crate) async fn pause(stopped: &mut watch::Receiver<bool>, interval: Duration) -> bool {
    if stopped.has_changed().is_err() {
        tokio::time::sleep(interval).await;
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(interval) => false,
        changed = stopped.changed() => changed.is_ok() && *stopped.borrow(),
    }
}

/// `at` plus `delay`, saturating at the latest time representable (a configured delay is
/// never a reason to panic).
pub(crate) fn later(
    at: chrono::DateTime<chrono::Utc>,
    delay: Duration,
) -> chrono::DateTime<chrono::Utc> {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}
