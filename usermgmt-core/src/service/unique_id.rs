//! Unique IDs: set explicitly, or generated from a pattern over a per-tenant sequence.

use serde::Deserialize;
use uuid::Uuid;

use super::core::UserService;
use super::inputs::UpdateUser;
use crate::error::{Error, Result};
use crate::model::User;
use crate::principal::Principal;
use crate::validate::check_unique_id;

/// The sequence behind generated unique IDs.
const SEQUENCE: &str = "unique_id";
/// Attempts at generating a value not already taken (by an explicitly set one).
const GENERATE_ATTEMPTS: usize = 20;

/// Set a user's unique ID: either a given value or a generated one (exactly one of the two).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetUniqueId {
    /// The value to set: 1–64 of `A-Z a-z 0-9 . - _ /`.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^\s*[A-Za-z0-9._/-]{1,64}\s*$")
    )]
    pub unique_id: Option<String>,
    /// Generate a value from the configured pattern.
    #[serde(default)]
    pub generate: bool,
}

impl UserService {
    /// Sets a user's unique ID to a given value (validated, unique per tenant) or to the next
    /// value generated from [`crate::ServiceConfig::unique_id_pattern`]. Requires `user.update`.
    pub async fn set_unique_id(
        &self,
        principal: &Principal,
        user_id: Uuid,
        change: SetUniqueId,
    ) -> Result<User> {
        let explicit = match (change.unique_id, change.generate) {
            (Some(value), false) => Some(value),
            (None, true) => None,
            _ => {
                return Err(Error::invalid(
                    "unique_id",
                    "give either `unique_id` or `generate: true`",
                ));
            }
        };
        if let Some(value) = explicit {
            if check_unique_id(value.trim()).is_err() || value.trim().is_empty() {
                return Err(Error::invalid(
                    "unique_id",
                    "must be 1-64 characters of A-Z a-z 0-9 . - _ /",
                ));
            }
            let patch = UpdateUser {
                unique_id: Some(Some(value)),
                ..Default::default()
            };
            return self.update_user(principal, user_id, patch).await;
        }
        // Check access and existence before consuming sequence numbers.
        let actor = self
            .authorize_write(principal, crate::model::Permission::USER_UPDATE)
            .await?;
        self.load_user(&actor, user_id).await?;
        for _ in 0..GENERATE_ATTEMPTS {
            let seq = self.storage.next_value(&actor.tenant_id, SEQUENCE).await?;
            let value = self
                .config
                .unique_id_pattern
                .render(seq, self.clock.now().date_naive());
            let patch = UpdateUser {
                unique_id: Some(Some(value)),
                ..Default::default()
            };
            match self.update_user(principal, user_id, patch).await {
                Err(Error::Conflict { fields }) if fields.iter().any(|f| f == "unique_id") => {
                    continue;
                }
                other => return other,
            }
        }
        Err(Error::conflict("unique_id"))
    }
}
