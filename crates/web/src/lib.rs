//! The Parsec.1 client for web pages, compiled to WebAssembly (`wasm32-unknown-unknown`).
//!
//! The Rust side holds everything that needs the protocol's cryptography: the session flow of
//! spec parsec1.md §5.5 (resume a stored TSK, make a new TSK for the stored session key, or
//! register a new session key with its proof of work; one retry when the service lost the TSK),
//! the checks of the service's key, EtA, BOSS. The page's side ([`js/`](../js)) gives it what
//! only a page has: `fetch` for the HTTP POSTs, a storage for the session's state (the page's
//! `localStorage`, encrypted with a password when one is given), WebCrypto for a fast session
//! key. See `js/parsec1.js` for the API pages use.
//!
//! The session's secrets (TSK, session key) are in WebAssembly memory while they are used and,
//! as text, in the storage object the page gives (the JavaScript API keeps them in a `Map`
//! and writes them to `localStorage`, encrypted when the page gives a password): a script of
//! the page's origin can read them, as it could read anything else the page holds.
//!
//! Its one job: the browser's Parsec.1 client. Imports `parsec-boss` and `parsec-parsec1`
//! (built without aws-lc) only.

mod session;
mod universa;
mod value;

pub use session::Session;
pub use value::{from_js, to_js};
