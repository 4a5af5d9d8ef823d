//! The admin web UI (feature `admin-ui`): plain HTML, CSS and JavaScript embedded in the
//! binary (no build step, no network), talking only to the API's routes: sign-in, the user
//! lists with every filter, bulk delete and export, Create user, the seven-tab edit page,
//! Roles & Permissions and a statistics dashboard; and the public account pages account
//! messages link to (accept an invitation, reset a password, verify an address). Each page is
//! one ES module under `assets/`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use usermgmt_core::model::{
    AuditAction, AuthMethod, Continent, EnrollmentStatus, Gender, OAuthProvider, Status,
};

const INDEX: &str = include_str!("assets/index.html");
const ACCOUNT: &str = include_str!("assets/account.html");

/// An embedded asset: its file name under `assets/`, content type and text.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        (
            $name,
            $content_type,
            include_str!(concat!("assets/", $name)),
        )
    };
}

/// The embedded assets, by file name: content type and text.
const ASSETS: &[(&str, &str, &str)] = &[
    asset!("app.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("filters.js", JS),
    asset!("list.js", JS),
    asset!("user-form.js", JS),
    asset!("create.js", JS),
    asset!("edit.js", JS),
    asset!("user-page.js", JS),
    asset!("user-activity.js", JS),
    asset!("roles.js", JS),
    asset!("stats.js", JS),
    asset!("webhooks.js", JS),
    asset!("account.js", JS),
];
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Pages directly under `…/users/`: the sub-lists, Create user, Roles & Permissions and the
/// statistics dashboard.
const USER_PAGES: &[&str] = &[
    "learners",
    "admins",
    "instructors",
    "create",
    "roles",
    "stats",
    "webhooks",
];

/// The public account pages (`…/account/{page}`) that account messages link to: no session
/// needed, the token is in the link (SPEC §10).
const ACCOUNT_PAGES: &[&str] = &["accept-invitation", "reset-password", "verify"];

/// The tabs of the edit page (`…/users/{id}/edit/{tab}`), with the seed's path names.
const EDIT_TABS: &[&str] = &[
    "overview",
    "edit-user",
    "users-sessions",
    "impersonation",
    "audit-logs-admin-notes",
    "unique-id-generation",
    "account-deletation",
];

/// The fixed value lists of the filters and forms, from core's own types, as JSON for the page
/// (so the UI needs no request for them, and they cannot drift from the API's).
fn vocabulary() -> String {
    let json = serde_json::json!({
        "statuses": Status::ALL,
        "auth_methods": AuthMethod::ALL,
        "oauth_providers": OAuthProvider::ALL,
        "genders": Gender::ALL,
        "continents": Continent::ALL,
        "enrollment_statuses": EnrollmentStatus::ALL,
        "event_kinds": AuditAction::ALL,
    });
    // Inside `<script>`: no `<` may appear (none does in these values; escaped regardless).
    json.to_string().replace('<', "\\u003c")
}

/// Keeps the characters a URL path prefix needs; anything else (quotes, markup) is dropped,
/// so a prefix can never break out of the page's attributes.
fn path_prefix(raw: &str) -> String {
    raw.trim_end_matches('/')
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
        .collect()
}

/// The UI's routes, to merge into the app that serves the API: pages under `ui_base` (e.g.
/// `/admin`: `/admin/users`, `/admin/users/learners`, `/admin/users/create`,
/// `/admin/users/{id}/edit/overview`, `/admin/users/roles`, `/admin/users/stats`, …) calling
/// the API at `api_base` (`""` when the API is at the root, `/admin` when it is nested there).
/// Unknown pages and assets are 404.
pub fn admin_ui(api_base: &str, ui_base: &str) -> Router {
    let api = path_prefix(api_base);
    let ui = path_prefix(ui_base);
    // Built once; every request shares it.
    let page = Bytes::from(
        INDEX
            .replace("{{API_BASE}}", &api)
            .replace("{{UI_BASE}}", &ui)
            .replace("{{VOCABULARY}}", &vocabulary()),
    );
    // The page where the path names a known page, 404 elsewhere.
    let serve = move |known: bool| {
        let page = page.clone();
        async move {
            if known {
                Html(page).into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
    };
    let index = {
        let serve = serve.clone();
        move || serve(true)
    };
    let users_home = format!("{ui}/users");
    let home = get(move || {
        let to = users_home.clone();
        async move { Redirect::to(&to) }
    });
    let mut router = Router::new().route(&format!("{ui}/"), home.clone());
    if !ui.is_empty() {
        // `/admin` as well as `/admin/`.
        router = router.route(&ui, home);
    }
    let sub_page = {
        let serve = serve.clone();
        move |Path(name): Path<String>| serve(USER_PAGES.contains(&name.as_str()))
    };
    let edit_tab =
        move |Path((_, tab)): Path<(String, String)>| serve(EDIT_TABS.contains(&tab.as_str()));
    let account = Bytes::from(
        ACCOUNT
            .replace("{{API_BASE}}", &api)
            .replace("{{UI_BASE}}", &ui),
    );
    let account_page = move |Path(name): Path<String>| {
        let account = account.clone();
        async move {
            if ACCOUNT_PAGES.contains(&name.as_str()) {
                Html(account).into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
    };
    router
        .route(&format!("{ui}/account/{{page}}"), get(account_page))
        .route(&format!("{ui}/users"), get(index.clone()))
        .route(&format!("{ui}/users/{{page}}"), get(sub_page))
        .route(&format!("{ui}/users/{{user_id}}/edit"), get(index))
        .route(
            &format!("{ui}/users/{{user_id}}/edit/{{tab}}"),
            get(edit_tab),
        )
        .route(&format!("{ui}/assets/{{file}}"), get(asset))
        .layer(axum::middleware::map_response(security_headers))
}

/// The page's Content-Security-Policy: its own scripts, styles and API only; images also
/// from HTTPS (avatars); never framed.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' https: data:; connect-src 'self'; font-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers on every answer of the UI: CSP, no framing, no MIME sniffing, no referrer leaks.
async fn security_headers(mut response: Response) -> Response {
    use axum::http::HeaderValue;
    use axum::http::header::{
        CONTENT_SECURITY_POLICY as CSP, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let headers = response.headers_mut();
    headers.insert(CSP, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (
            [(CONTENT_TYPE, *content_type), (CACHE_CONTROL, "no-cache")],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(app: &Router, uri: &str) -> (u16, String, String) {
        use tower::ServiceExt;
        let request = axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        (
            response.status().as_u16(),
            header(CONTENT_TYPE),
            header(axum::http::header::LOCATION),
        )
    }

    #[tokio::test]
    async fn pages_assets_and_the_home_redirect() {
        let app = admin_ui("/api", "/admin");
        for page in [
            "/admin/users",
            "/admin/users/learners",
            "/admin/users/create",
            "/admin/users/roles",
            "/admin/users/stats",
            "/admin/users/webhooks",
            "/admin/users/0199a3b2-0000-7000-8000-000000000001/edit",
            "/admin/users/0199a3b2-0000-7000-8000-000000000001/edit/users-sessions",
            "/admin/users/0199a3b2-0000-7000-8000-000000000001/edit/account-deletation",
            "/admin/account/accept-invitation",
            "/admin/account/reset-password",
            "/admin/account/verify",
        ] {
            let (status, kind, _) = get(&app, page).await;
            assert_eq!(
                (status, kind.as_str()),
                (200, "text/html; charset=utf-8"),
                "{page}"
            );
        }
        assert_eq!(
            get(&app, "/admin/assets/app.js").await.1,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            get(&app, "/admin/assets/app.css").await.1,
            "text/css; charset=utf-8"
        );
        for home in ["/admin", "/admin/"] {
            let (status, _, location) = get(&app, home).await;
            assert_eq!((status, location.as_str()), (303, "/admin/users"), "{home}");
        }
        for unknown in [
            "/users",
            "/admin/users/nope",
            "/admin/users/x/edit/nope",
            "/admin/assets/nope.js",
            "/admin/account/nope",
        ] {
            assert_eq!(get(&app, unknown).await.0, 404, "{unknown}");
        }
        for (file, _, _) in ASSETS {
            let (status, _, _) = get(&app, &format!("/admin/assets/{file}")).await;
            assert_eq!(status, 200, "{file}");
        }
    }

    #[tokio::test]
    async fn every_answer_carries_the_security_headers() {
        use tower::ServiceExt;
        let app = admin_ui("", "/admin");
        for uri in [
            "/admin/users",
            "/admin/assets/app.js",
            "/admin/users/nope",
            "/admin/account/verify",
        ] {
            let request = axum::http::Request::get(uri)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            let header = |name: &str| response.headers().get(name).cloned();
            assert_eq!(
                header("content-security-policy").unwrap(),
                CONTENT_SECURITY_POLICY,
                "{uri}"
            );
            assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
            assert_eq!(header("x-frame-options").unwrap(), "DENY", "{uri}");
            assert_eq!(
                header("x-content-type-options").unwrap(),
                "nosniff",
                "{uri}"
            );
            assert_eq!(header("referrer-policy").unwrap(), "no-referrer", "{uri}");
        }
    }

    #[test]
    fn the_page_carries_the_vocabulary_of_core() {
        let vocabulary: serde_json::Value = serde_json::from_str(&vocabulary()).unwrap();
        assert_eq!(vocabulary["statuses"][3], "pending_verification");
        assert!(INDEX.contains("{{VOCABULARY}}"));
    }

    #[test]
    fn prefixes_cannot_inject_markup() {
        assert_eq!(path_prefix("/admin/"), "/admin");
        assert_eq!(path_prefix("\"><script>"), "script");
        assert_eq!(path_prefix(""), "");
    }
}
