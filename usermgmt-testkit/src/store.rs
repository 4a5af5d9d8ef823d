//! The store under test and the clock tests set by hand.

use std::any::Any;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use usermgmt_core::Clock;
use usermgmt_core::storage::Storage;

/// A storage under test, with whatever must live as long as it (e.g. a temporary directory).
pub struct TestStore {
    /// The storage.
    pub storage: Arc<dyn Storage>,
    _guard: Box<dyn Any + Send + Sync>,
    outbox_fault: Option<OutboxFault>,
}

/// Turns on (`true`) or off a failure that every write of an outbox row meets, raised by the
/// database after the row (and the change it announces) was written: the backend's way of
/// injecting a failure late in a change's transaction.
pub type OutboxFault = Arc<
    dyn Fn(bool) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

impl TestStore {
    /// Wraps a storage and a guard dropped with it.
    pub fn new(storage: Arc<dyn Storage>, guard: impl Any + Send + Sync) -> Self {
        Self {
            storage,
            _guard: Box::new(guard),
            outbox_fault: None,
        }
    }

    /// Lets tests inject a failure into outbox writes (see [`OutboxFault`]).
    pub fn with_outbox_fault(mut self, fault: OutboxFault) -> Self {
        self.outbox_fault = Some(fault);
        self
    }

    /// Turns the injected outbox failure on or off.
    ///
    /// # Panics
    /// When the backend's factory offers no [`OutboxFault`].
    pub async fn set_outbox_fault(&self, on: bool) {
        match &self.outbox_fault {
            Some(fault) => fault(on).await,
            None => panic!("this test store cannot inject outbox failures"),
        }
    }

    /// The guard, if it is a `G`.
    pub fn guard<G: Any>(&self) -> Option<&G> {
        self._guard.downcast_ref()
    }
}

/// What a backend's test factory returns: a store, or (`None`) a reason-printed skip when the
/// backend's server is not available outside CI.
pub trait IntoTestStore {
    /// The store, if the test should run.
    fn into_test_store(self) -> Option<TestStore>;
}

impl IntoTestStore for TestStore {
    fn into_test_store(self) -> Option<TestStore> {
        Some(self)
    }
}

impl IntoTestStore for Option<TestStore> {
    fn into_test_store(self) -> Option<TestStore> {
        self
    }
}

/// A clock tests set and advance by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `now` (truncated to microseconds).
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(usermgmt_core::clock::truncate_to_micros(now)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|poisoned| *poisoned.into_inner())
    }
}
