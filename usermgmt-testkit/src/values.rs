//! The value pools and small helpers both generators draw from: the small, overlapping pools
//! of [`crate::dataset`] (case variants, ties, every filter branch) and the realistic ones of
//! [`crate::realistic`].

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use usermgmt_core::model::{PermissionSet, Role, TenantId};
use uuid::Uuid;

/// Pools for the conformance and differential data set.
pub mod small {
    /// Names: mixed case, accents, non-Latin scripts, duplicates differing only in case.
    pub const NAMES: &[&str] = &[
        "Ada Lovelace",
        "ada lovelace",
        "Alan Turing",
        "Grace Hopper",
        "Édith Piaf",
        "Zoë Ali",
        "bob",
        "Ängel Núñez",
        "李小龙",
        "O'Brien",
        "Mary-Jane",
        "Søren Kierkegaard",
        "Émile",
        "zed",
    ];
    /// Role names the dataset creates.
    pub const ROLES: &[&str] = &["editor", "viewer", "support"];
    /// Countries (with continents spread out).
    pub const COUNTRIES: &[&str] = &["US", "DE", "FR", "BR", "JP", "NG", "AU"];
    /// Cities, including case variants.
    pub const CITIES: &[&str] = &["Berlin", "berlin", "Paris", "São Paulo", "Tokyo", "Lagos"];
    /// States.
    pub const STATES: &[&str] = &["Bavaria", "CA", "ca", "Île-de-France"];
    /// Time zones.
    pub const TIMEZONES: &[&str] = &["Europe/Berlin", "America/New_York", "Asia/Tokyo"];
    /// Locales, including case variants.
    pub const LOCALES: &[&str] = &["en-US", "de-DE", "EN-us", "pt-BR"];
    /// Designations, including case variants.
    pub const DESIGNATIONS: &[&str] = &["Engineer", "engineer", "Teacher", "Ärztin"];
    /// Expertise values.
    pub const EXPERTISE: &[&str] = &["Rust", "Go", "Teaching", "Math", "Écriture"];
    /// Search terms: short, long, cased, accented, absent, metacharacters.
    pub const SEARCH_TERMS: &[&str] = &[
        "ada", "LOVE", "a", "zo", "ë", "example", "user1", "+1415", "id-1", "李", "jane",
        "xyz-none", "er", "o'b", "%", "_", "\"", "test.io", "ängel", "user2@",
    ];
}

/// Pools for the benchmark data set.
pub mod realistic {
    /// The 8 roles of the data set.
    pub const ROLES: [&str; 8] = [
        "student",
        "teaching_assistant",
        "course_author",
        "reviewer",
        "support_agent",
        "billing",
        "content_manager",
        "auditor",
    ];

    /// Countries in Zipf rank order.
    pub const COUNTRIES: [&str; 40] = [
        "US", "IN", "BR", "GB", "DE", "NG", "FR", "CA", "ES", "MX", "ID", "PH", "IT", "AU", "PK",
        "EG", "TR", "PL", "NL", "ZA", "KE", "AR", "CO", "JP", "VN", "SE", "CH", "BE", "PT", "IE",
        "CL", "PE", "RO", "UA", "GH", "MY", "SG", "NZ", "NO", "FI",
    ];

    /// First names.
    pub const FIRST: [&str; 20] = [
        "james",
        "mary",
        "john",
        "patricia",
        "robert",
        "jennifer",
        "michael",
        "linda",
        "william",
        "elizabeth",
        "david",
        "barbara",
        "richard",
        "susan",
        "joseph",
        "jessica",
        "thomas",
        "sarah",
        "charles",
        "karen",
    ];
    /// Suffixes that vary first names.
    pub const FIRST_SUFFIX: [&str; 10] = ["", "a", "o", "ie", "an", "el", "ina", "on", "y", "us"];
    /// Last names.
    pub const LAST: [&str; 20] = [
        "smith",
        "johnson",
        "williams",
        "brown",
        "jones",
        "garcia",
        "miller",
        "davis",
        "rodriguez",
        "martinez",
        "hernandez",
        "lopez",
        "gonzalez",
        "wilson",
        "anderson",
        "thomas",
        "taylor",
        "moore",
        "jackson",
        "martin",
    ];
    /// Suffixes that vary last names.
    pub const LAST_SUFFIX: [&str; 10] = [
        "", "son", "er", "ez", "ski", "man", "ford", "ley", "ton", "berg",
    ];
    /// Non-ASCII names.
    pub const NON_ASCII: [&str; 12] = [
        "José Núñez",
        "Zoë Müller",
        "Łukasz Wójcik",
        "Søren Ødegård",
        "François Lefèvre",
        "Ängel Østby",
        "Иван Петров",
        "Мария Иванова",
        "李小龙",
        "王芳",
        "田中 花子",
        "Αθηνά Παππά",
    ];
    /// Cities.
    pub const CITIES: [&str; 12] = [
        "New York",
        "Mumbai",
        "São Paulo",
        "London",
        "Berlin",
        "Lagos",
        "Paris",
        "Toronto",
        "Madrid",
        "Mexico City",
        "Jakarta",
        "Manila",
    ];
    /// Designations.
    pub const DESIGNATIONS: [&str; 8] = [
        "Engineer",
        "Teacher",
        "Student",
        "Manager",
        "Designer",
        "Nurse",
        "Analyst",
        "Researcher",
    ];
    /// Areas of expertise.
    pub const EXPERTISE: [&str; 10] = [
        "Rust", "Python", "Teaching", "Math", "Design", "Data", "Writing", "Biology", "Law",
        "Music",
    ];
    /// Locales.
    pub const LOCALES: [&str; 6] = ["en-US", "en-GB", "pt-BR", "de-DE", "fr-FR", "es-ES"];
    /// Time zones.
    pub const TIMEZONES: [&str; 6] = [
        "America/New_York",
        "Europe/London",
        "Europe/Berlin",
        "Asia/Kolkata",
        "America/Sao_Paulo",
        "Africa/Lagos",
    ];
    /// Number of programs enrollments spread over.
    pub const PROGRAMS: usize = 2_000;
    /// Program types.
    pub const PROGRAM_TYPES: [&str; 4] = ["course", "bootcamp", "workshop", "certificate"];
}

/// One of `values`.
pub(crate) fn pick<'a>(rng: &mut StdRng, values: &[&'a str]) -> &'a str {
    values.choose(rng).copied().unwrap_or_default()
}

/// `value` with this probability, else `None`.
pub(crate) fn maybe<T>(
    rng: &mut StdRng,
    probability: f64,
    value: impl FnOnce(&mut StdRng) -> T,
) -> Option<T> {
    rng.random_bool(probability).then(|| value(rng))
}

/// A role of `tenant` created at `now`.
pub(crate) fn role(
    id: Uuid,
    tenant: &TenantId,
    name: &str,
    description: Option<String>,
    permissions: PermissionSet,
    now: DateTime<Utc>,
) -> Role {
    Role {
        id,
        tenant_id: tenant.clone(),
        name: name.to_owned(),
        description,
        permissions,
        created_at: now,
        updated_at: now,
    }
}
