//! The software provider (id 1, upstream's `MbedCrypto`).

pub mod asym;
pub mod sym;

/// The status a store failure is reported with (parked version; the provider lands with the
/// engines).
pub fn store_status(e: parsec_keystore::StoreError) -> parsec_wire::Status {
    match e {
        parsec_keystore::StoreError::AlreadyExists => parsec_wire::Status::PsaErrorAlreadyExists,
        parsec_keystore::StoreError::Corrupt => parsec_wire::Status::PsaErrorDataCorrupt,
        _ => parsec_wire::Status::PsaErrorStorageFailure,
    }
}
