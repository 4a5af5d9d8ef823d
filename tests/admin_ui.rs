//! The admin web UI in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/run`) driven over WebDriver against the example server
//! with 300 demo users. One scenario walks through what an administrator does: sign in,
//! filter, search, sort, export, bulk delete, manage a role, create a user (seeing a validation
//! error first), edit the email, terminate a session, soft-delete and reactivate, impersonate
//! and come back, read the statistics, invite a user who accepts on the account page and
//! then resets their password there; then a user without `user.delete` signs in and sees no
//! delete button while the API still refuses. Screenshots of the main pages are kept under
//! `target/ui-screenshots/` (`.ci/run` lists them as the CI artifacts).
//!
//! Without `chromedriver` the test is skipped with a message, except in CI (`CI` set), where it
//! fails.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ROOT: (&str, &str) = ("root@example.com", "a long test password");
const NEW_USER: (&str, &str) = ("new.hire@example.com", "a long new password");
const NEW_EMAIL: &str = "renamed.hire@example.com";

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

/// Keeps a screenshot of the page as `name`, after checking that every visible form control on
/// it has a label (a `<label>` or an `aria-label`) and that no error is shown.
async fn screenshot(client: &Client, name: &str) {
    let unlabelled = client
        .execute(
            r#"return [...document.querySelectorAll("input, select, textarea")]
                .filter((e) => e.type !== "hidden" && e.offsetParent !== null)
                .filter((e) => e.labels.length === 0 && !e.getAttribute("aria-label"))
                .map((e) => e.outerHTML);"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "{name}: controls without a label");
    let errors = texts(client, "[role=alert]").await;
    assert!(
        errors.iter().all(String::is_empty),
        "{name}: errors shown: {errors:?}"
    );
    save_screenshot(client, name).await;
}

async fn save_screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.png")),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
}

