//! The crypto rows, through the software provider (`MbedCrypto`, id 1): ECDSA P-256 `sign_hash`
//! (one thread and several), P-256 generate+destroy, RSA-2048 sign and AES-256-GCM encrypt of
//! 1 KiB. Keys are made through the daemon under test, in its fresh temp dir.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Result};
use parsec_client::core::interface::operations::psa_algorithm::{
    Aead, AeadWithDefaultLengthTag, AsymmetricSignature, Hash, SignHash,
};
use parsec_client::core::interface::operations::psa_key_attributes::{
    Attributes, EccFamily, Lifetime, Policy, Type, UsageFlags,
};
use parsec_client::BasicClient;

use crate::load::{self, Load};

/// The ECDSA key signed with in the sign rows.
const ECC_KEY: &str = "bench-ecdsa-p256";
/// The RSA key, generated once per daemon (RSA key generation is slow).
const RSA_KEY: &str = "bench-rsa-2048";
/// The AES key.
const AES_KEY: &str = "bench-aes-256";
/// Size of the AES-GCM plaintext.
pub const PLAINTEXT_LEN: usize = 1024;
/// A GCM nonce (12 bytes). The same one every time: this only measures speed.
const NONCE: [u8; 12] = [7; 12];
/// GCM's tag length.
const TAG_LEN: usize = 16;

/// What one round measured on one target; `None` when the row's set-up failed (the reason is
/// printed on stderr).
#[derive(Clone, Copy, Debug, Default)]
pub struct CryptoRound {
    pub sign: Option<Load>,
    pub sign_parallel: Option<Load>,
    pub generate_destroy: Option<Load>,
    pub rsa_sign: Option<Load>,
    pub aes_encrypt: Option<Load>,
    /// How long the one RSA-2048 key generation took.
    pub rsa_keygen: Option<Duration>,
}

impl CryptoRound {
    /// Failed operations during the load runs (not counting set-ups that failed).
    pub fn errors(&self) -> u64 {
        [
            self.sign,
            self.sign_parallel,
            self.generate_destroy,
            self.rsa_sign,
            self.aes_encrypt,
        ]
        .iter()
        .flatten()
        .map(|l| l.errors)
        .fold(0, u64::saturating_add)
    }

    /// How many rows could not be set up.
    pub fn missing(&self) -> usize {
        [
            self.sign,
            self.sign_parallel,
            self.generate_destroy,
            self.rsa_sign,
            self.aes_encrypt,
        ]
        .iter()
        .filter(|l| l.is_none())
        .count()
    }
}

/// The hash signed by every sign row: SHA-256 of a fixed message.
pub fn hash() -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"parsec-bench");
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

pub fn ecdsa() -> AsymmetricSignature {
    AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha256),
    }
}

fn rsa_pkcs1() -> AsymmetricSignature {
    AsymmetricSignature::RsaPkcs1v15Sign {
        hash_alg: SignHash::Specific(Hash::Sha256),
    }
}

fn gcm() -> Aead {
    Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm)
}

fn signing_key(key_type: Type, bits: usize, alg: AsymmetricSignature) -> Attributes {
    let mut usage_flags = UsageFlags::default();
    usage_flags.set_sign_hash().set_verify_hash();
    Attributes {
        lifetime: Lifetime::Persistent,
        key_type,
        bits,
        policy: Policy {
            usage_flags,
            permitted_algorithms: alg.into(),
        },
    }
}

/// ECC SECP_R1 256 key pair for ECDSA with SHA-256 (`sign_hash` and `verify_hash`).
pub fn ecc_p256() -> Attributes {
    signing_key(
        Type::EccKeyPair {
            curve_family: EccFamily::SecpR1,
        },
        256,
        ecdsa(),
    )
}

/// RSA-2048 key pair for PKCS#1 v1.5 signatures with SHA-256.
fn rsa_2048() -> Attributes {
    signing_key(Type::RsaKeyPair, 2048, rsa_pkcs1())
}

/// AES-256 key for AES-GCM encryption.
fn aes_256_gcm() -> Attributes {
    let mut usage_flags = UsageFlags::default();
    usage_flags.set_encrypt();
    Attributes {
        lifetime: Lifetime::Persistent,
        key_type: Type::Aes,
        bits: 256,
        policy: Policy {
            usage_flags,
            permitted_algorithms: gcm().into(),
        },
    }
}

