//! The storage traits every backend implements, split by capability.
//!
//! Backends translate to SQL only: inputs are already validated and normalised by the service,
//! and every method that writes does all its work (including audit events) in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::filter::{ListPlan, UserFilters};
use crate::model::{
    AuditEvent, Note, OAuthLink, OAuthProvider, PeriodCounts, PermissionSet, Role, Session, Status,
    StatusGroup, TenantId, User, ValueCount, ValueField,
};
use crate::password::PasswordHash;

/// A user to insert, with its password hash.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The complete user (derived values computed, `version` 1).
    pub user: User,
    /// The password hash, if a password was given.
    pub password_hash: Option<PasswordHash>,
    /// Provider accounts to link (their providers should be in `user.oauth_providers`).
    pub oauth_links: Vec<OAuthLink>,
}

/// What to do with the stored password hash on update.
#[derive(Debug, Clone)]
pub enum PasswordChange {
    /// Leave it as is.
    Keep,
    /// Replace it.
    Set(PasswordHash),
    /// Remove it (the user must reset before logging in).
    Clear,
}

/// A full replacement of a user's state, guarded by its version.
#[derive(Debug, Clone)]
pub struct UserReplace {
    /// The new state; `version` is ignored and set to `expected_version + 1`.
    pub user: User,
    /// The password change.
    pub password: PasswordChange,
    /// The version the change was based on; a different stored version is a
    /// [`crate::Error::VersionConflict`].
    pub expected_version: i64,
    /// Audit events written in the same transaction.
    pub audit: Vec<AuditEvent>,
    /// End every active session of the user in the same transaction; the event is written
    /// only when at least one session was active.
    pub end_sessions: Option<AuditEvent>,
}

/// Which users a bulk delete targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkTarget {
    /// These ids.
    Ids(Vec<Uuid>),
    /// Every user matching these (normalised, non-empty) filters.
    Filter(Box<UserFilters>),
}

/// A bulk soft delete, executed in one transaction; it also ends the deleted users' sessions.
#[derive(Debug, Clone)]
pub struct BulkDelete {
    /// The targeted users.
    pub target: BulkTarget,
    /// Never delete this user (the acting admin).
    pub exclude: Option<Uuid>,
    /// The actor's permissions: users holding any permission outside this set are left alone
    /// (and reported in `skipped_protected`).
    pub protect_beyond: PermissionSet,
    /// The deletion time.
    pub now: DateTime<Utc>,
    /// An event written once per deleted user through [`BulkDelete::audit_for`] (which
    /// records the user's old status), with `target_id` set to that user and a fresh event id.
    pub audit_template: AuditEvent,
}

impl BulkDelete {
    /// The audit event for a user whose status was `old` before the delete (the template
    /// with the status change filled in; give it a fresh `id` and the user as `target_id`).
    pub fn audit_for(&self, old: Status) -> AuditEvent {
        let mut event = self.audit_template.clone();
        event.changes.insert(
            "status".to_owned(),
            crate::model::FieldChange {
                old: old.as_str().into(),
                new: Status::Deleted.as_str().into(),
            },
        );
        event
    }

    /// Decides, from the users the store's selection found (locked, in the tenant: a store
    /// key, the id, the stored status and whether the user holds permissions beyond the
    /// actor's), which to delete: never the actor, never a protected user, never one already
    /// deleted; requested ids not found are reported. Returns the outcome (with `deleted` the
    /// number of targets) and the targets grouped by their old status.
    #[allow(clippy::type_complexity)]
    pub fn decide<K>(
        &self,
        found: Vec<(K, Uuid, Status, bool)>,
    ) -> (BulkDeleteOutcome, BTreeMap<Status, Vec<(K, Uuid)>>) {
        let mut outcome = BulkDeleteOutcome::default();
        if let BulkTarget::Ids(ids) = &self.target {
            let present: std::collections::HashSet<Uuid> = found.iter().map(|f| f.1).collect();
            outcome.not_found = ids
                .iter()
                .filter(|id| !present.contains(id))
                .copied()
                .collect();
        }
        let mut targets: BTreeMap<Status, Vec<(K, Uuid)>> = BTreeMap::new();
        for (key, id, status, protected) in found {
            if status == Status::Deleted {
                continue;
            }
            if Some(id) == self.exclude {
                outcome.skipped_self = true;
            } else if protected {
                outcome.skipped_protected += 1;
            } else {
                targets.entry(status).or_default().push((key, id));
                outcome.deleted += 1;
            }
        }
        (outcome, targets)
    }
}

