//! The admin web UI (feature `admin-ui`): plain HTML, CSS and JavaScript embedded in the
//! binary (no build step, no network), talking only to the API's routes. This first slice has
//! the sign-in page and the user lists (all users, learners, admins, instructors) with search,
//! status and country filters, totals and pagination.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Keeps the characters a URL path prefix needs; anything else (quotes, markup) is dropped,
/// so a prefix can never break out of the page's attributes.
fn path_prefix(raw: &str) -> String {
    raw.trim_end_matches('/')
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
        .collect()
}

/// The UI's routes, to merge into the app that serves the API: pages under `ui_base` (e.g.
/// `/admin`: `/admin/users`, `/admin/users/learners`, …) calling the API at `api_base` (`""`
/// when the API is at the root, `/admin` when it is nested there).
pub fn admin_ui(api_base: &str, ui_base: &str) -> Router {
    let api = path_prefix(api_base);
    let ui = path_prefix(ui_base);
    let page = INDEX
        .replace("{{API_BASE}}", &api)
        .replace("{{UI_BASE}}", &ui);
    let index = move || {
        let page = page.clone();
        async move { Html(page) }
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
    router
        .route(&format!("{ui}/users"), get(index.clone()))
        .route(&format!("{ui}/users/{{list}}"), get(index))
        .route(
            &format!("{ui}/assets/app.js"),
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            &format!("{ui}/assets/app.css"),
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
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
        for page in ["/admin/users", "/admin/users/learners"] {
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
        assert_eq!(
            get(&app, "/users").await.0,
            404,
            "nothing outside the prefix"
        );
    }

    #[test]
    fn prefixes_cannot_inject_markup() {
        assert_eq!(path_prefix("/admin/"), "/admin");
        assert_eq!(path_prefix("\"><script>"), "script");
        assert_eq!(path_prefix(""), "");
    }
}
