//! Passwords: the policy, argon2id hashing and verification, always off the async executor.

mod bounds;
mod foreign;

use bounds::argon2_within_bounds;
pub use bounds::{MAX_VERIFY_ITERATIONS, MAX_VERIFY_LANES, MAX_VERIFY_MEMORY_KIB};
pub use foreign::{
    HashFormat, MAX_BCRYPT_COST, MAX_PBKDF2_ROUNDS, MAX_SCRYPT_MEMORY, check as check_foreign_hash,
};

use std::fmt;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::Deserialize;

use crate::error::{Error, FieldErrors, StorageError};

/// A plaintext password from input. Its `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A stored password hash: the library's argon2id PHC string, or one an import brought from
/// another system (see [`HashFormat`]). Its `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from storage.
    pub fn from_phc(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string, for storage.
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// A hash written by another system (an import), to be checked with
    /// [`check_foreign_hash`] first: verified at sign-in by its own algorithm, then replaced
    /// by an argon2id hash.
    pub fn imported(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    /// Whether a successful sign-in should re-hash the password: the hash is in another form
    /// than argon2id, or its parameters differ from `policy`'s.
    pub fn needs_rehash(&self, policy: &PasswordPolicy) -> bool {
        let Ok(phc) = argon2::PasswordHash::new(&self.0) else {
            return true;
        };
        if phc.algorithm.as_str() != "argon2id" {
            return true;
        }
        Params::try_from(&phc).map_or(true, |params| {
            params.m_cost() != policy.memory_kib
                || params.t_cost() != policy.iterations
                || params.p_cost() != policy.parallelism
        })
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// Password rules and argon2id cost. Defaults follow OWASP: m = 19456 KiB, t = 2, p = 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Shortest accepted password, in characters (default 8).
    pub min_length: usize,
    /// Longest accepted password, in characters (default 1024; bounds hashing work).
    pub max_length: usize,
    /// argon2 memory cost in KiB.
    pub memory_kib: u32,
    /// argon2 iterations.
    pub iterations: u32,
    /// argon2 parallelism.
    pub parallelism: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 1024,
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordPolicy {
    /// A deliberately cheap policy for tests (m = 256 KiB, t = 1). Never use in production.
    pub fn insecure_fast_for_tests() -> Self {
        Self {
            memory_kib: 256,
            iterations: 1,
            ..Self::default()
        }
    }

    /// Checks the length rules; errors are reported on `field`.
    pub fn check(&self, password: &Password, field: &str, errors: &mut FieldErrors) {
        let length = password.expose().chars().count();
        if length < self.min_length {
            errors.add(
                field,
                format!("must be at least {} characters", self.min_length),
            );
        } else if length > self.max_length {
            errors.add(
                field,
                format!("must be at most {} characters", self.max_length),
            );
        }
    }

    fn params(&self) -> Result<Params, Error> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::Storage(StorageError::new("configuring argon2", e.to_string())))
    }

    /// Hashes a password with argon2id in the calling thread, in `memory` (grown to the
    /// policy's size if smaller, and kept for the next hash).
    pub fn hash_blocking(
        &self,
        password: &Password,
        memory: &mut HashMemory,
    ) -> Result<PasswordHash, Error> {
        let failed = |e: String| Error::Storage(StorageError::new("hashing a password", e));
        let params = self.params()?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| failed(e.to_string()))?;
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                &salt,
                &mut output,
                memory.blocks(params.block_count()),
            )
            .map_err(|e| failed(e.to_string()))?;
        let phc = argon2::PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| failed(e.to_string()))?,
            salt: Some(Salt::new(&salt).map_err(|e| failed(e.to_string()))?),
            hash: Some(Output::new(&output).map_err(|e| failed(e.to_string()))?),
        };
        Ok(PasswordHash(phc.to_string()))
    }

    /// Verifies a password against a stored argon2 hash in the calling thread, in `memory`.
    /// The cost comes from the stored hash (at most [`MAX_VERIFY_MEMORY_KIB`]). A malformed
    /// or unsupported stored hash verifies as `false`.
    pub fn verify_blocking(
        &self,
        password: &Password,
        hash: &PasswordHash,
        memory: &mut HashMemory,
    ) -> bool {
        if HashFormat::of(&hash.0) != Some(HashFormat::Argon2) {
            // A hash an import brought from another system.
            return foreign::verify(password.expose().as_bytes(), &hash.0);
        }
        let Ok(phc) = argon2::PasswordHash::new(&hash.0) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
            return false;
        };
        let version = match phc.version.map(Version::try_from).transpose() {
            Ok(version) => version.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&phc) else {
            return false;
        };
        if !argon2_within_bounds(&params) {
            return false;
        }
        let mut output = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params.clone());
        argon
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                salt,
                &mut output,
                memory.blocks(params.block_count()),
            )
            .is_ok()
            // `Output`'s comparison is constant-time.
            && Output::new(&output).is_ok_and(|computed| &computed == expected)
    }

    /// Hashes a password with argon2id on the blocking thread pool (in fresh memory; the
    /// service reuses a bounded set of buffers instead).
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        let policy = self.clone();
        let plain = password.clone();
        tokio::task::spawn_blocking(move || {
            policy.hash_blocking(&plain, &mut HashMemory::default())
        })
        .await
        .map_err(|e| Error::Storage(StorageError::new("hashing a password", e)))?
    }

    /// Verifies a password against a stored hash on the blocking thread pool (in fresh
    /// memory). The cost comes from the stored hash. A malformed stored hash verifies as
    /// `false`.
    pub async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, Error> {
        let policy = self.clone();
        let plain = password.clone();
        let hash = hash.clone();
        tokio::task::spawn_blocking(move || {
            policy.verify_blocking(&plain, &hash, &mut HashMemory::default())
        })
        .await
        .map_err(|e| Error::Storage(StorageError::new("verifying a password", e)))
    }
}

