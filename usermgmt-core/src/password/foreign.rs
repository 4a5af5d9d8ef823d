//! Password hashes written by other systems, brought in by an import (SPEC §11): recognised
//! by their form, bounded in the work they may ask for, and verified with the algorithm's own
//! crate. The service re-hashes them to argon2id at the first successful sign-in.
//!
//! Accepted: argon2 (PHC `$argon2id$`, `$argon2i$`, `$argon2d$`), bcrypt (`$2a$`, `$2b$`,
//! `$2y$`), scrypt (PHC `$scrypt$ln=…,r=…,p=…$salt$hash`), PBKDF2 (PHC `$pbkdf2-sha256$` and
//! `$pbkdf2-sha512$` with `i=` rounds) and Django's `pbkdf2_sha256$rounds$salt$hash`.

use argon2::password_hash::phc::{Output, PasswordHash as Phc};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

/// A password-hash format the library verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// argon2 in PHC form — the library's own (argon2id) and other systems'.
    Argon2,
    /// bcrypt, `$2a$` / `$2b$` / `$2y$`.
    Bcrypt,
    /// scrypt in PHC form.
    Scrypt,
    /// PBKDF2-HMAC-SHA256 in PHC form.
    Pbkdf2Sha256,
    /// PBKDF2-HMAC-SHA512 in PHC form.
    Pbkdf2Sha512,
    /// Django's `pbkdf2_sha256$rounds$salt$hash`.
    DjangoPbkdf2Sha256,
}

/// The highest bcrypt cost accepted (2^14 rounds, about a second; a stored cost sets each
/// verification's work).
pub const MAX_BCRYPT_COST: u32 = 14;
/// The most PBKDF2 rounds accepted.
pub const MAX_PBKDF2_ROUNDS: u32 = 2_000_000;
/// The most memory an scrypt hash may ask for (128 · r · (N + p) bytes; r ≤ 32, p ≤ 4).
pub const MAX_SCRYPT_MEMORY: u64 = 64 * 1024 * 1024;

impl HashFormat {
    /// The format `hash` is written in, by its prefix (`None`: not one this library reads).
    pub fn of(hash: &str) -> Option<Self> {
        let format = if hash.starts_with("$argon2") {
            Self::Argon2
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            Self::Bcrypt
        } else if hash.starts_with("$scrypt$") {
            Self::Scrypt
        } else if hash.starts_with("$pbkdf2-sha256$") {
            Self::Pbkdf2Sha256
        } else if hash.starts_with("$pbkdf2-sha512$") {
            Self::Pbkdf2Sha512
        } else if hash.starts_with("pbkdf2_sha256$") {
            Self::DjangoPbkdf2Sha256
        } else {
            return None;
        };
        Some(format)
    }
}

/// Checks that `hash` is a well-formed hash of a readable format within the work bounds;
/// answers its format, or why it is refused.
pub fn check(hash: &str) -> Result<HashFormat, &'static str> {
    let format = HashFormat::of(hash).ok_or(
        "not a supported password hash (argon2, bcrypt, scrypt, PBKDF2 or Django's pbkdf2_sha256)",
    )?;
    let fits = match format {
        HashFormat::Argon2 => super::bounds::argon2_hash_within_bounds(hash),
        HashFormat::Bcrypt => {
            bcrypt_cost(hash).is_some_and(|cost| (4..=MAX_BCRYPT_COST).contains(&cost))
                && hash.len() == 60
        }
        HashFormat::Scrypt => scrypt_parts(hash).is_some(),
        HashFormat::Pbkdf2Sha256 | HashFormat::Pbkdf2Sha512 => pbkdf2_parts(hash).is_some(),
        HashFormat::DjangoPbkdf2Sha256 => django_parts(hash).is_some(),
    };
    if fits {
        Ok(format)
    } else {
        Err("a malformed hash, or one asking for more work than allowed")
    }
}

/// Verifies `password` against a hash of a format other than argon2 (`false` for anything
/// malformed or out of bounds).
pub(crate) fn verify(password: &[u8], hash: &str) -> bool {
    match HashFormat::of(hash) {
        Some(HashFormat::Bcrypt) => {
            bcrypt_cost(hash).is_some_and(|cost| cost <= MAX_BCRYPT_COST)
                && bcrypt::verify(password, hash).unwrap_or(false)
        }
        Some(HashFormat::Scrypt) => scrypt_parts(hash).is_some_and(|(phc, params)| {
            equal_output(&phc, |out| {
                scrypt::scrypt(password, salt(&phc), &params, out).is_ok()
            })
        }),
        Some(HashFormat::Pbkdf2Sha256) => pbkdf2_parts(hash).is_some_and(|(phc, rounds)| {
            equal_output(&phc, |out| {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt(&phc), rounds, out);
                true
            })
        }),
        Some(HashFormat::Pbkdf2Sha512) => pbkdf2_parts(hash).is_some_and(|(phc, rounds)| {
            equal_output(&phc, |out| {
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt(&phc), rounds, out);
                true
            })
        }),
        Some(HashFormat::DjangoPbkdf2Sha256) => {
            django_parts(hash).is_some_and(|(rounds, salt, expected)| {
                let mut out = vec![0u8; expected.len()];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt.as_bytes(), rounds, &mut out);
                bool::from(out.ct_eq(&expected))
            })
        }
        Some(HashFormat::Argon2) | None => false,
    }
}

fn salt(phc: &Phc) -> &[u8] {
    phc.salt.as_ref().map(|s| s.as_ref()).unwrap_or_default()
}

/// Computes into a buffer of the stored output's length with `compute` and compares in
/// constant time.
fn equal_output(phc: &Phc, compute: impl FnOnce(&mut [u8]) -> bool) -> bool {
    let Some(expected) = &phc.hash else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    // `Output`'s comparison is constant-time.
    compute(&mut out) && Output::new(&out).is_ok_and(|computed| &computed == expected)
}

