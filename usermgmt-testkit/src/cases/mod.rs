//! The conformance cases. Each takes a fresh store and panics on a broken expectation.

mod access;
mod enrollment;
mod export;
mod hardening;
mod insights;
mod listing;
mod rbac;
mod records;
mod sessions;
mod system;
mod users;
mod writes;

pub use access::*;
pub use enrollment::*;
pub use export::*;
pub use hardening::*;
pub use insights::*;
pub use listing::*;
pub use rbac::*;
pub use records::*;
pub use sessions::*;
pub use system::*;
pub use users::*;
pub use writes::*;

use usermgmt_core::Error;

/// The field names of a validation error (empty for other errors).
pub(crate) fn invalid_fields(err: &Error) -> Vec<String> {
    match err {
        Error::Validation(fields) => fields.iter().map(|(f, _)| f.to_owned()).collect(),
        _ => Vec::new(),
    }
}
