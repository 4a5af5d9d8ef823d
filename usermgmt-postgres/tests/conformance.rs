//! The shared conformance suite and the differential property test, against a real
//! PostgreSQL server.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::fresh_store;
use usermgmt_testkit::conformance_suite;

conformance_suite!(fresh_store);

#[test]
fn differential_against_reference_model() {
    let runtime = usermgmt_testkit::property_runtime();
    let cases = usermgmt_testkit::property_cases(300);
    usermgmt_testkit::differential::run(&runtime, fresh_store, &[7, 2026], cases);
}

/// Totals under interleaved writes, through two storages connected to one database (two
/// application instances).
#[test]
fn totals_stay_exact_under_interleaved_writes() {
    let runtime = usermgmt_testkit::property_runtime();
    let cases = (usermgmt_testkit::property_cases(240) / 10).max(4);
    usermgmt_testkit::counting::run(
        &runtime,
        || async {
            let (store, url) =
                common::fresh_store_with(usermgmt_postgres::PgOptions::default()).await?;
            let second = usermgmt_postgres::PgStorage::connect(&url)
                .await
                .expect("connect a second instance");
            let second: std::sync::Arc<dyn usermgmt_core::storage::Storage> =
                std::sync::Arc::new(second);
            Some((store, second))
        },
        cases,
    );
}
