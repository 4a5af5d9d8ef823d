//! The conformance cases. Each takes a fresh store and panics on a broken expectation.

mod access;
mod account_flows;
mod common;
mod enrollment;
mod events;
mod events_bulk;
mod export;
mod hardening;
mod host_permissions;
mod imports;
mod insights;
mod invitations;
mod listing;
mod rbac;
mod records;
mod scim;
mod sessions;
mod system;
mod users;
mod webhooks;
mod writes;

pub use access::*;
pub use account_flows::*;
pub use enrollment::*;
pub use events::*;
pub use events_bulk::*;
pub use export::*;
pub use hardening::*;
pub use host_permissions::*;
pub use imports::*;
pub use insights::*;
pub use invitations::*;
pub use listing::*;
pub use rbac::*;
pub use records::*;
pub use scim::*;
pub use sessions::*;
pub use system::*;
pub use users::*;
pub use webhooks::*;
pub use writes::*;

#[cfg(test)]
mod tests {
    /// The source of every case module, as compiled.
    const SOURCES: [(&str, &str); 21] = [
        ("access", include_str!("access.rs")),
        ("account_flows", include_str!("account_flows.rs")),
        ("invitations", include_str!("invitations.rs")),
        ("imports", include_str!("imports.rs")),
        ("common", include_str!("common.rs")),
        ("enrollment", include_str!("enrollment.rs")),
        ("events", include_str!("events.rs")),
        ("events_bulk", include_str!("events_bulk.rs")),
        ("export", include_str!("export.rs")),
        ("hardening", include_str!("hardening.rs")),
        ("host_permissions", include_str!("host_permissions.rs")),
        ("insights", include_str!("insights.rs")),
        ("listing", include_str!("listing.rs")),
        ("rbac", include_str!("rbac.rs")),
        ("records", include_str!("records.rs")),
        ("scim", include_str!("scim.rs")),
        ("sessions", include_str!("sessions.rs")),
        ("system", include_str!("system.rs")),
        ("users", include_str!("users.rs")),
        ("webhooks", include_str!("webhooks.rs")),
        ("writes", include_str!("writes.rs")),
    ];

    #[test]
    fn every_case_is_in_the_suite() {
        let modules = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/cases"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name != "mod.rs")
            .count();
        assert_eq!(
            modules,
            SOURCES.len(),
            "a case module is missing from SOURCES"
        );
        let mut missing = Vec::new();
        let mut cases = 0;
        for (module, source) in SOURCES {
            for line in source.lines() {
                let Some(rest) = line.strip_prefix("pub async fn ") else {
                    continue;
                };
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                cases += 1;
                if !crate::CASES.contains(&name.as_str()) {
                    missing.push(format!("{module}::{name}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "cases not in conformance_suite!: {missing:?}"
        );
        assert_eq!(cases, crate::CASES.len(), "a listed case appears twice");
    }
}
