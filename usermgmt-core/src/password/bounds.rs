//! The most work a stored argon2 hash may ask of a verification (its parameters come from
//! the hash itself: an imported one, or one a database holds).

use argon2::{Algorithm, Params};

/// The largest argon2 memory cost a stored hash may ask for at verification (256 MiB): an
/// imported hash cannot make a login allocate without bound.
pub const MAX_VERIFY_MEMORY_KIB: u32 = 256 * 1024;

/// The most argon2 passes a stored hash may ask for.
pub const MAX_VERIFY_ITERATIONS: u32 = 16;

/// The most argon2 lanes a stored hash may ask for.
pub const MAX_VERIFY_LANES: u32 = 8;

/// Whether argon2 parameters from a stored (or imported) hash are within the bounds a
/// verification may cost.
pub(super) fn argon2_within_bounds(params: &Params) -> bool {
    params.m_cost() <= MAX_VERIFY_MEMORY_KIB
        && params.t_cost() <= MAX_VERIFY_ITERATIONS
        && params.p_cost() <= MAX_VERIFY_LANES
}

/// Whether an argon2 PHC string names a known variant and parameters within the bounds.
pub(crate) fn argon2_hash_within_bounds(hash: &str) -> bool {
    argon2::PasswordHash::new(hash).is_ok_and(|phc| {
        Algorithm::try_from(phc.algorithm.as_str()).is_ok()
            && phc.salt.is_some()
            && phc.hash.is_some()
            && Params::try_from(&phc).is_ok_and(|params| argon2_within_bounds(&params))
    })
}
