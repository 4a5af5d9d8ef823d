//! The permission-checked service: every operation takes the acting principal.

mod access;
mod audit;
mod inputs;
mod rbac;
mod users;

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::filter::DEFAULT_MAX_PAGE_SIZE;
use crate::password::PasswordPolicy;
use crate::storage::Storage;
use crate::validate::ValidationRules;

pub use access::Actor;
pub use inputs::{CreateRole, CreateUser, UpdateRole, UpdateUser};
pub use users::BulkDeleteRequest;

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Password length rules and argon2id cost.
    pub password: PasswordPolicy,
    /// Rules that depend on deployment (default phone region).
    pub validation: ValidationRules,
    /// Largest accepted `page_size` (default 500).
    pub max_page_size: u32,
    /// Most ids one bulk delete accepts (default 10,000).
    pub max_bulk_ids: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            password: PasswordPolicy::default(),
            validation: ValidationRules {
                default_phone_region: None,
            },
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
            max_bulk_ids: 10_000,
        }
    }
}

/// The user-management service over a storage backend.
///
/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct UserService {
    storage: Arc<dyn Storage>,
    config: Arc<ServiceConfig>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl UserService {
    /// A service with the given storage and default settings.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self::with_config(storage, ServiceConfig::default())
    }

    /// A service with the given storage and settings.
    pub fn with_config(storage: Arc<dyn Storage>, config: ServiceConfig) -> Self {
        Self {
            storage,
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The settings in force.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The underlying storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }
}
