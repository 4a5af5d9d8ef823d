//! The admin web UI in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/run`) driven over WebDriver against the example server.
//! Screenshots of the pages are kept under `target/ui-screenshots/`.
//!
//! Without `chromedriver` the test is skipped with a message, except in CI (`CI` set), where it
//! fails.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

async fn browser(driver_port: u16) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,800"
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session")
}

async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.png")),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
}

/// The element `search` finds, once it appears (within 10 s).
async fn wait_for(client: &Client, search: Locator<'_>) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(search)
        .await
        .unwrap()
}

/// The `data-status` of every row of the user table, once the table has rows.
async fn row_statuses(client: &Client) -> Vec<String> {
    wait_for(client, Locator::Css("#rows tr")).await;
    let mut out = Vec::new();
    for row in client.find_all(Locator::Css("#rows tr")).await.unwrap() {
        out.push(row.attr("data-status").await.unwrap().unwrap_or_default());
    }
    out
}

#[tokio::test]
async fn sign_in_and_filter_the_user_list_in_a_browser() {
    if !std::path::Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMEDRIVER} missing in CI: .ci/run installs chromium-driver"
        );
        eprintln!(
            "skipped: {CHROMEDRIVER} not installed (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = support::start_example_server(dir.path()).await;
    let driver_port = support::free_port();
    let _driver = support::Process(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    support::wait_for_port(driver_port, "chromedriver").await;
    let client = browser(driver_port).await;
    let base = format!("http://127.0.0.1:{port}/admin");

    // A wrong password is refused on the page; the right one shows the list with its total.
    client.goto(&format!("{base}/users")).await.unwrap();
    let identifier = wait_for(&client, Locator::Id("identifier")).await;
    identifier.send_keys("root@example.com").await.unwrap();
    let password = client.find(Locator::Id("password")).await.unwrap();
    password.send_keys("not the password").await.unwrap();
    client
        .find(Locator::Css("#sign-in-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        Locator::XPath("//p[@id='sign-in-error' and normalize-space(text()) != '']"),
    )
    .await;
    password.clear().await.unwrap();
    password.send_keys("a long test password").await.unwrap();
    client
        .find(Locator::Css("#sign-in-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let statuses = row_statuses(&client).await;
    assert_eq!(statuses.len(), 20, "a full first page");
    let summary = client
        .find(Locator::Id("summary"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(summary.ends_with("users"), "{summary}");
    screenshot(&client, "users").await;

    // Filter by status: every row shown has it.
    client
        .find(Locator::Id("f-status"))
        .await
        .unwrap()
        .select_by_value("suspended")
        .await
        .unwrap();
    client
        .find(Locator::Css("#filters button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&client, Locator::Css("#rows tr[data-status='suspended']")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let statuses = row_statuses(&client).await;
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| s == "suspended"),
        "{statuses:?}"
    );
    screenshot(&client, "users-suspended").await;

    // Export: the CSV of the current filters holds exactly the users the list counts.
    let summary = client
        .find(Locator::Id("summary"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = summary.trim_end_matches(" users").replace(',', "");
    client
        .find(Locator::Id("export"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let status = wait_for(
        &client,
        Locator::XPath(
            "//span[@id='export-status' and starts-with(normalize-space(text()), 'Exported')]",
        ),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(
        status,
        format!("Exported {counted} users to users.csv"),
        "{summary}"
    );

    // Sorting by a column header: registration dates ascending, then flipped.
    let registered = client
        .find(Locator::Css("th[data-sort='created_at'] button"))
        .await
        .unwrap();
    for expected in ["ascending", "descending"] {
        registered.click().await.unwrap();
        wait_for(
            &client,
            Locator::Css(&format!(
                "th[data-sort='created_at'][aria-sort='{expected}']"
            )),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut dates = Vec::new();
        for cell in client
            .find_all(Locator::Css("#rows tr td:nth-child(8)"))
            .await
            .unwrap()
        {
            dates.push(cell.text().await.unwrap());
        }
        let mut sorted = dates.clone();
        sorted.sort();
        if expected == "descending" {
            sorted.reverse();
        }
        assert!(dates.len() > 1 && dates == sorted, "{expected}: {dates:?}");
    }

    // The admins list shows only admins (the session carries over).
    client.goto(&format!("{base}/users/admins")).await.unwrap();
    wait_for(&client, Locator::Css("#rows tr")).await;
    let title = client
        .find(Locator::Id("users-title"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(title, "Admins");
    for row in client
        .find_all(Locator::Css("#rows tr td:nth-child(5)"))
        .await
        .unwrap()
    {
        let types = row.text().await.unwrap();
        assert!(types.contains("admin"), "{types}");
    }
    screenshot(&client, "admins").await;
    client.close().await.unwrap();
}
