//! Password hashing with Argon2id, off the async threads and behind a semaphore.
//!
//! Hashing is deliberately expensive; a burst of logins must not starve the server.
//! At most `permits` hashes run at once, at most `permits × queue_per_permit` requests
//! wait, and everything beyond that is shed immediately with 503. Each running hash
//! borrows one of at most `permits` reusable Argon2 memory buffers, so memory stays
//! bounded at `permits × argon2 memory` however many requests arrive (allocating 19 MiB
//! per hash instead leaves glibc arenas holding hundreds of MiB under load).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::settings::AuthSettings;

/// How long a queued request waits for a hashing slot before it is shed.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// A hash of a random password, verified against when the account does not exist
    /// so that unknown users cost the same time as wrong passwords.
    dummy_hash: Arc<String>,
    /// Reusable Argon2 memory, one buffer per running hash at most.
    buffers: Arc<std::sync::Mutex<Vec<Vec<Block>>>>,
}

/// Permission to run one hash now (see [`PasswordHasher::reserve`]).
pub struct HashSlot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

/// Hashes `password` with `salt` into a PHC string, using `memory` as Argon2's blocks.
fn phc_hash(
    params: &Params,
    password: &[u8],
    salt: &[u8],
    memory: &mut [Block],
) -> anyhow::Result<String> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(password, salt, &mut out, memory)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    phc_string(params, salt, &out)
}

/// The PHC string of an Argon2id output.
fn phc_string(params: &Params, salt: &[u8], out: &[u8]) -> anyhow::Result<String> {
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| anyhow::anyhow!("argon2: {e}"))?,
        salt: Some(Salt::new(salt).map_err(|e| anyhow::anyhow!("argon2: {e}"))?),
        hash: Some(Output::new(out).map_err(|e| anyhow::anyhow!("argon2: {e}"))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash`; reuses `memory` when the hash was
/// made with the current parameters, else allocates for the old ones.
fn phc_verify(password: &[u8], hash: &str, memory: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
        parsed.salt.as_ref(),
        parsed.hash.as_ref(),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let computed = if memory.len() == params.block_count() {
        argon.hash_password_into_with_memory(password, salt, &mut out, memory)
    } else {
        argon.hash_password_into(password, salt, &mut out)
    };
    computed.is_ok() && crate::crypto::constant_time_eq(&out, expected.as_bytes())
}

fn overloaded() -> ApiError {
    ApiError::ServiceUnavailable("The server is busy; please retry in a moment".into())
}

impl PasswordHasher {
    /// Builds the hasher from settings. The timing-equalising dummy hash is a PHC string
    /// with the current parameters and random salt and output: verifying against it costs
    /// exactly one real hash and never matches, and building it costs nothing (no Argon2
    /// run and no 19 MiB buffer at startup; buffers are allocated on first use).
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        // Default: all cores but one, so requests that need no hashing stay fast.
        let permits = match settings.hash_concurrency {
            0 => {
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
            }
            n => n,
        };
        let salt: [u8; 16] = crate::crypto::random_bytes();
        let output: [u8; Params::DEFAULT_OUTPUT_LEN] = crate::crypto::random_bytes();
        let dummy_hash = phc_string(&params, &salt, &output)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: permits * settings.hash_queue_per_permit,
            dummy_hash: Arc::new(dummy_hash),
            buffers: Arc::new(std::sync::Mutex::new(Vec::new())),
        })
    }

    /// Waits for a hashing slot; sheds with 503 at once when too many requests
    /// already wait. Take the slot before any other work a login does (database
    /// lookups), so shed requests cost nothing.
    pub async fn reserve(&self) -> Result<HashSlot, ApiError> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Ok(HashSlot(p));
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(overloaded());
        }
        let acquired = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match acquired {
            Ok(Ok(p)) => Ok(HashSlot(p)),
            _ => Err(overloaded()),
        }
    }

    /// Runs `work` on the blocking pool in `slot`, with a reusable memory buffer.
    async fn run_in<T: Send + 'static>(
        &self,
        slot: HashSlot,
        work: impl FnOnce(&Params, &mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let params = self.params.clone();
        let buffers = self.buffers.clone();
        tokio::task::spawn_blocking(move || {
            // Holding a slot guarantees a free buffer or room for a new one.
            let taken = buffers.lock().ok().and_then(|mut b| b.pop());
            let mut memory = taken.unwrap_or_else(|| vec![Block::default(); params.block_count()]);
            let out = work(&params, &mut memory);
            if let Ok(mut b) = buffers.lock() {
                b.push(memory);
            }
            drop(slot);
            out
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("password hashing task failed: {e}")))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Params, &mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot = self.reserve().await?;
        self.run_in(slot, work).await
    }

    /// A PHC-format Argon2id hash of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_owned();
        let salt: [u8; 16] = crate::crypto::random_bytes();
        self.run(move |params, memory| {
            phc_hash(params, password.as_bytes(), &salt, memory).map_err(ApiError::Internal)
        })
        .await?
    }

    /// Whether `password` matches `hash`; with `None` (unknown account) it verifies
    /// against a dummy hash and returns false, taking the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, ApiError> {
        let slot = self.reserve().await?;
        self.verify_in(slot, password, hash).await
    }

    /// [`Self::verify`] in a slot taken earlier with [`Self::reserve`].
    pub async fn verify_in(
        &self,
        slot: HashSlot,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, ApiError> {
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let matched = self
            .run_in(slot, move |_, memory| {
                phc_verify(password.as_bytes(), &hash, memory)
            })
            .await?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use argon2::PasswordVerifier as _;

    fn settings() -> AuthSettings {
        crate::settings::Settings::load(None, &std::collections::HashMap::new())
            .unwrap()
            .auth
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_and_verify_both_ways() {
        let hasher = PasswordHasher::new(&settings()).unwrap();
        let hash = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // The reference implementation accepts our hash…
        Argon2::default()
            .verify_password(b"correct horse battery staple", hash.as_str())
            .unwrap();
        assert!(
            hasher
                .verify("correct horse battery staple", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("correct horse battery stapl", Some(&hash))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("anything", None).await.unwrap());
        assert!(!hasher.verify("anything", Some("not a hash")).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_still_verify() {
        use argon2::PasswordHasher as _;
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 3, 1, None).unwrap(),
        )
        .hash_password(b"old password")
        .unwrap()
        .to_string();
        let hasher = PasswordHasher::new(&settings()).unwrap();
        assert!(hasher.verify("old password", Some(&old)).await.unwrap());
        assert!(!hasher.verify("new password", Some(&old)).await.unwrap());
    }
}
