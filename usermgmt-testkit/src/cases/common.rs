//! What the cases share.

use usermgmt_core::Error;

/// The field names of a validation error (empty for other errors).
pub(crate) fn invalid_fields(err: &Error) -> Vec<String> {
    match err {
        Error::Validation(fields) => fields.iter().map(|(f, _)| f.to_owned()).collect(),
        _ => Vec::new(),
    }
}
