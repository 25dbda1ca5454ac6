//! The Parsec platform security service.
//!
//! Request path: bytes from a front end ([`front`]) → [`parsec_wire`] header checks →
//! authenticator ([`auth`]) → dispatcher ([`dispatch`]) → provider ([`providers`]) → encoded
//! answer. [`service`] opens what a configuration describes and serves listeners it is given;
//! the binary binds them ([`socket`]), handles signals and talks to systemd.

pub mod auth;
pub mod config;
pub mod dispatch;
pub mod front;

pub mod providers;
pub mod service;
pub mod socket;
pub mod store;
