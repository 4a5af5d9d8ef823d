//! The example server's demo data: generated users (see [`crate::dataset`]), sessions for a
//! share of the active ones, and a learning database of enrollments (a SQLite file in the
//! default `EnrollmentLayout`) for the server to wire as its enrollment source.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, RngCore, SeedableRng};
use usermgmt_core::model::{GeoLocation, Session, Status, TenantId};
use usermgmt_core::storage::Storage;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Share of active users given sessions.
const SESSION_SHARE: f64 = 0.2;

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
];

const PLACES: &[(&str, &str, &str)] = &[
    ("DE", "Berlin", "Berlin"),
    ("FR", "Île-de-France", "Paris"),
    ("US", "California", "San Francisco"),
    ("BR", "São Paulo", "São Paulo"),
    ("JP", "Tokyo", "Tokyo"),
    ("NG", "Lagos", "Lagos"),
];

/// What [`load`] added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    /// Users (besides any already there).
    pub users: usize,
    /// Sessions, some ended or expired.
    pub sessions: usize,
    /// Rows in the learning database.
    pub enrollments: usize,
}

/// Adds `count` users to `tenant` (with the dataset's roles), sessions for about a fifth of
/// the active ones, and writes their enrollments to a new learning database at `learning_db`
/// (replacing any file there). Reproducible from `seed` relative to `now`.
///
/// `progress(stage, done, total)` is called as the work advances (about every 10 % of the
/// users, then once per stage), so a caller can show it.
pub async fn load(
    storage: &dyn Storage,
    seed: u64,
    tenant: &TenantId,
    count: usize,
    now: DateTime<Utc>,
    learning_db: &Path,
    progress: &mut (dyn FnMut(&'static str, usize, usize) + Send),
) -> Result<DemoSummary, BoxError> {
    let step = (count / 10).max(1);
    let mut users = Vec::with_capacity(count);
    let generated = crate::dataset::users(seed, tenant, count, now)
        .into_iter()
        .inspect(|new| {
            users.push((new.user.id, new.user.status));
            if users.len() % step == 0 {
                progress("users", users.len(), count);
            }
        });
    let roles = crate::dataset::roles(tenant, now);
    crate::dataset::insert_chunked(storage, tenant, roles, generated, now, 5_000).await;
    progress("users", users.len(), count);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5e55_1075);
    let mut sessions = 0;
    for (id, status) in &users {
        if *status != Status::Active || !rng.random_bool(SESSION_SHARE) {
            continue;
        }
        for _ in 0..rng.random_range(1..=3) {
            let (session, token_hash) = session(&mut rng, tenant, *id, now);
            storage
                .insert_session(&session.tenant_id, &session, token_hash, None)
                .await?;
            sessions += 1;
        }
    }
    progress("sessions", sessions, sessions);
    let enrollments = crate::enrollments::generate_for(seed, users.iter().map(|(id, _)| *id), now);
    crate::enrollments::write_sqlite_learning_db(learning_db, tenant, enrollments.iter().cloned())?;
    progress("enrollments", enrollments.len(), enrollments.len());
    Ok(DemoSummary {
        users: users.len(),
        sessions,
        enrollments: enrollments.len(),
    })
}

/// A session of `user` from the last 30 days; about one in four has ended or expired. Its
/// token is random and thrown away: demo sessions are listed, never used.
fn session(
    rng: &mut StdRng,
    tenant: &TenantId,
    user: Uuid,
    now: DateTime<Utc>,
) -> (Session, [u8; 32]) {
    let created_at = now - Duration::seconds(rng.random_range(60..30 * 86_400));
    let last_seen_at =
        created_at + Duration::seconds(rng.random_range(0..=(now - created_at).num_seconds()));
    let expires_at = created_at + Duration::days(rng.random_range(7..=30));
    let terminated_at = rng.random_bool(0.1).then_some(last_seen_at);
    let (country, region, city) = *PLACES.choose(rng).unwrap_or(&PLACES[0]);
    let ip = if rng.random_bool(0.8) {
        // Documentation ranges (RFC 5737, RFC 3849): addresses that belong to nobody.
        let [a, b, c] = *[[192, 0, 2], [198, 51, 100], [203, 0, 113]]
            .choose(rng)
            .unwrap_or(&[192, 0, 2]);
        IpAddr::V4(Ipv4Addr::new(a, b, c, rng.random_range(1..255)))
    } else {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, rng.random()))
    };
    let mut token_hash = [0u8; 32];
    rng.fill_bytes(&mut token_hash);
    let session = Session {
        id: Uuid::now_v7(),
        tenant_id: tenant.clone(),
        user_id: user,
        created_at,
        last_seen_at,
        expires_at,
        terminated_at,
        user_agent: USER_AGENTS.choose(rng).map(|ua| (*ua).to_owned()),
        ip: Some(ip),
        location: Some(GeoLocation {
            country: Some(country.to_owned()),
            region: Some(region.to_owned()),
            city: Some(city.to_owned()),
        }),
        impersonator_id: None,
        impersonation_mode: None,
        impersonation_reason: None,
    };
    (session, token_hash)
}
