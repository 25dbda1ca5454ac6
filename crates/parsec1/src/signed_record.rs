//! SignedRecord (spec §4.6): a payload signed with an RSA key that travels with it.
//!
//! ```text
//! outer = [type: int, packedPublicKey: BIN, signature: BIN, data: BIN]
//! data  = BOSS [nonce: BIN | null, payload: any]      (the signature covers exactly these bytes)
//! ```
//! Only type 0 (PSS with SHA3-384) exists in the clients. Unpacking verifies the signature
//! with the embedded key; whether that key is acceptable is the caller's decision, usually by
//! its long address.

use parsec_boss::{Limits, Value};

use crate::error::{Error, Result};
use crate::keys::{PrivateKey, PublicKey};

/// SignedRecord type 0: RSA-PSS with SHA3-384 (MGF1-SHA-1, maximum salt).
pub const TYPE_SHA3_384: i128 = 0;

/// A verified record.
#[derive(Debug, Clone)]
pub struct SignedRecord {
    key: PublicKey,
    nonce: Option<Vec<u8>>,
    payload: Value,
}

impl SignedRecord {
    /// Signs `payload` with `key` and packs the record.
    pub fn pack(key: &PrivateKey, nonce: Option<&[u8]>, payload: &Value) -> Result<Vec<u8>> {
        let nonce = nonce.map_or(Value::Null, |n| Value::Bin(n.to_vec()));
        let data = parsec_boss::encode(&Value::List(vec![nonce, payload.clone()]))?;
        let signature = key.sign_pss(&data)?;
        let outer = Value::List(vec![
            Value::Int(TYPE_SHA3_384),
            Value::Bin(key.public_key().pack()),
            Value::Bin(signature),
            Value::Bin(data),
        ]);
        Ok(parsec_boss::encode(&outer)?)
    }

    /// Unpacks and verifies a record, with the default BOSS limits.
    pub fn unpack(bytes: &[u8]) -> Result<SignedRecord> {
        Self::unpack_with(bytes, Limits::default())
    }

    /// Unpacks and verifies a record; `limits` apply to the outer list and to the data.
    pub fn unpack_with(bytes: &[u8], limits: Limits) -> Result<SignedRecord> {
        let outer_limits = Limits {
            max_depth: 1,
            max_elements: 5,
            ..limits
        };
        let outer = parsec_boss::decode_with(bytes, outer_limits)?;
        let [kind, key, signature, data] = outer.as_list().ok_or(Error::BadRecord("not a list"))?
        else {
            return Err(Error::BadRecord("not a list of four"));
        };
        match kind.as_int() {
            Some(TYPE_SHA3_384) => {}
            Some(other) => return Err(Error::UnsupportedRecordType(other)),
            None => return Err(Error::BadRecord("type is not an integer")),
        }
        let bin = |v: &'_ Value| {
            v.as_bytes()
                .ok_or(Error::BadRecord("a field is not binary"))
                .map(<[u8]>::to_vec)
        };
        let key = PublicKey::unpack(&bin(key)?)?;
        let data = bin(data)?;
        key.verify_pss(&data, &bin(signature)?)?;
        let inner = parsec_boss::decode_with(&data, limits)?;
        let Value::List(items) = inner else {
            return Err(Error::BadRecord("data is not a list"));
        };
        let Ok::<[Value; 2], _>([nonce, payload]) = items.try_into() else {
            return Err(Error::BadRecord("data is not [nonce, payload]"));
        };
        let nonce = match nonce {
            Value::Null => None,
            other => Some(
                other
                    .as_bytes()
                    .ok_or(Error::BadRecord("nonce is not binary"))?
                    .to_vec(),
            ),
        };
        Ok(SignedRecord {
            key,
            nonce,
            payload,
        })
    }

    /// The key that signed (verified, not yet trusted).
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_deref()
    }

    pub fn payload(&self) -> &Value {
        &self.payload
    }

    pub fn into_payload(self) -> Value {
        self.payload
    }
}
