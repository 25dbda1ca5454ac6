//! The Parsec.1 service key: an RSA key made at first start and kept, sealed like every other
//! key, in the service's key store under a name no application can reach.

use anyhow::Context;
use parsec1::PrivateKey;
use parsec_keystore::{KeyId, KeyRecord, KeyStore, StoreError};

/// The key store's number for the service's own keys: outside the wire's auth types and
/// [`crate::auth::PARSEC1_STORE_TAG`], so no application of any kind can name it.
pub const SERVICE_STORE_TAG: u8 = 0x80;

fn id() -> KeyId {
    KeyId {
        auth: SERVICE_STORE_TAG,
        app: "parsec1".into(),
        name: "service-key".into(),
    }
}

/// The stored service key, or a new one of `bits` bits, stored.
pub fn load_or_create(store: &dyn KeyStore, bits: usize) -> anyhow::Result<PrivateKey> {
    if let Some(record) = store
        .get(&id())
        .context("cannot read the Parsec.1 service key")?
    {
        let key = PrivateKey::unpack(&record.material)
            .context("the stored Parsec.1 service key is invalid")?;
        if key.public_key().bits() != bits {
            tracing::warn!(
                "the Parsec.1 service key has {} bits; parsec1.service_key_bits = {bits} applies to new keys only",
                key.public_key().bits()
            );
        }
        return Ok(key);
    }
    tracing::info!("generating the Parsec.1 service key ({bits} bits)");
    let key = PrivateKey::generate(bits).context("cannot generate the Parsec.1 service key")?;
    let record = KeyRecord {
        provider: 0,
        attributes: Vec::new(),
        material: key.pack(),
    };
    match store.create(&id(), &record) {
        Ok(()) => Ok(key),
        // Another instance on the same store made one first: use it.
        Err(StoreError::AlreadyExists) => load_or_create(store, bits),
        Err(e) => Err(e).context("cannot store the Parsec.1 service key"),
    }
}
