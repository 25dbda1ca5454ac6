//! The Parsec platform security service.
//!
//! Request path: bytes from a front end ([`front`]) → [`parsec_wire`] header checks →
//! authenticator ([`auth`]) → dispatcher ([`dispatch`]) → provider ([`providers`]) → encoded
//! answer. [`service`] opens what a configuration describes and serves listeners it is given;
//! the binary binds them ([`socket`]), handles signals and talks to systemd.
//!
//! Its one job: the daemon. Imports the protocol crates (`parsec-wire`, `parsec-psa`,
//! `parsec-boss`, `parsec-parsec1`) and `parsec-keystore`; nothing imports it but its binary,
//! tests and fuzz targets. Inside, data flows one way: `front` → `dispatch` → `providers`, with
//! `auth` beside; `service` assembles them and nothing below imports it.

pub mod auth;
pub mod config;
pub mod dispatch;
pub mod engine;
pub mod front;
pub mod migrate;

pub mod providers;
pub mod service;
pub mod socket;
pub mod store;
