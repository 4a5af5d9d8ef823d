//! Starts the example server binary (built by `cargo test` with the examples) on a free port
//! over a fresh SQLite file and talks HTTP to it over TCP: log in, list with filters, create.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 exchange; answers the status and the JSON body.
async fn call(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()))
    };
    (status, body)
}

#[tokio::test]
async fn example_server_answers_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = support::start_example_server(dir.path()).await;

    let login = json!({ "identifier": "root@example.com", "password": "a long test password" });
    let (status, body) = call(port, "POST", "/v1/auth/login", None, Some(login)).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();

    let uri = "/v1/users?statuses=active&page_size=5";
    let (status, page) = call(port, "GET", uri, Some(&token), None).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page["total"].as_u64().unwrap() > 5,
        "demo users present: {page}"
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 5);

    // The demo's learning database is the enrollment source: its filters apply.
    let uri = "/v1/users?has_enrollments=true&progress_min=50&page_size=1";
    let (status, enrolled) = call(port, "GET", uri, Some(&token), None).await;
    assert_eq!(status, 200, "{enrolled}");
    assert_eq!(enrolled["skipped_filters"], json!([]), "{enrolled}");
    let total = enrolled["total"].as_u64().unwrap();
    assert!(total > 0 && total < 300, "{enrolled}");

    // Some demo users have sessions, with client details.
    let uri = "/v1/users?status=active&is_admin=false&page_size=50";
    let (_, active) = call(port, "GET", uri, Some(&token), None).await;
    let mut with_sessions = 0;
    for user in active["items"].as_array().unwrap() {
        let uri = format!("/v1/users/{}/sessions", user["id"].as_str().unwrap());
        let (status, sessions) = call(port, "GET", &uri, Some(&token), None).await;
        assert_eq!(status, 200, "{sessions}");
        if let Some(first) = sessions.as_array().unwrap().first() {
            assert!(first["user_agent"].is_string(), "{first}");
            with_sessions += 1;
        }
    }
    assert!(with_sessions > 0, "no demo sessions among {active}");

    let (status, doc) = call(port, "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/v1/users"]["get"].is_object(), "{doc}");

    let new = json!({ "name": "Tcp Tester", "email": "tcp@example.com", "is_learner": true });
    let (status, body) = call(port, "POST", "/v1/users", Some(&token), Some(new)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(port, "GET", "/v1/users", None, None).await;
    assert_eq!(status, 401, "{body}");
    // Unknown paths answer the JSON error model.
    let (status, body) = call(port, "GET", "/v1/no-such-route", None, None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found", "{body}");

    // The session records the client's address.
    let me = body_of(call(port, "GET", "/v1/auth/me", Some(&token), None).await);
    let uri = format!("/v1/users/{}/sessions", me["id"].as_str().unwrap());
    let sessions = body_of(call(port, "GET", &uri, Some(&token), None).await);
    assert_eq!(sessions[0]["ip"], "127.0.0.1", "{sessions}");

    // It listened on USERMGMT_BIND, showed the demo's progress, and never printed a password
    // that came from the environment.
    let printed = std::fs::read_to_string(dir.path().join("stdout.log")).unwrap();
    assert!(printed.contains("demo users: 300/300"), "{printed}");
    assert!(!printed.contains("a long test password"), "{printed}");
}

fn body_of((status, body): (u16, Value)) -> Value {
    assert_eq!(status, 200, "{body}");
    body
}

/// Where the SMTP test's server listens (`smtp://…`) and keeps what it receives (a maildir):
/// `.ci/run` starts Debian's aiosmtpd for it. `None` outside CI when not set (skipped).
fn smtp_server() -> Option<(String, std::path::PathBuf)> {
    match (
        std::env::var("USERMGMT_TEST_SMTP_URL"),
        std::env::var("USERMGMT_TEST_MAILDIR"),
    ) {
        (Ok(url), Ok(dir)) => Some((url, dir.into())),
        _ if std::env::var_os("CI").is_some() => {
            panic!("USERMGMT_TEST_SMTP_URL and USERMGMT_TEST_MAILDIR must be set in CI")
        }
        _ => {
            eprintln!("skipped: USERMGMT_TEST_SMTP_URL is not set (no SMTP server)");
            None
        }
    }
}

/// The plain-text body of the message to `to` in the maildir, waiting up to 20 seconds.
async fn received_by(maildir: &std::path::Path, to: &str) -> String {
    for _ in 0..200 {
        for entry in std::fs::read_dir(maildir.join("new")).into_iter().flatten() {
            let raw = std::fs::read(entry.unwrap().path()).unwrap();
            let mail = mailparse::parse_mail(&raw).unwrap();
            let addressed = mail
                .headers
                .iter()
                .any(|h| h.get_key().eq_ignore_ascii_case("to") && h.get_value().contains(to));
            if !addressed {
                continue;
            }
            let text = mail
                .subparts
                .iter()
                .find(|part| part.ctype.mimetype == "text/plain")
                .expect("a plain-text part");
            assert!(
                mail.subparts
                    .iter()
                    .any(|part| part.ctype.mimetype == "text/html"),
                "an HTML part"
            );
            return text.get_body().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no message to {to} arrived in {}", maildir.display());
}

/// The example server with `USERMGMT_SMTP_URL` sends an invitation through a real SMTP server;
/// the message's link opens the account page and its token sets a password; the user signs in.
#[tokio::test]
async fn an_invitation_arrives_by_smtp_and_its_link_sets_a_password() {
    let Some((smtp_url, maildir)) = smtp_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = [("USERMGMT_SMTP_URL", smtp_url)];
    let (_server, port) = support::start_example_server_with(dir.path(), &[], &env).await;
    let login = json!({ "identifier": "root@example.com", "password": "a long test password" });
    let admin = body_of(call(port, "POST", "/v1/auth/login", None, Some(login)).await);
    let admin = admin["token"].as_str().unwrap().to_owned();

    let address = format!("invited-{port}-{}@example.com", std::process::id());
    let invited =
        json!({ "name": "Ines Invited", "email": address, "invite": true, "is_learner": true });
    let (status, body) = call(port, "POST", "/v1/users", Some(&admin), Some(invited)).await;
    assert_eq!(status, 201, "{body}");

    let text = received_by(&maildir, &address).await;
    assert!(text.contains("Hello Ines Invited"), "{text}");
    let link = text
        .split_whitespace()
        .find(|word| word.contains("/account/accept-invitation?token="))
        .unwrap_or_else(|| panic!("no link in {text}"));
    let prefix = format!("http://127.0.0.1:{port}/admin/account/accept-invitation?token=");
    assert!(link.starts_with(&prefix), "{link}");
    let token = &link[prefix.len()..];
    assert_eq!(token.len(), 43, "{link}");

    // Following the link opens the page; what its form sends sets the password.
    let path = &link[format!("http://127.0.0.1:{port}").len()..];
    let (status, page) = call(port, "GET", path, None, None).await;
    assert_eq!(status, 200, "{page}");
    let accept = json!({ "token": token, "password": "my own good password" });
    let (status, body) = call(
        port,
        "POST",
        "/v1/auth/invitation/accept",
        None,
        Some(accept),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let login = json!({ "identifier": address, "password": "my own good password" });
    let me = body_of(call(port, "POST", "/v1/auth/login", None, Some(login)).await);
    assert_eq!(me["user"]["email_verified"], json!(true), "{me}");
    assert_eq!(me["user"]["status"], json!("active"), "{me}");
}