/// Signs once and has the daemon verify the signature: a broken provider fails here, not with
/// a fast stream of errors in the load run.
fn check_signature(client: &BasicClient, key: &str, alg: AsymmetricSignature) -> Result<()> {
    let hash = hash();
    let signature = client
        .psa_sign_hash(key, &hash, alg)
        .map_err(|e| anyhow!("sign_hash: {e}"))?;
    client
        .psa_verify_hash(key, &hash, alg, &signature)
        .map_err(|e| anyhow!("verify_hash of its own signature: {e}"))
}

fn sign(client: &BasicClient, key: &str, alg: AsymmetricSignature) -> Result<Vec<u8>> {
    client
        .psa_sign_hash(key, &hash(), alg)
        .map_err(|e| anyhow!("{e}"))
}

pub fn generate_destroy(client: &BasicClient, n: u64) -> Result<()> {
    let name = format!("bench-gd-{n}");
    client
        .psa_generate_key(&name, ecc_p256())
        .map_err(|e| anyhow!("generate_key: {e}"))?;
    client
        .psa_destroy_key(&name)
        .map_err(|e| anyhow!("destroy_key: {e}"))
}

fn encrypt(client: &BasicClient, plaintext: &[u8]) -> Result<Vec<u8>> {
    client
        .psa_aead_encrypt(AES_KEY, gcm(), &NONCE, &[], plaintext)
        .map_err(|e| anyhow!("aead_encrypt: {e}"))
}

/// Runs every crypto row against the daemon at `socket`, each for `duration`. `target` only
/// names the daemon in messages.
pub fn run(target: &str, socket: &Path, threads: usize, duration: Duration) -> Result<CryptoRound> {
    let client = load::crypto_client(socket)?;
    let mut round = CryptoRound::default();
    let report = |row: &str, e: anyhow::Error| {
        eprintln!("{target}: {row}: not measured: {e:#}");
    };

    // ECDSA P-256 sign_hash, one thread then several.
    let ecc = client
        .psa_generate_key(ECC_KEY, ecc_p256())
        .map_err(|e| anyhow!("generate_key: {e}"))
        .and_then(|()| check_signature(&client, ECC_KEY, ecdsa()));
    match ecc {
        Ok(()) => {
            round.sign = Some(load::sequential(&client, duration, |c, _| {
                sign(c, ECC_KEY, ecdsa())
            }));
            let clients = (0..threads)
                .map(|_| load::crypto_client(socket))
                .collect::<Result<Vec<_>>>()?;
            round.sign_parallel = Some(load::parallel(&clients, duration, |c, _, _| {
                sign(c, ECC_KEY, ecdsa())
            }));
        }
        Err(e) => report("ECDSA P-256 sign_hash", e),
    }

    // P-256 generate+destroy, one thread, a new key name each time.
    match generate_destroy(&client, u64::MAX) {
        Ok(()) => {
            round.generate_destroy = Some(load::sequential(&client, duration, generate_destroy))
        }
        Err(e) => report("P-256 generate+destroy", e),
    }

    // RSA-2048 sign_hash, one thread; the key is generated once.
    let started = Instant::now();
    let rsa = client
        .psa_generate_key(RSA_KEY, rsa_2048())
        .map_err(|e| anyhow!("generate_key: {e}"));
    let keygen = started.elapsed();
    match rsa.and_then(|()| check_signature(&client, RSA_KEY, rsa_pkcs1())) {
        Ok(()) => {
            round.rsa_keygen = Some(keygen);
            round.rsa_sign = Some(load::sequential(&client, duration, |c, _| {
                sign(c, RSA_KEY, rsa_pkcs1())
            }));
        }
        Err(e) => report("RSA-2048 sign_hash", e),
    }

    // AES-256-GCM encrypt of 1 KiB, one thread.
    let plaintext = vec![0x42u8; PLAINTEXT_LEN];
    let aes = client
        .psa_generate_key(AES_KEY, aes_256_gcm())
        .map_err(|e| anyhow!("generate_key: {e}"))
        .and_then(|()| encrypt(&client, &plaintext))
        .and_then(|ct| {
            ensure!(
                ct.len() == PLAINTEXT_LEN + TAG_LEN,
                "ciphertext of {} bytes, expected {}",
                ct.len(),
                PLAINTEXT_LEN + TAG_LEN
            );
            Ok(())
        });
    match aes {
        Ok(()) => {
            round.aes_encrypt = Some(load::sequential(&client, duration, |c, _| {
                encrypt(c, &plaintext)
            }))
        }
        Err(e) => report("AES-256-GCM encrypt", e),
    }
    Ok(round)
}
