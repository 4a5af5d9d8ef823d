//! TLS to PostgreSQL: `sslmode` and `sslrootcert` from the URL are honoured. CI starts the
//! test cluster with `ssl=on` and a certificate for `localhost`/`127.0.0.1` signed by a CA it
//! generates (`USERMGMT_TEST_POSTGRES_TLS_CA`), plus an unrelated CA
//! (`USERMGMT_TEST_POSTGRES_WRONG_CA`).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use usermgmt_postgres::PgStorage;

fn ca_files() -> Option<(String, String)> {
    match (
        std::env::var("USERMGMT_TEST_POSTGRES_TLS_CA"),
        std::env::var("USERMGMT_TEST_POSTGRES_WRONG_CA"),
    ) {
        (Ok(ca), Ok(wrong)) => Some((ca, wrong)),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "USERMGMT_TEST_POSTGRES_TLS_CA / _WRONG_CA are not set: TLS must be tested in CI"
            )
        }
        _ => {
            eprintln!("skipped: no TLS test cluster (USERMGMT_TEST_POSTGRES_TLS_CA unset)");
            None
        }
    }
}

fn with_mode(url: &str, query: &str) -> String {
    let base = url.split_once('?').map_or(url, |(base, _)| base);
    format!("{base}?{query}")
}

#[tokio::test]
async fn verify_full_connects_over_tls_and_a_wrong_ca_is_refused() {
    let (Some(url), Some((ca, wrong))) = (common::server_url(), ca_files()) else {
        return;
    };
    for host_url in [url.replace("127.0.0.1", "localhost"), url.clone()] {
        let verified = with_mode(&host_url, &format!("sslmode=verify-full&sslrootcert={ca}"));
        let storage = PgStorage::connect(&verified)
            .await
            .unwrap_or_else(|e| panic!("{verified}: {e}: {:?}", std::error::Error::source(&e)));
        assert!(storage.uses_tls().await.unwrap(), "{verified}");
    }
    for mode in ["verify-full", "verify-ca"] {
        let refused = with_mode(&url, &format!("sslmode={mode}&sslrootcert={wrong}"));
        assert!(
            PgStorage::connect(&refused).await.is_err(),
            "{refused} must be refused"
        );
    }
    let require = PgStorage::connect(&with_mode(&url, "sslmode=require"))
        .await
        .unwrap();
    assert!(require.uses_tls().await.unwrap());
    let plain = PgStorage::connect(&with_mode(&url, "sslmode=disable"))
        .await
        .unwrap();
    assert!(!plain.uses_tls().await.unwrap());
}
