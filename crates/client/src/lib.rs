//! Client library for the Parsec services of this workspace.
//!
//! [`parsec1`]: Parsec.1 sessions over HTTP, the flow of the TypeScript client uparsecjs
//! (resume, new TSK, new session key with proof of work, retry on the recoverable errors) with
//! bounded retries and pluggable storage and service-key sources.

pub mod parsec1;