/// Result of a bulk delete.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkDeleteOutcome {
    /// Users soft-deleted.
    pub deleted: u64,
    /// Requested ids that do not exist in the tenant.
    pub not_found: Vec<Uuid>,
    /// Whether the acting user was among the targets and was left alone.
    pub skipped_self: bool,
    /// Targeted users left alone because they hold permissions the actor lacks.
    pub skipped_protected: u64,
}

/// A login identifier, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// Lower-cased email.
    Email(String),
    /// E.164 phone.
    Phone(String),
    /// Lower-cased username.
    Username(String),
}

/// What the service needs to know about an acting user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorGrants {
    /// The acting user's status.
    pub status: Status,
    /// Effective permissions: the union of role and direct permissions.
    pub permissions: PermissionSet,
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user with its roles, permissions and audit event. Unique values taken in the
    /// tenant → [`crate::Error::Conflict`] naming every conflicting field.
    async fn insert_user(&self, user: NewUser, audit: AuditEvent) -> Result<User>;

    /// Inserts many users (with their audit events) in one transaction: all or none. For
    /// imports and generated data sets.
    async fn insert_users(&self, users: Vec<(NewUser, AuditEvent)>) -> Result<u64>;

    /// One user of the tenant, deleted or not.
    async fn get_user(&self, tenant: &TenantId, id: Uuid) -> Result<Option<User>>;

    /// The user (deleted or not) with this email, phone or username, compared as stored
    /// (the service passes normalised values).
    async fn find_user(&self, tenant: &TenantId, identifier: &Identifier) -> Result<Option<User>>;

    /// The users of the tenant with these ids (any order; unknown ids are simply absent).
    async fn users_by_ids(&self, tenant: &TenantId, ids: &[Uuid]) -> Result<Vec<User>>;

    /// One page of users and, when the plan asks, the total. `now` anchors relative filters.
    async fn list_users(
        &self,
        tenant: &TenantId,
        plan: &ListPlan,
        now: DateTime<Utc>,
    ) -> Result<(Vec<User>, Option<u64>)>;

    /// Replaces a user's state if its version still matches (see [`UserReplace`]).
    async fn replace_user(&self, tenant: &TenantId, change: UserReplace) -> Result<User>;

    /// Streams every user matching the (normalised) filters (and left by `enrollment`), in the list's default order
    /// (`created_at` desc, `id` desc), as batches of at most `batch` users into `sink`, from
    /// one consistent snapshot, with constant memory. Stops early when the receiver is gone.
    async fn export_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
        enrollment: Option<crate::filter::EnrollmentMatch>,
        now: DateTime<Utc>,
        batch: u32,
        sink: tokio::sync::mpsc::Sender<Result<Vec<User>>>,
    ) -> Result<()>;

    /// Soft-deletes many users in one transaction.
    async fn bulk_soft_delete(
        &self,
        tenant: &TenantId,
        request: BulkDelete,
    ) -> Result<BulkDeleteOutcome>;

    /// Whether this store evaluates the cross-service (enrollment) filters itself, inside the
    /// list query (push-down). Failures then surface as
    /// [`crate::Error::EnrollmentSourceUnavailable`].
    fn pushes_down_enrollments(&self) -> bool {
        false
    }

    /// Holds a tenant-wide lock, across every process sharing this store, on changes that
    /// take away a super admin, until the returned guard is dropped (the service checks that
    /// one remains while holding it). The default is no lock beyond the service's own, which
    /// covers one process; a store shared by several instances overrides it.
    async fn lock_super_admin_changes(&self, _tenant: &TenantId) -> Result<Option<StoreLock>> {
        Ok(None)
    }

    /// Status and effective permissions of a user, for authorisation.
    async fn actor_grants(&self, tenant: &TenantId, user_id: Uuid) -> Result<Option<ActorGrants>>;

    /// The user with this login identifier and their password hash, for login.
    async fn login_record(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<(User, Option<PasswordHash>)>>;

    /// Counts a failed login atomically (concurrent failures all count): a lock that has
    /// expired restarts the count at 1; reaching `max_attempts` locks the user until
    /// `lock_until`. Does not change the user's version.
    async fn record_login_failure(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        max_attempts: u32,
        lock_until: DateTime<Utc>,
    ) -> Result<LoginFailure>;

    /// Records a successful login in one transaction: resets the failure count and lock,
    /// sets `last_login_at` to the session's start, and stores the session. Does not change
    /// the user's version. Returns the updated user.
    async fn record_login_success(&self, session: &Session, token_hash: [u8; 32]) -> Result<User>;
}

