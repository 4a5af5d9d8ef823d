//! What the cases share.

use usermgmt_core::Error;
use usermgmt_core::model::SessionToken;
use usermgmt_core::notify::Notification;

use crate::fixture::Fixture;

/// The field names of a validation error (empty for other errors).
pub(crate) fn invalid_fields(err: &Error) -> Vec<String> {
    match err {
        Error::Validation(fields) => fields.iter().map(|(f, _)| f.to_owned()).collect(),
        _ => Vec::new(),
    }
}

/// The token in a message's link (empty when it carries none).
pub(crate) fn token_of(message: &Notification) -> SessionToken {
    let token = message
        .link()
        .unwrap_or_default()
        .split("token=")
        .nth(1)
        .unwrap_or_default();
    SessionToken::from_client(token)
}

/// The token in the newest message's link.
pub(crate) fn newest_token(fx: &Fixture) -> SessionToken {
    token_of(&fx.notifier.messages().pop().expect("a message"))
}

/// The newest message, waiting up to two seconds for one beyond the first `seen` (messages
/// asked for by identifier are sent in the background).
pub(crate) async fn next_message(fx: &Fixture, seen: usize) -> Option<Notification> {
    for _ in 0..200 {
        let messages = fx.notifier.messages();
        if messages.len() > seen {
            return messages.last().cloned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    None
}

/// Whether `result` is a validation error naming `field` with a message containing `why`
/// (anything else panics, showing what came instead).
pub(crate) fn refused_on<T: std::fmt::Debug>(
    result: Result<T, Error>,
    field: &str,
    why: &str,
) -> bool {
    match result {
        Err(Error::Validation(fields)) => {
            let text = serde_json::to_string(&fields).unwrap_or_default();
            text.contains(field) && text.contains(why)
        }
        other => panic!("expected a refusal on {field} ({why}), got {other:?}"),
    }
}