/// How long a step waits for the page to reach the state it needs.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs `step` until it answers `Some`. Each attempt finds its element afresh, so an element
/// not there yet, not usable yet (hidden, behind the dialog) or replaced by a re-render since it
/// was found (stale) only means another attempt 100 ms later; `None` means the page is not in
/// the wanted state yet. Any other error, or still failing after `PATIENCE`, panics naming
/// `what` and the last error.
async fn retry<T>(what: &str, mut step: impl AsyncFnMut() -> Result<Option<T>, CmdError>) -> T {
    let started = Instant::now();
    loop {
        let last = match step().await {
            Ok(Some(done)) => return done,
            Ok(None) => "not in the wanted state yet".to_owned(),
            Err(CmdError::Standard(e))
                if matches!(
                    e.error,
                    ErrorStatus::StaleElementReference
                        | ErrorStatus::ElementNotInteractable
                        | ErrorStatus::ElementClickIntercepted
                        | ErrorStatus::NoSuchElement
                ) =>
            {
                format!("{}: {}", e.error, e.message)
            }
            Err(e) => panic!("{what}: {e}"),
        };
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: gave up after {PATIENCE:?}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `locator` finds an element.
async fn wait_until(client: &Client, locator: Locator<'_>) {
    retry(&format!("{locator:?}"), async || {
        client.find(locator).await.map(Some)
    })
    .await;
}

async fn wait_for(client: &Client, css: &str) {
    wait_until(client, Locator::Css(css)).await;
}

async fn wait_for_xpath(client: &Client, xpath: &str) {
    wait_until(client, Locator::XPath(xpath)).await;
}

/// The text of the element `locator` finds, once there is one.
async fn text_at(client: &Client, locator: Locator<'_>) -> String {
    retry(&format!("{locator:?}"), async || {
        Ok(Some(client.find(locator).await?.text().await?))
    })
    .await
}

/// Waits until the element with `id` has text containing `needle`; answers the text.
async fn wait_for_text(client: &Client, id: &str, needle: &str) -> String {
    let xpath = format!("//*[@id='{id}' and contains(normalize-space(.), '{needle}')]");
    text_at(client, Locator::XPath(&xpath)).await
}

/// Waits until the element with `id` has exactly the text `wanted`.
async fn wait_for_exact_text(client: &Client, id: &str, wanted: &str) {
    let xpath = format!("//*[@id='{id}' and normalize-space(.) = '{wanted}']");
    wait_for_xpath(client, &xpath).await;
}

async fn click(client: &Client, css: &str) {
    retry(css, async || {
        Ok(Some(client.find(Locator::Css(css)).await?.click().await?))
    })
    .await;
}

/// Types `text` into the input at `css` in place of its value, again until the value reads
/// back as typed (a re-render may have swallowed it). WebDriver keys such as Enter
/// (`\u{E007}`) are private-use characters that type nothing.
async fn fill(client: &Client, css: &str, text: &str) {
    let wanted: String = text
        .chars()
        .filter(|c| !('\u{E000}'..='\u{F8FF}').contains(c))
        .collect();
    retry(&format!("{css} = {wanted:?}"), async || {
        let input = client.find(Locator::Css(css)).await?;
        input.clear().await?;
        if !text.is_empty() {
            input.send_keys(text).await?;
        }
        let value = input.prop("value").await?;
        Ok((value.as_deref() == Some(wanted.as_str())).then_some(()))
    })
    .await;
}

/// Ticks the checkbox, or selects the `<option>`, at `css` unless it already is, again until
/// it reads back selected (a re-render may have swallowed the click).
async fn check(client: &Client, css: &str) {
    retry(css, async || {
        let element = client.find(Locator::Css(css)).await?;
        if !element.is_selected().await? {
            element.click().await?;
        }
        Ok(element.is_selected().await?.then_some(()))
    })
    .await;
}

/// Picks the option with `value` in the `<select>` at `css`.
async fn choose(client: &Client, css: &str, value: &str) {
    check(client, &format!("{css} option[value='{value}']")).await;
}

async fn text_of(client: &Client, css: &str) -> String {
    text_at(client, Locator::Css(css)).await
}

/// The attribute `name` of the element at `css`, once there is one.
async fn attr_of(client: &Client, css: &str, name: &str) -> Option<String> {
    retry(css, async || {
        let element = client.find(Locator::Css(css)).await?;
        Ok(Some(element.attr(name).await?))
    })
    .await
}

/// Whether the element at `css` is displayed, once there is one.
async fn shown(client: &Client, css: &str) -> bool {
    retry(css, async || {
        let element = client.find(Locator::Css(css)).await?;
        Ok(Some(element.is_displayed().await?))
    })
    .await
}

/// The text, or with `attr` that attribute, of every element `css` finds (none is fine); all
/// read again when the page replaces one of them meanwhile.
async fn read_all(client: &Client, css: &str, attr: Option<&str>) -> Vec<String> {
    retry(css, async || {
        let mut out = Vec::new();
        for element in client.find_all(Locator::Css(css)).await? {
            out.push(match attr {
                None => element.text().await?,
                Some(name) => element
                    .attr(name)
                    .await?
                    .unwrap_or_else(|| panic!("{css}: an element without {name}")),
            });
        }
        Ok(Some(out))
    })
    .await
}

/// The texts of every element `css` finds (none is fine).
async fn texts(client: &Client, css: &str) -> Vec<String> {
    read_all(client, css, None).await
}

/// The attribute `name` of every element `css` finds (none is fine).
async fn attrs(client: &Client, css: &str, name: &str) -> Vec<String> {
    read_all(client, css, Some(name)).await
}

/// The user rows' `column` cells, once the list has loaded.
async fn column(client: &Client, column: &str) -> Vec<String> {
    wait_for(client, "#rows[data-loads]").await;
    texts(client, &format!("#rows td[data-col='{column}']")).await
}

/// How many times the list has loaded so far (once it has loaded at all).
async fn list_loads(client: &Client) -> u64 {
    attr_of(client, "#rows[data-loads]", "data-loads")
        .await
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until the list has loaded again since it had loaded `before` times.
async fn wait_reloaded(client: &Client, before: u64) {
    let xpath = format!("//tbody[@id='rows' and number(@data-loads) > {before}]");
    wait_for_xpath(client, &xpath).await;
}

/// Clicks `css` and waits until the list has loaded again.
async fn click_and_reload(client: &Client, css: &str) {
    let before = list_loads(client).await;
    click(client, css).await;
    wait_reloaded(client, before).await;
}

/// The number the list's summary counts ("1,234 users" → 1234).
async fn counted(client: &Client) -> u64 {
    let summary = text_of(client, "#summary").await;
    summary
        .split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("{summary}"))
}

/// Calls the API from the page (same origin) with `token` (`null`: the signed-in session's);
/// answers status and JSON body.
async fn call_api(
    client: &Client,
    method: &str,
    path: &str,
    body: Value,
    token: Value,
) -> (u64, Value) {
    let script = r#"
        const [method, path, body, token, done] = arguments;
        const headers = { "content-type": "application/json" };
        headers.authorization = `Bearer ${token || sessionStorage.getItem("usermgmt-token")}`;
        fetch(document.body.dataset.api + path, {
            method, headers, body: body === null ? undefined : JSON.stringify(body),
        }).then(async (r) => done([r.status, await r.text()]));
    "#;
    let answer = client
        .execute_async(script, vec![json!(method), json!(path), body, token])
        .await
        .unwrap();
    let status = answer[0].as_u64().unwrap();
    let body = serde_json::from_str(answer[1].as_str().unwrap()).unwrap_or(Value::Null);
    (status, body)
}

async fn sign_in(client: &Client, (identifier, password): (&str, &str)) {
    fill(client, "#identifier", identifier).await;
    fill(client, "#password", password).await;
    click(client, "#sign-in-form button").await;
}

async fn apply_filters(client: &Client) {
    click_and_reload(client, "#filters button[type=submit]").await;
}

/// Sign-in, the list, every filter, filters by status and country, search, sorting, export,
/// and the admins sub-list.
async fn find_filter_sort_and_export(client: &Client, base: &str) {
    client.goto(&format!("{base}/users")).await.unwrap();
    sign_in(client, (ROOT.0, "not the password")).await;
    wait_for_xpath(
        client,
        "//p[@id='sign-in-error' and normalize-space(text()) != '']",
    )
    .await;
    sign_in(client, ROOT).await;
    assert_eq!(
        column(client, "status").await.len(),
        20,
        "a full first page"
    );
    let all = counted(client).await;
    assert!(all > 200, "{all}");
    screenshot(client, "users").await;

    // The filter panel offers every filter of SPEC §4.
    click(client, "#more-filters summary").await;
    // Every field of `UserFilters`, read from its serialisation.
    let names = match serde_json::to_value(usermgmt::filter::UserFilters::default()).unwrap() {
        Value::Object(fields) => fields.keys().cloned().collect::<Vec<_>>(),
        other => panic!("{other}"),
    };
    assert!(names.len() > 40, "{names:?}");
    for name in names {
        let ids = attrs(client, &format!("#filters [name='{name}']"), "id").await;
        assert_eq!(ids.len(), 1, "filter {name}");
        let labels = texts(client, &format!("label[for='{}']", ids[0])).await;
        assert_eq!(labels.len(), 1, "label of {name}");
    }
    screenshot(client, "users-all-filters").await;

    // Autocomplete: typing part of a city offers the matching cities.
    fill(client, "#f-city", "ber").await;
    // Spellings of one city are one value (shown in its smallest spelling).
    wait_for(client, "#dl-city option[value='berlin' i]").await;
    fill(client, "#f-city", "").await;

    // A panel filter: learners with enrollments (the learning database is wired).
    choose(client, "#f-has_enrollments", "true").await;
    apply_filters(client).await;
    wait_for_text(client, "active-filters", "1 set").await;
    assert!(text_of(client, "#skipped").await.is_empty());
    let enrolled = counted(client).await;
    assert!(enrolled > 0 && enrolled < all, "{enrolled} of {all}");
    click_and_reload(client, "#clear-filters").await;
    wait_for_exact_text(client, "summary", &format!("{all} users")).await;

    // Filter by status: every row shown has it.
    choose(client, "#f-status", "suspended").await;
    apply_filters(client).await;
    wait_for(client, "#rows tr[data-status='suspended']").await;
    let statuses = column(client, "status").await;
    assert!(statuses.iter().all(|s| s == "suspended"), "{statuses:?}");
    screenshot(client, "users-suspended").await;

    // Export: the CSV of the current filters holds exactly the users the list counts.
    let suspended = counted(client).await;
    click(client, "#export").await;
    let status = wait_for_text(client, "list-status", "Exported").await;
    assert_eq!(status, format!("Exported {suspended} users to users.csv"));

    // Filter by country as well: the address keeps the filters.
    let countries = column(client, "country").await;
    let country = countries.iter().find(|c| !c.is_empty()).unwrap().clone();
    fill(client, "#f-country", &country).await;
    apply_filters(client).await;
    let shown = column(client, "country").await;
    assert!(
        !shown.is_empty() && shown.iter().all(|c| *c == country),
        "{country}: {shown:?}"
    );
    assert!(counted(client).await <= suspended);
    let url = client.current_url().await.unwrap();
    assert!(
        url.query().unwrap_or_default().contains("status=suspended"),
        "{url}"
    );
    click_and_reload(client, "#clear-filters").await;

    // Search by an email: exactly that user.
    let emails = column(client, "email").await;
    let email = emails.iter().find(|e| !e.is_empty()).unwrap().clone();
    // From the keyboard: Enter in the search box applies the filters.
    let before = list_loads(client).await;
    fill(client, "#f-search", &format!("{email}\u{E007}")).await;
    wait_reloaded(client, before).await;
    wait_for_exact_text(client, "summary", "1 user").await;
    assert_eq!(column(client, "email").await, vec![email]);
    click_and_reload(client, "#clear-filters").await;

    // Sorting by a column header: registration dates ascending, then flipped.
    for expected in ["ascending", "descending"] {
        click_and_reload(client, "th[data-sort='created_at'] button").await;
        wait_for(
            client,
            &format!("th[data-sort='created_at'][aria-sort='{expected}']"),
        )
        .await;
        let dates = column(client, "created_at").await;
        let mut sorted = dates.clone();
        sorted.sort();
        if expected == "descending" {
            sorted.reverse();
        }
        assert!(dates.len() > 1 && dates == sorted, "{expected}: {dates:?}");
    }

    // The admins list shows only admins (the session carries over).
    client.goto(&format!("{base}/users/admins")).await.unwrap();
    assert_eq!(text_of(client, "#users-title").await, "Admins");
    let types = column(client, "type").await;
    assert!(types.iter().all(|t| t.contains("admin")), "{types:?}");
    screenshot(client, "admins").await;
}

/// Bulk delete behind the confirmation: two selected learners, then every suspended learner.
async fn bulk_delete_a_selection(client: &Client, base: &str) {
    client
        .goto(&format!("{base}/users/learners"))
        .await
        .unwrap();
    let before = {
        column(client, "status").await;
        counted(client).await
    };
    check(client, "#rows tr:nth-child(2) .select-user").await;
    check(client, "#rows tr:nth-child(3) .select-user").await;
    wait_for_text(client, "bulk-delete", "Delete selected (2)").await;
    click(client, "#bulk-delete").await;
    wait_for(client, "dialog[open]").await;
    screenshot(client, "bulk-delete-confirmation").await;
    // Cancelling changes nothing.
    click(client, "#confirm-cancel").await;
    assert_eq!(counted(client).await, before);
    click(client, "#bulk-delete").await;
    click(client, "#confirm-ok").await;
    wait_for_text(client, "list-status", "Deleted 2 users").await;
    wait_for_exact_text(client, "summary", &format!("{} users", before - 2)).await;

    // Paging through the list (by keyset cursor, keeping the total): page 2 holds what offset
    // paging gives for page 2.
    let total = counted(client).await;
    click_and_reload(client, "#next").await;
    wait_for_text(client, "page-label", "Page 2 of").await;
    let shown = attrs(client, "#rows tr", "data-id").await;
    let (_, page) = call_api(
        client,
        "GET",
        "/v1/users?is_learner=true&sort_by=created_at&sort_order=desc&page=2&page_size=20",
        Value::Null,
        Value::Null,
    )
    .await;
    let expected: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown, expected);
    assert_eq!(counted(client).await, total);
    click_and_reload(client, "#prev").await;
    wait_for_text(client, "page-label", "Page 1 of").await;
    assert_eq!(counted(client).await, total);

    // No selection but filters: every matching user (the list's flag, a multi-valued and a
    // numeric filter from the panel) goes, after the confirmation names how many.
    click(client, "#more-filters summary").await;
    choose(client, "#f-statuses", "suspended").await;
    fill(client, "#f-failed_login_attempts_min", "0").await;
    apply_filters(client).await;
    wait_for(client, "#rows tr[data-status='suspended']").await;
    let matching = counted(client).await;
    assert!(
        column(client, "status")
            .await
            .iter()
            .all(|s| s == "suspended")
    );
    let label = wait_for_text(client, "bulk-delete", "Delete all matching").await;
    assert_eq!(label, format!("Delete all matching ({matching})"));
    click(client, "#bulk-delete").await;
    wait_for_text(
        client,
        "confirm-title",
        &format!("Delete {matching} users?"),
    )
    .await;
    click(client, "#confirm-ok").await;
    wait_for_text(client, "list-status", &format!("Deleted {matching} users")).await;
    wait_for_exact_text(client, "summary", "0 users").await;
    click_and_reload(client, "#clear-filters").await;
}

/// Roles & Permissions: a support role that may list and view users and see courses (a
/// permission the example server registers as its host application's), nothing more; then its
/// description edited.
async fn create_a_role(client: &Client, base: &str) {
    client.goto(&format!("{base}/users/roles")).await.unwrap();
    wait_for(client, "#role-table tr[data-role='super_admin']").await;
    fill(client, "#role-name", "support_desk").await;
    fill(client, "#role-description", "Reads user records").await;
    check(client, "#role-permission-user-list").await;
    check(client, "#role-permission-user-view").await;
    check(client, "#role-permission-course-view").await;
    click(client, "#role-form button[type=submit]").await;
    wait_for(client, "#role-table tr[data-role='support_desk']").await;
    let permissions = texts(client, "tr[data-role='support_desk'] li").await;
    assert_eq!(permissions, ["course.view", "user.list", "user.view"]);
    click(client, "tr[data-role='support_desk'] button").await;
    // The form is rebuilt for the role once the roles have loaded again: fill that one, not the
    // new-role form it replaces.
    wait_for_text(client, "role-form", "Edit role support_desk").await;
    fill(
        client,
        "#role-description",
        "Reads user records, nothing else",
    )
    .await;
    click(client, "#role-form button[type=submit]").await;
    wait_for_xpath(
        client,
        "//tr[@data-role='support_desk']/td[text()='Reads user records, nothing else']",
    )
    .await;
    screenshot(client, "roles").await;
}

/// Create user: a validation error first, then the user; answers the new user's page URL.
async fn create_a_user(client: &Client, base: &str) -> String {
    client.goto(&format!("{base}/users/create")).await.unwrap();
    click(client, "#create-form button[type=submit]").await;
    // Every field error at once, each beside its field.
    let error = text_of(client, "#create-form-email-error").await;
    assert!(error.contains("email or a phone is required"), "{error}");
    let error = text_of(client, "#create-form-name-error").await;
    assert!(error.contains("is required"), "{error}");
    let invalid = attr_of(client, "#create-form-email", "aria-invalid").await;
    assert_eq!(invalid.as_deref(), Some("true"));
    save_screenshot(client, "create-user-error").await;

    fill(client, "#create-form-name", "New Hire").await;
    fill(client, "#create-form-email", NEW_USER.0).await;
    fill(client, "#create-form-password", NEW_USER.1).await;
    check(client, "#create-form-flags-is_instructor").await;
    check(client, "#create-form-roles-support_desk").await;
    // A host permission granted directly, offered from the whole catalog.
    check(client, "#create-form-permissions-grade-edit").await;
    fill(client, "#create-form-city", "Berlin").await;
    click(client, "#create-form button[type=submit]").await;
    wait_for_text(client, "edit-panel", "User created.").await;
    assert_eq!(text_of(client, "#edit-title").await, "New Hire");
    let roles = text_of(client, "dd[data-field='Roles']").await;
    assert_eq!(roles, "support_desk");
    let direct = text_of(client, "dd[data-field='Direct permissions']").await;
    assert_eq!(direct, "grade.edit");
    screenshot(client, "user-overview").await;
    let url = client.current_url().await.unwrap();
    url.as_str()
        .split("/edit/")
        .next()
        .unwrap()
        .to_owned()
        .replace(base, "")
}

/// Edit user: a direct email change.
async fn edit_the_email(client: &Client) {
    click(client, "a[data-tab='edit-user']").await;
    fill(client, "#edit-form-email", NEW_EMAIL).await;
    screenshot(client, "user-edit").await;
    click(client, "#edit-form button[type=submit]").await;
    wait_for_text(client, "edit-panel", "Saved.").await;
    wait_for_text(client, "edit-subtitle", NEW_EMAIL).await;
}

/// Unique ID generation: a chosen value, then one generated from the pattern.
async fn set_and_generate_the_unique_id(client: &Client) {
    click(client, "a[data-tab='unique-id-generation']").await;
    fill(client, "#unique-id-value", "NH-0001").await;
    click(client, "#unique-id-form button[type=submit]").await;
    wait_for_text(client, "edit-panel", "Current unique ID: NH-0001").await;
    click(client, "#generate-unique-id").await;
    wait_for_text(client, "edit-panel", "Unique ID saved.").await;
    let generated = text_at(
        client,
        Locator::XPath("//p[starts-with(., 'Current unique ID:') and not(contains(., 'NH-0001'))]"),
    )
    .await;
    assert!(!generated.ends_with("none"), "{generated}");
}

/// Sessions: the user signs in elsewhere; the administrator ends that session.
async fn terminate_a_session(client: &Client) {
    let (status, _) = call_api(
        client,
        "POST",
        "/v1/auth/login",
        json!({ "identifier": NEW_EMAIL, "password": NEW_USER.1 }),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    click(client, "a[data-tab='users-sessions']").await;
    wait_for(client, "#session-table tr[data-state='active']").await;
    screenshot(client, "user-sessions").await;
    click(client, ".terminate-session").await;
    wait_for_text(client, "edit-panel", "Session terminated.").await;
    // The list shows active sessions only: the ended one is gone.
    assert!(texts(client, "#session-table tbody tr").await.is_empty());
}

/// Account deletion: soft-delete behind the confirmation, then reactivate.
async fn soft_delete_and_reactivate(client: &Client) {
    click(client, "a[data-tab='account-deletation']").await;
    click(client, "#delete-user").await;
    click(client, "#confirm-ok").await;
    wait_for(client, "#reactivate").await;
    wait_for_text(client, "edit-subtitle", "deleted").await;
    click(client, "#reactivate").await;
    wait_for(client, "#delete-user").await;
    wait_for_text(client, "edit-subtitle", "active").await;

    // The audit log records all of it.
    click(client, "a[data-tab='audit-logs-admin-notes']").await;
    wait_for(client, "#audit-table tbody tr").await;
    let actions = texts(client, "#audit-table tbody td:nth-child(3)").await;
    for action in [
        "user.created",
        "user.credentials_changed",
        "user.deleted",
        "session.terminated",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    fill(client, "#note-body", "Verified by phone").await;
    click(client, "#note-form button").await;
    wait_for_xpath(client, "//li[@class='note']/p[text()='Verified by phone']").await;
    screenshot(client, "user-audit").await;
}

/// Impersonation: the administrator acts as the user read-only, then comes back.
async fn impersonate_and_return(client: &Client) {
    click(client, "a[data-tab='impersonation']").await;
    fill(
        client,
        "#impersonate-reason",
        "Ticket 4711: checking what they see",
    )
    .await;
    click(client, "#impersonate-form button[type=submit]").await;
    let banner = wait_for_text(client, "impersonation-text", "acting as").await;
    assert_eq!(banner, "You are acting as New Hire (read-only).");
    wait_for_text(client, "whoami", "New Hire").await;
    column(client, "status").await;
    click(client, "#stop-impersonation").await;
    wait_for_text(client, "whoami", "Administrator").await;
    assert!(!shown(client, "#impersonation-banner").await);
}

async fn statistics(client: &Client, base: &str) {
    client.goto(&format!("{base}/users/stats")).await.unwrap();
    wait_for(client, "#growth-chart rect.bar").await;
    wait_for(client, "#overview table").await;
    screenshot(client, "stats").await;
}

/// Webhooks: an endpoint is created (its secret shown once), a change it wants queues a
/// delivery that the endpoint's history lists, and the delivery can be sent again.
async fn webhooks(client: &Client, base: &str) {
    const URL: &str = "https://hooks.example.com/usermgmt";
    client
        .goto(&format!("{base}/users/webhooks"))
        .await
        .unwrap();
    wait_for(client, "#webhook-form").await;
    fill(client, "#webhook-url", URL).await;
    check(client, "#webhook-kind-user-created").await;
    click(client, "#webhook-form button[type=submit]").await;
    let note = wait_for_text(client, "webhooks-body", "shown this once").await;
    assert!(note.contains("whsec_"), "{note}");
    let row = format!("#webhook-table tr[data-webhook='{URL}']");
    wait_for(client, &row).await;
    let user =
        json!({ "name": "Hook Target", "email": "hook.target@example.com", "is_learner": true });
    let (status, _) = call_api(client, "POST", "/v1/users", user, Value::Null).await;
    assert_eq!(status, 201);
    // The example server's dispatcher fans the creation out within a second or so.
    retry("a delivery in the history", async || {
        client
            .find(Locator::Css(&format!("{row} button")))
            .await?
            .click()
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(client
            .find(Locator::Css("#delivery-table tbody tr"))
            .await
            .ok())
    })
    .await;
    assert!(
        text_of(client, "#delivery-table tbody tr")
            .await
            .contains("user.created")
    );
    click(client, "#delivery-table tbody tr button").await;
    wait_for_text(client, "webhooks-body", "queued again").await;
    screenshot(client, "webhooks").await;
}

/// A user holding only user.list and user.view: no delete, create or export controls, and the
/// API refuses the delete anyway.
async fn limited_user_sees_no_delete(client: &Client, base: &str, user_page: &str) {
    click(client, "#sign-out").await;
    // The new page (the old one kept a hidden sign-in form too).
    wait_for(client, "#sign-in:not([hidden]) #sign-in-form").await;
    sign_in(client, (NEW_EMAIL, NEW_USER.1)).await;
    assert_eq!(column(client, "status").await.len(), 20);
    assert!(texts(client, ".delete-user").await.is_empty());
    for hidden in [
        "#bulk-delete",
        "#export",
        "a[data-page='create']",
        "a[data-page='roles']",
    ] {
        assert!(!shown(client, hidden).await, "{hidden} shown");
    }
    screenshot(client, "users-without-delete").await;
    let victim = attr_of(client, "#rows tr", "data-id").await.unwrap();
    let (status, body) = call_api(
        client,
        "DELETE",
        &format!("/v1/users/{victim}"),
        Value::Null,
        Value::Null,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The user's own page offers only the tabs their permissions allow.
    client
        .goto(&format!("{base}{user_page}/edit/account-deletation"))
        .await
        .unwrap();
    wait_for(client, "a[data-tab='overview'][aria-current='page']").await;
    let tabs = texts(client, "#edit-tabs a").await;
    assert_eq!(tabs, ["Overview", "Sessions", "Audit logs & admin notes"]);
}

/// The newest account message's link for `to`, from the example server's development
/// notifier (`GET /dev/messages`).
async fn newest_link(client: &Client, to: &str) -> String {
    for _ in 0..100 {
        let (status, messages) =
            call_api(client, "GET", "/dev/messages", Value::Null, Value::Null).await;
        assert_eq!(status, 200, "{messages}");
        let link = messages
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["to"].as_str().unwrap_or_default().contains(to))
            .and_then(|m| m["link"].as_str().map(str::to_owned));
        if let Some(link) = link {
            return link;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message for {to}");
}

/// Sets a password on an account page opened from a message's link.
async fn choose_password(client: &Client, link: &str, password: &str, done: &str) {
    client.goto(link).await.unwrap();
    wait_for(client, "#password-form:not([hidden])").await;
    let address = client.current_url().await.unwrap();
    assert!(
        address.query().is_none(),
        "the token left the address bar: {address}"
    );
    fill(client, "#new-password", password).await;
    fill(client, "#repeat-password", "not the same").await;
    click(client, "#password-submit").await;
    wait_for_text(client, "account-error", "differ").await;
    fill(client, "#repeat-password", password).await;
    click(client, "#password-submit").await;
    wait_for_text(client, "account-result", done).await;
}

/// An invitation from Create user, accepted on its page; then a password reset sent from the
/// user's page and completed on its page; the user signs in with the final password.
async fn invite_and_reset(client: &Client, base: &str) {
    const INVITED: &str = "invited.person@example.com";
    client.goto(&format!("{base}/users/create")).await.unwrap();
    wait_for(client, "#create-form-name").await;
    fill(client, "#create-form-name", "Invited Person").await;
    fill(client, "#create-form-email", INVITED).await;
    check(client, "#create-form-invite").await;
    click(client, "#create-form button[type=submit]").await;
    wait_for_text(client, "edit-panel", "User created.").await;
    assert!(shown(client, "#resend-verification").await);
    let user_page = client.current_url().await.unwrap();
    let user_page = user_page.as_str().split('?').next().unwrap().to_owned();

    let link = newest_link(client, INVITED).await;
    assert!(
        link.starts_with(&format!("{base}/account/accept-invitation?token=")),
        "{link}"
    );
    choose_password(client, &link, "my invited password", "Your password is set").await;
    screenshot(client, "account-accept-invitation").await;

    client.goto(&user_page).await.unwrap();
    wait_for(client, "#send-password-reset").await;
    assert!(
        texts(client, "#send-invitation").await.is_empty(),
        "has a password now"
    );
    click(client, "#send-password-reset").await;
    wait_for_text(client, "edit-panel", "Password reset link sent.").await;
    let link = newest_link(client, INVITED).await;
    assert!(link.contains("/account/reset-password?token="), "{link}");
    choose_password(client, &link, "my reset password", "password was changed").await;

    let login = json!({ "identifier": INVITED, "password": "my reset password" });
    let (status, body) = call_api(client, "POST", "/v1/auth/login", login, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email_verified"], json!(true), "{body}");
}

/// The list at a phone's width.
async fn phone_width(client: &Client, base: &str) {
    client.set_window_size(390, 844).await.unwrap();
    client.goto(&format!("{base}/users")).await.unwrap();
    column(client, "status").await;
    screenshot(client, "users-phone").await;
    client.set_window_size(1280, 800).await.unwrap();
}

#[tokio::test]
async fn an_administrator_works_through_the_admin_ui_in_a_browser() {
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

    find_filter_sort_and_export(&client, &base).await;
    bulk_delete_a_selection(&client, &base).await;
    create_a_role(&client, &base).await;
    let user_page = create_a_user(&client, &base).await;
    edit_the_email(&client).await;
    set_and_generate_the_unique_id(&client).await;
    terminate_a_session(&client).await;
    soft_delete_and_reactivate(&client).await;
    impersonate_and_return(&client).await;
    statistics(&client, &base).await;
    webhooks(&client, &base).await;
    invite_and_reset(&client, &base).await;
    phone_width(&client, &base).await;
    limited_user_sees_no_delete(&client, &base, &user_page).await;
    client.close().await.unwrap();
}