/// argon2 working memory, kept between hashes so each hashing slot allocates it once.
#[derive(Default)]
pub struct HashMemory(Vec<Block>);

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashMemory({} blocks)", self.0.len())
    }
}

impl HashMemory {
    /// Gives back memory beyond `blocks` blocks (what the policy's own hashes use): a stored
    /// hash that asked for more does not keep it.
    pub(crate) fn trim_to(&mut self, blocks: usize) {
        if self.0.len() > blocks {
            self.0.truncate(blocks);
            self.0.shrink_to_fit();
        }
    }

    /// The first `count` blocks, growing the buffer if needed.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        &mut self.0[..count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_and_verify() {
        let policy = PasswordPolicy::insecure_fast_for_tests();
        let hash = policy.hash(&Password::new("correct horse")).await.ok();
        let hash = hash.unwrap_or_else(|| PasswordHash::from_phc(""));
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert!(
            policy
                .verify(&Password::new("correct horse"), &hash)
                .await
                .unwrap_or(false)
        );
        assert!(
            !policy
                .verify(&Password::new("wrong"), &hash)
                .await
                .unwrap_or(true)
        );
        assert!(!format!("{hash:?}").contains("argon2"));
    }

    #[tokio::test]
    async fn default_policy_uses_owasp_parameters() {
        let hash = PasswordPolicy::default()
            .hash(&Password::new("abcdefgh"))
            .await
            .ok();
        let phc = hash.map(|h| h.as_phc().to_owned()).unwrap_or_default();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[test]
    fn length_rules_are_checked() {
        let policy = PasswordPolicy::default();
        let mut errors = FieldErrors::new();
        policy.check(&Password::new("short"), "password", &mut errors);
        assert!(errors.get("password").is_some());
        assert!(!format!("{:?}", Password::new("hunter22")).contains("hunter22"));
    }
}