fn bcrypt_cost(hash: &str) -> Option<u32> {
    hash.get(4..6)?.parse().ok()
}

/// The parsed PHC string and scrypt parameters, within [`MAX_SCRYPT_MEMORY`].
fn scrypt_parts(hash: &str) -> Option<(Phc, scrypt::Params)> {
    let phc = Phc::new(hash).ok()?;
    let log_n = u8::try_from(phc.params.get_decimal("ln")?).ok()?;
    let r = phc.params.get_decimal("r")?;
    let p = phc.params.get_decimal("p")?;
    // scrypt keeps 128·r·N bytes, and 128·r·p more for its PBKDF2 input.
    let n = 1u64.checked_shl(u32::from(log_n))?;
    let memory = 128u64
        .checked_mul(u64::from(r))?
        .checked_mul(n.checked_add(u64::from(p))?)?;
    if memory > MAX_SCRYPT_MEMORY
        || r == 0
        || r > 32
        || p == 0
        || p > 4
        || phc.salt.is_none()
        || phc.hash.is_none()
    {
        return None;
    }
    Some((phc, scrypt::Params::new(log_n, r, p).ok()?))
}

/// The parsed PHC string and its rounds (`i=`), within [`MAX_PBKDF2_ROUNDS`].
fn pbkdf2_parts(hash: &str) -> Option<(Phc, u32)> {
    let phc = Phc::new(hash).ok()?;
    let rounds = phc.params.get_decimal("i")?;
    if rounds == 0 || rounds > MAX_PBKDF2_ROUNDS || phc.salt.is_none() || phc.hash.is_none() {
        return None;
    }
    Some((phc, rounds))
}

/// Django's `pbkdf2_sha256$rounds$salt$base64(hash)`: rounds, salt text, hash bytes.
fn django_parts(hash: &str) -> Option<(u32, &str, Vec<u8>)> {
    let mut parts = hash.split('$');
    let (_, rounds, salt, encoded) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || salt.is_empty() || salt.contains(char::is_whitespace) {
        return None;
    }
    let rounds: u32 = rounds.parse().ok()?;
    let expected = STANDARD.decode(encoded).ok()?;
    if rounds == 0 || rounds > MAX_PBKDF2_ROUNDS || expected.len() < 16 || expected.len() > 64 {
        return None;
    }
    Some((rounds, salt, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors made by independent implementations: bcrypt's from OpenBSD's test suite; the
    // Django and scrypt ones with Python's hashlib (see each).
    const BCRYPT_U_STAR_U: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

    /// `hashlib.pbkdf2_hmac` / `hashlib.scrypt` of "imported passphrase" (Python 3.11).
    pub(crate) const PYTHON_MADE: [(&str, HashFormat); 4] = [
        (
            "pbkdf2_sha256$1000$seasalt123$9Ul4B8fJABZbg9uVV+QlZpaYAH7ukT41XN1Ym3fdF/c=",
            HashFormat::DjangoPbkdf2Sha256,
        ),
        (
            "$pbkdf2-sha256$i=1000,l=32$cGVwcGVyIGFuZCBzYWx0IQ$c1sF8LBsWxbdOeJHSSr9iVCeHUnM1cfFjIyM/UEPfdc",
            HashFormat::Pbkdf2Sha256,
        ),
        (
            "$pbkdf2-sha512$i=1000,l=64$cGVwcGVyIGFuZCBzYWx0IQ$OdluH7FYfX/+jtWcXL7rpQqPRDzmmJlQiU8tm9RdM/Cd9TDQlbZJYPDFff4wENMAqOzL+CZcF2Y292J0CnMZvQ",
            HashFormat::Pbkdf2Sha512,
        ),
        (
            "$scrypt$ln=10,r=8,p=1$cGVwcGVyIGFuZCBzYWx0IQ$B1/NzgIlIBogSxONv1kPcVzciB9PX+XxfxxxZA6eSDQ",
            HashFormat::Scrypt,
        ),
    ];

    #[test]
    fn hashes_made_by_python_verify() {
        for (hash, format) in PYTHON_MADE {
            assert_eq!(check(hash), Ok(format), "{hash}");
            assert!(verify(b"imported passphrase", hash), "{hash}");
            assert!(!verify(b"imported passphrasf", hash), "{hash}");
        }
    }

    #[test]
    fn bcrypt_from_openbsd_verifies() {
        assert_eq!(check(BCRYPT_U_STAR_U), Ok(HashFormat::Bcrypt));
        assert!(verify(b"U*U", BCRYPT_U_STAR_U));
        assert!(!verify(b"U*V", BCRYPT_U_STAR_U));
    }

    #[test]
    fn bounds_and_shapes_are_enforced() {
        // cost 31: 2^31 rounds per verification.
        let costly = "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert!(check(costly).is_err());
        assert!(!verify(b"U*U", costly));
        assert!(check("pbkdf2_sha256$99999999$salt$AAAAAAAAAAAAAAAAAAAAAA==").is_err());
        assert!(check("$scrypt$ln=30,r=8,p=1$c2FsdA$AAAAAAAAAAAAAAAAAAAAAA").is_err());
        assert!(check("$scrypt$ln=1,r=1048576,p=16$c2FsdA$AAAAAAAAAAAAAAAAAAAAAA").is_err());
        let endless = "$argon2id$v=19$m=65536,t=4294967295,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(check(endless).is_err());
        assert!(check("$argon2foo$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA").is_err());
        assert!(check("md5$abc").is_err());
        assert!(check("").is_err());
        assert!(check("pbkdf2_sha256$1000$salt").is_err());
    }
}