/// A lock a store holds until this is dropped (see [`UserStore::lock_super_admin_changes`]).
pub type StoreLock = Box<dyn std::any::Any + Send>;

/// The state after a failed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure {
    /// Consecutive failures, this one included.
    pub attempts: u32,
    /// Set when the account is locked.
    pub locked_until: Option<DateTime<Utc>>,
}

/// The event for one impersonation session ended because its administrator logged out: a copy
/// of `template` with a fresh id, the impersonated user as target and the session named.
pub fn impersonation_ended(template: &AuditEvent, session: Uuid, user: Uuid) -> AuditEvent {
    let mut event = template.clone();
    event.id = Uuid::now_v7();
    event.target_id = user;
    event.changes.insert(
        "session_id".to_owned(),
        crate::model::FieldChange {
            old: session.to_string().into(),
            new: serde_json::Value::Null,
        },
    );
    event
}

/// Sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session (impersonation sessions come with their audit event).
    async fn insert_session(
        &self,
        session: &Session,
        token_hash: [u8; 32],
        audit: Option<AuditEvent>,
    ) -> Result<()>;
    /// The session whose token has this hash, active or not.
    async fn session_by_token(&self, token_hash: [u8; 32]) -> Result<Option<Session>>;
    /// Sets `last_seen_at`.
    async fn touch_session(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A user's sessions still active at `now`, newest first.
    async fn list_sessions(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>>;
    /// Ends one active session of the user; false when there is none with that id.
    async fn terminate_session(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
        audit: Vec<AuditEvent>,
    ) -> Result<bool>;
    /// Ends every active session of the user; returns how many.
    async fn terminate_sessions(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<u64>;
    /// Whether the user signed in (a session of their own, not an impersonation) from `ip`
    /// at or after `since`: a known client, which may pass a login lock with the right
    /// password.
    async fn signed_in_from(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        ip: std::net::IpAddr,
        since: DateTime<Utc>,
    ) -> Result<bool>;
    /// Ends every active impersonation session `impersonator` started in the tenant, writing
    /// [`impersonation_ended`]`(audit, …)` for each; returns how many.
    async fn terminate_impersonations_by(
        &self,
        tenant: &TenantId,
        impersonator: Uuid,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<u64>;
}

/// Counts for statistics and value look-ups. Deleted users are left out unless said.
#[async_trait]
pub trait InsightStore: Send + Sync {
    /// Per-status groups of counts, in one pass (deleted included); `now` anchors the
    /// 7- and 30-day registration windows.
    async fn status_groups(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, StatusGroup>>;
    /// [`InsightStore::status_groups`] over the users matching a plan's (normalised) filters
    /// and enrollment constraint, with its push-down when the store evaluates enrollment
    /// filters itself.
    async fn status_groups_matching(
        &self,
        tenant: &TenantId,
        plan: &ListPlan,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, StatusGroup>>;
    /// Period counts for each `[from, to)` window, in one pass (deleted users included).
    async fn period_counts(
        &self,
        tenant: &TenantId,
        windows: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<Vec<PeriodCounts>>;
    /// Registrations per UTC day in `[from, to)` (days without any are absent), and how many
    /// registered before `from`. Deleted users included.
    async fn daily_registrations(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<(NaiveDate, u64)>, u64)>;
    /// Distinct values of a field with user counts, most common first, optionally only those
    /// containing `contains` (ASCII case-insensitive), with the number of distinct values.
    /// Roles are listed even when nobody holds them.
    async fn distinct_values(
        &self,
        tenant: &TenantId,
        field: ValueField,
        contains: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<ValueCount>, u64)>;
}

/// OAuth provider links.
#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// Links `provider`/`provider_user_id` to the user if its version is still
    /// `expected_version` (else [`crate::Error::VersionConflict`]); bumps the version.
    /// The pair is unique per tenant ([`crate::Error::Conflict`] on `provider_user_id`), and a
    /// user links each provider once (conflict on `provider`).
    async fn link_oauth(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        expected_version: i64,
        link: &OAuthLink,
        audit: AuditEvent,
    ) -> Result<User>;
    /// Removes the user's link to `provider` under the same version guard; bumps the version.
    /// [`crate::Error::NotFound`] when there is no such link.
    async fn unlink_oauth(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        expected_version: i64,
        provider: OAuthProvider,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<User>;
}

/// Administrator notes.
#[async_trait]
pub trait NoteStore: Send + Sync {
    /// Stores a note.
    async fn insert_note(&self, note: &Note, audit: AuditEvent) -> Result<()>;
    /// The notes about a user, newest first.
    async fn list_notes(&self, tenant: &TenantId, user_id: Uuid) -> Result<Vec<Note>>;
    /// Deletes a note about the user; `None` when there is no such note.
    async fn delete_note(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        note_id: Uuid,
        audit: AuditEvent,
    ) -> Result<Option<Note>>;
}

/// Per-tenant sequences.
#[async_trait]
pub trait SequenceStore: Send + Sync {
    /// The next value (from 1) of the named sequence; never the same value twice, even
    /// under concurrent calls.
    async fn next_value(&self, tenant: &TenantId, name: &str) -> Result<i64>;
}

/// Roles.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Inserts a role; a taken name is a conflict on `name`.
    async fn insert_role(&self, role: &Role, audit: AuditEvent) -> Result<()>;
    /// One role by id.
    async fn get_role(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Role>>;
    /// The roles with these names (unknown names are simply absent).
    async fn roles_by_names(&self, tenant: &TenantId, names: &[String]) -> Result<Vec<Role>>;
    /// Every role of the tenant, by name.
    async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<Role>>;
    /// Replaces a role's name, description and permissions.
    async fn update_role(&self, role: &Role, audit: AuditEvent) -> Result<()>;
    /// Deletes a role; a role still held by a user is a conflict on `role`.
    async fn delete_role(&self, tenant: &TenantId, id: Uuid, audit: AuditEvent) -> Result<()>;
}

/// Audit events.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one event.
    async fn insert_audit(&self, event: AuditEvent) -> Result<()>;
    /// Events about one entity, newest first, with the total count.
    async fn list_audit(
        &self,
        tenant: &TenantId,
        target_id: Uuid,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEvent>, u64)>;
}

/// Everything a backend provides.
pub trait Storage:
    UserStore
    + RoleStore
    + AuditStore
    + SessionStore
    + NoteStore
    + SequenceStore
    + OAuthStore
    + InsightStore
{
}

impl<T> Storage for T where
    T: UserStore
        + RoleStore
        + AuditStore
        + SessionStore
        + NoteStore
        + SequenceStore
        + OAuthStore
        + InsightStore
{
}

/// Which related list a row of a backend's related-lists query belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelatedKind {
    /// A role name.
    Role,
    /// A direct permission.
    Permission,
    /// An area of expertise (ordered by position).
    Expertise,
    /// A linked OAuth provider.
    OAuthProvider,
}

impl RelatedKind {
    /// The kind for the numeric code backends select (0 role, 1 permission, 2 expertise,
    /// 3 OAuth provider).
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(RelatedKind::Role),
            1 => Some(RelatedKind::Permission),
            2 => Some(RelatedKind::Expertise),
            3 => Some(RelatedKind::OAuthProvider),
            _ => None,
        }
    }
}

/// Assembles the related lists (roles, direct permissions, expertise, OAuth providers) of
/// users a backend read, from the rows of its related-lists query in any order, so every
/// backend orders and decodes them the same way.
#[derive(Debug, Default)]
pub struct RelatedLists {
    rows: Vec<(usize, RelatedKind, i64, String)>,
}

impl RelatedLists {
    /// Records one value for the user at `index` (`position` orders expertise).
    pub fn push(&mut self, index: usize, kind: RelatedKind, position: i64, value: String) {
        self.rows.push((index, kind, position, value));
    }

    /// Fills the lists into the users of `items` (by index; `user` reaches the user in an
    /// item), sorted as the domain expects, and refreshes derived values. Unknown stored
    /// permissions are skipped with a warning; an unknown provider is a decoding error.
    pub fn apply<T>(mut self, items: &mut [T], user: impl Fn(&mut T) -> &mut User) -> Result<()> {
        self.rows
            .sort_unstable_by_key(|(index, kind, position, _)| (*index, *kind as u8, *position));
        for (index, kind, _, value) in self.rows {
            let Some(item) = items.get_mut(index) else {
                continue;
            };
            let user = user(item);
            match kind {
                RelatedKind::Role => user.roles.push(value),
                RelatedKind::Permission => match value.parse::<crate::model::Permission>() {
                    Ok(p) => user.permissions.push(p),
                    Err(_) => {
                        tracing::warn!(permission = %value, "ignoring an unknown stored permission")
                    }
                },
                RelatedKind::Expertise => user.profile.expertise.push(value),
                RelatedKind::OAuthProvider => {
                    user.oauth_providers.push(value.parse().map_err(|_| {
                        crate::Error::Storage(crate::StorageError::new(
                            "decoding an OAuth provider",
                            value.clone(),
                        ))
                    })?)
                }
            }
        }
        for item in items.iter_mut() {
            let user = user(item);
            user.roles.sort();
            user.permissions.sort();
            user.oauth_providers.sort();
            user.refresh_derived();
        }
        Ok(())
    }
}

/// Evaluates the cross-service (enrollment) filters against another service's learning data.
/// Implementations must reproduce [`UserFilters::matches_enrollments`] exactly.
#[async_trait]
pub trait EnrollmentSource: Send + Sync {
    /// The users of `tenant` the enrollment filters of `filters` leave.
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<crate::filter::EnrollmentMatch>;
}

/// Where the enrollments are: table and column names (defaults in brackets).
///
/// The table has one row per enrollment: tenant `tenant_id` (text; optional — leave `None`
/// for a single-tenant learning database), user `user_id` (a UUID, as text or `uuid`),
/// program `program_id` (text), program type `program_type` (text), status `status`
/// (text: `active`, `completed`, `cancelled`, `expired`, `suspended`), progress `progress`
/// (integer 0–100), time spent `time_spent_seconds` (integer seconds), last activity
/// `last_activity_at` (SQLite: integer Unix seconds; PostgreSQL: `timestamptz`; or NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentLayout {
    /// Table name.
    pub table: String,
    /// Tenant column, if the database holds several tenants.
    pub tenant_id: Option<String>,
    /// User id column.
    pub user_id: String,
    /// Program id column.
    pub program_id: String,
    /// Program type column.
    pub program_type: String,
    /// Status column.
    pub status: String,
    /// Progress column.
    pub progress: String,
    /// Time spent column.
    pub time_spent_seconds: String,
    /// Last activity column.
    pub last_activity_at: String,
}

impl Default for EnrollmentLayout {
    fn default() -> Self {
        Self {
            table: "enrollments".into(),
            tenant_id: Some("tenant_id".into()),
            user_id: "user_id".into(),
            program_id: "program_id".into(),
            program_type: "program_type".into(),
            status: "status".into(),
            progress: "progress".into(),
            time_spent_seconds: "time_spent_seconds".into(),
            last_activity_at: "last_activity_at".into(),
        }
    }
}

impl EnrollmentLayout {
    /// Checks every name is a plain SQL identifier (they are quoted, never taken from users).
    pub fn validate(&self) -> Result<()> {
        let names = [
            Some(&self.table),
            self.tenant_id.as_ref(),
            Some(&self.user_id),
            Some(&self.program_id),
            Some(&self.program_type),
            Some(&self.status),
            Some(&self.progress),
            Some(&self.time_spent_seconds),
            Some(&self.last_activity_at),
        ];
        for name in names.into_iter().flatten() {
            let ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(crate::Error::invalid(
                    "enrollment_layout",
                    format!("`{name}` is not a plain identifier"),
                ));
            }
        }
        Ok(())
    }
}
