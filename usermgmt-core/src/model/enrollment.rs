//! Enrollments in the learning service, read through an enrollment source (cross-service
//! filters, SPEC §5).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::vocab::EnrollmentStatus;

/// One enrollment of a user in a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrollment {
    /// The enrolled user.
    pub user_id: Uuid,
    /// The program.
    pub program_id: String,
    /// The program's type (e.g. `course`, `bootcamp`).
    pub program_type: String,
    /// Enrollment status.
    pub status: EnrollmentStatus,
    /// Progress, 0–100.
    pub progress: u8,
    /// Time spent learning, in seconds.
    pub time_spent_seconds: u64,
    /// Last learning activity.
    pub last_activity_at: Option<DateTime<Utc>>,
}
