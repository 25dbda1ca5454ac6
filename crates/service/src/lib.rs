//! The Parsec platform security service.
//!
//! Request path: bytes from a front end ([`front`]) → [`parsec_wire`] header checks →
//! authenticator ([`auth`]) → dispatcher ([`dispatch`]) → provider ([`providers`]) → encoded
//! answer. [`server`] owns the daemon's life (socket, signals, reload, systemd).

pub mod auth;
pub mod config;
pub mod dispatch;
pub mod front;

pub mod providers;
pub mod server;
pub mod store;
