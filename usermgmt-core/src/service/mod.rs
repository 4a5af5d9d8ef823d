//! The permission-checked service: every operation takes the acting principal.

mod access;
mod audit;
mod bootstrap;
mod bulk;
mod core;
mod events;
mod export;
mod flows;
mod guards;
mod import;
mod import_plan;
mod import_rows;
mod import_writer;
mod inputs;
mod insights;
mod invitations;
mod listing;
mod login;
mod members;
mod new_user;
mod notes;
mod oauth;
pub(crate) mod outcome;
mod pattern;
mod provisioning;
mod rbac;
mod self_delete;
mod sessions;
mod system;
mod throttle;
mod unique_id;
mod users;
mod webhooks;

pub use access::Actor;
pub use bulk::BulkDeleteRequest;
pub use core::{
    EnrollmentOptions, FlowOptions, LoginPolicy, ServiceConfig, SessionPolicy, UserService,
};
pub use export::{CSV_COLUMNS, EXPORT_BATCH, ExportFormat, ExportStream, neutralise};
pub use import::{IMPORT_BATCH, IMPORT_IDLE, ImportSummary, RowOutcome, RowReport};
pub use import_rows::{ImportMode, ImportOptions, MAX_IMPORT_ROW};
pub use inputs::{CreateRole, CreateUser, UpdateRole, UpdateUser};
pub use insights::{
    FILTER_VALUES_LIMIT, FilterValues, GROWTH_MAX_DATE, GROWTH_MIN_DATE, MAX_GROWTH_POINTS,
    growth_series,
};
pub use login::{ClientInfo, LoginOutcome, LoginRequest};
pub use members::{MAX_ROLE_MEMBERS, MemberChange};
pub use notes::MAX_NOTE_LEN;
pub use oauth::LinkOAuth;
pub use outcome::BulkDeleteOutcome;
pub use pattern::UniqueIdPattern;
pub use provisioning::{
    CreateProvisioningToken, IssuedProvisioningToken, MAX_TOKEN_NAME, PROVISIONING_SCOPE,
    PROVISIONING_TOKEN_PREFIX,
};
pub use rbac::UnregisteredPermission;
pub use sessions::ImpersonateRequest;
pub use system::{
    GetOrCreateOutcome, GetOrCreateUser, MAX_BY_IDS, MAX_SYSTEM_SEARCH, SetFlags, UsersByIds,
};
pub use throttle::ThrottlePolicy;
pub use unique_id::SetUniqueId;
pub use webhooks::{
    CreateWebhook, IssuedWebhook, MAX_DELIVERY_PAGE, MAX_REPLAY_EVENTS, MAX_WEBHOOKS,
    ReplayOutcome, ReplayWebhook, UpdateWebhook,
};
