//! Parsec.1, Universa's secure command protocol: the cryptographic primitives of
//! `spec/parsec1.md` §4, byte-compatible with the JavaScript (unicrypto) and Java
//! implementations.
//!
//! - [`PublicKey`] / [`PrivateKey`]: RSA keys packed in BOSS; RSA-OAEP (SHA-1, MGF1-SHA-1) and
//!   RSA-PSS (SHA3-384, MGF1-SHA-1, maximum salt).
//! - [`KeyAddress`]: long and short key addresses, their Safe58 text, key matching.
//! - [`SignedRecord`]: signed payloads with the signer's key inside.
//! - [`SymmetricKey`]: the EtA session cipher (not standard AES-CTR; see [`eta`]).
//! - [`pow`]: proof of work, type 1.
//!
//! Secrets are zeroed when dropped and tags are compared in constant time. No I/O here.
//!
//! Its one job: Parsec.1 without I/O (primitives, messages, the server and client state
//! machines, Universa contracts). Imports `parsec-boss` and `parsec-rsa-raw` only.

pub mod address;
pub mod client;
mod error;
pub mod eta;
pub mod hash_id;
mod keys;
pub mod message;
pub mod pow;
pub mod server;
mod signed_record;
pub mod universa;

pub use address::KeyAddress;
pub use error::{Error, Result};
pub use eta::SymmetricKey;
pub use keys::{PrivateKey, PssHash, PublicKey, MAX_BITS, MIN_BITS};
pub use message::RemoteError;
pub use signed_record::{SignedRecord, TYPE_SHA3_384};
