//! Client library for the Parsec service: the same calls over the service's Unix socket (wire
//! protocol 1.0) and, remotely, over a Parsec.1 session.
//!
//! ```no_run
//! use parsec_rs_client::Client;
//!
//! // The service from PARSEC_SERVICE_ENDPOINT (default unix:/run/parsec/parsec.sock); the
//! // authenticator and provider are the first ones of the service that fit.
//! let client = Client::new()?;
//! client.create_signing_key("my-app/signing")?;            // ECC P-256, ECDSA-SHA-256
//! let signature = client.sign("my-app/signing", b"hello")?; // hashed here, signed there
//! client.verify("my-app/signing", b"hello", &signature)?;
//! println!("{}", client.public_key("my-app/signing")?.pem());
//! client.psa_destroy_key("my-app/signing")?;
//! # Ok::<(), parsec_rs_client::Error>(())
//! ```
//!
//! - [`Client`]: built from the environment ([`Client::new`]) or a [`Builder`]. Over the
//!   Unix socket, connections are kept and reused for the next calls (one per concurrent
//!   caller), and a service that closes them after each answer (upstream's) gets one per call.
//! - The calls with defaults ([`easy`]): keys of the common kinds, and sign, verify, encrypt,
//!   decrypt with the algorithm of the key's policy.
//! - The typed operations ([`ops`]): one method per operation (`psa_sign_hash`, …), and
//!   [`Client::call`] for any [`parsec_psa::Operation`].
//! - Tokens ([`tokens`]): a JWT from `PARSEC_AUTH_TOKEN` (or the file `PARSEC_AUTH_TOKEN_FILE`)
//!   is sent when the service lists the JWT authenticator (auth type 2), and JWT-SVIDs from the
//!   SPIFFE Workload API at `SPIFFE_ENDPOINT_SOCKET` when it lists JwtSvid (auth type 4).
//! - Remotely (`PARSEC_SERVICE_ENDPOINT=http://host:port/path`, or `https://`), the service
//!   is trusted by the key addresses in `PARSEC1_SERVICE_KEY`, and the session is kept in a
//!   file under the user's data directory. Administrators' operations fail before they are
//!   sent. Over `https://` the server's certificate is checked against the system's roots and
//!   the file named by `PARSEC1_TLS_CA`.
//!   With `PARSEC1_SERVICE_CONTRACT=<origin>` the service is trusted through its Universa
//!   service contract instead (Parsec 1.2), and `PARSEC1_SERVICE_NAME=<name>` (or the endpoint
//!   `uns2:<name>`) finds it by its UNS2 name (1.3): see [`universa`].
//! - [`parsec1`]: the Parsec.1 session itself, asynchronous, for any command.
//!
//! Its one job: the client side of both protocols (wire 1.0 over a Unix socket, Parsec.1 over
//! HTTP), with the 1.2/1.3 trust checks' network part. Imports `parsec-wire`, `parsec-psa`,
//! `parsec-boss` and `parsec-parsec1`; never the service.

#![warn(missing_docs)]

pub mod auth;
mod client;
pub mod der;
pub mod easy;
pub mod endpoint;
mod error;
pub mod keyfile;
pub mod ops;
pub mod parsec1;
mod remote;
pub mod tokens;
pub mod universa;
mod unix;

pub use auth::{Auth, TokenSource};
pub use client::{
    escape_pattern, Builder, Client, DEFAULT_MAX_ANSWER_LEN, DEFAULT_SPIN, DEFAULT_TIMEOUT,
};
pub use endpoint::{Endpoint, DEFAULT_ENDPOINT, ENDPOINT_VARIABLE};
pub use error::{hint, Error};
pub use remote::{parse_service_keys, SERVICE_KEY_VARIABLE, TLS_CA_VARIABLE};
pub use unix::MAX_IDLE;

pub use parsec_psa as psa;
pub use parsec_wire::{AuthType, Opcode, ProviderId, Status};
