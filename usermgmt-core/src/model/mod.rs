//! Domain types.

mod account_token;
mod audit;
mod enrollment;
mod event;
mod note;
mod oauth;
pub(crate) mod permission;
mod profile;
mod provisioning;
mod registry;
mod role;
mod session;
mod stats;
pub(crate) mod string_enum;
mod tenant;
mod user;
mod vocab;
mod webhook;

pub use account_token::{AccountToken, Recipient, TokenKind};
pub use audit::{AuditAction, AuditActor, AuditEvent, AuditTargetKind, FieldChange, REDACTED};
pub use enrollment::Enrollment;
pub use event::{EVENT_SHARDS, Event, event_shard};
pub use note::Note;
pub use oauth::OAuthLink;
pub use permission::{
    InvalidPermissionName, MAX_PERMISSION_NAME_LEN, PERMISSION_NAME_PATTERN, Permission,
    PermissionInfo, PermissionSet,
};
pub use profile::{COMPLETENESS_WEIGHTS, PROFILE_COMPLETE_THRESHOLD, Profile, continent_of};
pub use provisioning::ProvisioningToken;
pub use registry::{MAX_PERMISSION_DESCRIPTION_LEN, PermissionRegistry, RegistryError};
pub use role::{Role, SUPER_ADMIN_ROLE, normalize_role_name};
pub use session::{
    GeoLocation, GeoResolver, ImpersonationMode, NoGeoResolver, Session, SessionToken,
};
pub use stats::{
    Change, GrowthInterval, GrowthPoint, Overview, OverviewPeriod, PeriodCounts, StatusGroup,
    TypeCounts, UserStats, ValueCount, ValueField, VerificationCounts,
};
pub use string_enum::UnknownValue;
pub use tenant::TenantId;
pub use user::{SEARCH_SEPARATOR, User, age_on, name_sort_key, search_text};
pub use vocab::{AuthMethod, Continent, EnrollmentStatus, Gender, OAuthProvider, Status};
pub use webhook::{DeliveryStatus, WebhookDelivery, WebhookEndpoint};
