//! The protobuf contracts, written by hand with prost: one module per `.proto` file of
//! `parsec-operations`, with the same package names, message names, field numbers, field types,
//! oneofs and enumeration values. Each operation module holds an `Operation` (request) and a
//! `Result` (response) message.
//!
//! These types accept anything that is valid protobuf; the typed layer ([`crate::ops`] and
//! [`crate::types`]) is where invalid values are refused.

#![allow(missing_docs)]

pub mod attest_key;
pub mod can_do_crypto;
pub mod delete_client;
pub mod list_authenticators;
pub mod list_clients;
pub mod list_keys;
pub mod list_opcodes;
pub mod list_providers;
pub mod ping;
pub mod prepare_key_attestation;
pub mod psa_aead_decrypt;
pub mod psa_aead_encrypt;
pub mod psa_algorithm;
pub mod psa_asymmetric_decrypt;
pub mod psa_asymmetric_encrypt;
pub mod psa_cipher_decrypt;
pub mod psa_cipher_encrypt;
pub mod psa_destroy_key;
pub mod psa_export_key;
pub mod psa_export_public_key;
pub mod psa_generate_key;
pub mod psa_generate_random;
pub mod psa_hash_compare;
pub mod psa_hash_compute;
pub mod psa_import_key;
pub mod psa_key_attributes;
pub mod psa_mac_compute;
pub mod psa_mac_verify;
pub mod psa_raw_key_agreement;
pub mod psa_sign_hash;
pub mod psa_sign_message;
pub mod psa_verify_hash;
pub mod psa_verify_message;
