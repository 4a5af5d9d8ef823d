//! Small checks the filter types share.

use crate::error::FieldErrors;

/// Keeps the first of equal values, in order.
pub(super) fn dedup<T: PartialEq + Clone>(values: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::with_capacity(values.len());
    values.retain(|v| {
        if seen.contains(v) {
            false
        } else {
            seen.push(v.clone());
            true
        }
    });
}

/// Reports `min_field` when both bounds are set and `min` exceeds `max`.
pub(super) fn range_check<T: PartialOrd>(
    errors: &mut FieldErrors,
    min_field: &str,
    min: Option<T>,
    max_field: &str,
    max: Option<T>,
) {
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        errors.add(min_field, format!("must not exceed {max_field}"));
    }
}
