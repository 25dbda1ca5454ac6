//! Cryptographic operations on a named key, plus hashing and random numbers.

use zeroize::Zeroize;

use super::Contract;
use crate::convert::algorithm::{
    cipher_from_i32, cipher_to_i32, hash_from_i32, hash_to_i32, raw_key_agreement_from_i32,
    raw_key_agreement_to_i32,
};
use crate::error::{required, DecodeError};
use crate::proto;
use crate::secret::Secret;
use crate::types::{
    Aead, AsymmetricEncryption, AsymmetricSignature, Cipher, Hash, Mac,
    RawKeyAgreement as RawKeyAgreementAlg,
};

fn alg<P, T: TryFrom<P, Error = DecodeError>>(p: Option<P>) -> Result<T, DecodeError> {
    required(p, "algorithm missing")?.try_into()
}

/// Declares a result that holds one byte string, public (`Vec<u8>`) or [`Secret`].
macro_rules! bytes_result {
    ($(#[$meta:meta])* $name:ident, $module:ident, $field:ident, Vec) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            pub $field: Vec<u8>,
        }

        impl Contract for $name {
            type Proto = proto::$module::Result;
            fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
                Ok($name { $field: p.$field })
            }
            fn to_proto(&self) -> Self::Proto {
                proto::$module::Result {
                    $field: self.$field.clone(),
                }
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, $module:ident, $field:ident, Secret) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            pub $field: Secret,
        }

        impl Contract for $name {
            type Proto = proto::$module::Result;
            fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
                Ok($name {
                    $field: Secret::new(p.$field),
                })
            }
            fn to_proto(&self) -> Self::Proto {
                proto::$module::Result {
                    $field: self.$field.expose().to_vec(),
                }
            }
            fn wipe(p: &mut Self::Proto) {
                p.$field.zeroize();
            }
        }
    };
}

/// Declares a sign operation (`SignHash` over a digest, `SignMessage` over a message).
macro_rules! sign_op {
    ($(#[$meta:meta])* $name:ident, $module:ident, $input:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            pub key_name: String,
            pub alg: AsymmetricSignature,
            pub $input: Vec<u8>,
        }

        impl Contract for $name {
            type Proto = proto::$module::Operation;
            fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
                Ok($name {
                    key_name: p.key_name,
                    alg: alg(p.alg)?,
                    $input: p.$input,
                })
            }
            fn to_proto(&self) -> Self::Proto {
                proto::$module::Operation {
                    key_name: self.key_name.clone(),
                    alg: Some(self.alg.into()),
                    $input: self.$input.clone(),
                }
            }
        }
    };
}

/// Declares a verify operation.
macro_rules! verify_op {
    ($(#[$meta:meta])* $name:ident, $module:ident, $input:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            pub key_name: String,
            pub alg: AsymmetricSignature,
            pub $input: Vec<u8>,
            pub signature: Vec<u8>,
        }

        impl Contract for $name {
            type Proto = proto::$module::Operation;
            fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
                Ok($name {
                    key_name: p.key_name,
                    alg: alg(p.alg)?,
                    $input: p.$input,
                    signature: p.signature,
                })
            }
            fn to_proto(&self) -> Self::Proto {
                proto::$module::Operation {
                    key_name: self.key_name.clone(),
                    alg: Some(self.alg.into()),
                    $input: self.$input.clone(),
                    signature: self.signature.clone(),
                }
            }
        }
    };
}

sign_op!(
    /// PsaSignHash: sign a digest.
    SignHash,
    psa_sign_hash,
    hash
);
sign_op!(
    /// PsaSignMessage: hash and sign a message.
    SignMessage,
    psa_sign_message,
    message
);
verify_op!(
    /// PsaVerifyHash.
    VerifyHash,
    psa_verify_hash,
    hash
);
verify_op!(
    /// PsaVerifyMessage.
    VerifyMessage,
    psa_verify_message,
    message
);
bytes_result!(
    /// PsaSignHash's answer.
    SignHashResult,
    psa_sign_hash,
    signature,
    Vec
);
bytes_result!(
    /// PsaSignMessage's answer.
    SignMessageResult,
    psa_sign_message,
    signature,
    Vec
);

fn optional_salt(salt: Vec<u8>) -> Option<Vec<u8>> {
    (!salt.is_empty()).then_some(salt)
}

/// PsaAsymmetricEncrypt. An empty salt on the wire is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsymmetricEncrypt {
    pub key_name: String,
    pub alg: AsymmetricEncryption,
    pub plaintext: Secret,
    pub salt: Option<Vec<u8>>,
}

impl Contract for AsymmetricEncrypt {
    type Proto = proto::psa_asymmetric_encrypt::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        // Wrapped first so that it is wiped even if a later field is refused.
        let plaintext = Secret::new(p.plaintext);
        Ok(AsymmetricEncrypt {
            key_name: p.key_name,
            alg: alg(p.alg)?,
            plaintext,
            salt: optional_salt(p.salt),
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_asymmetric_encrypt::Operation {
            key_name: self.key_name.clone(),
            alg: Some(self.alg.into()),
            plaintext: self.plaintext.expose().to_vec(),
            salt: self.salt.clone().unwrap_or_default(),
        }
    }
    fn wipe(p: &mut Self::Proto) {
        p.plaintext.zeroize();
    }
}

/// PsaAsymmetricDecrypt. An empty salt on the wire is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsymmetricDecrypt {
    pub key_name: String,
    pub alg: AsymmetricEncryption,
    pub ciphertext: Vec<u8>,
    pub salt: Option<Vec<u8>>,
}

impl Contract for AsymmetricDecrypt {
    type Proto = proto::psa_asymmetric_decrypt::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(AsymmetricDecrypt {
            key_name: p.key_name,
            alg: alg(p.alg)?,
            ciphertext: p.ciphertext,
            salt: optional_salt(p.salt),
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_asymmetric_decrypt::Operation {
            key_name: self.key_name.clone(),
            alg: Some(self.alg.into()),
            ciphertext: self.ciphertext.clone(),
            salt: self.salt.clone().unwrap_or_default(),
        }
    }
}

bytes_result!(
    /// PsaAsymmetricEncrypt's answer.
    AsymmetricEncryptResult,
    psa_asymmetric_encrypt,
    ciphertext,
    Vec
);
bytes_result!(
    /// PsaAsymmetricDecrypt's answer.
    AsymmetricDecryptResult,
    psa_asymmetric_decrypt,
    plaintext,
    Secret
);

/// PsaAeadEncrypt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AeadEncrypt {
    pub key_name: String,
    pub alg: Aead,
    pub nonce: Vec<u8>,
    pub additional_data: Vec<u8>,
    pub plaintext: Secret,
}

impl Contract for AeadEncrypt {
    type Proto = proto::psa_aead_encrypt::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        // Wrapped first so that it is wiped even if a later field is refused.
        let plaintext = Secret::new(p.plaintext);
        Ok(AeadEncrypt {
            key_name: p.key_name,
            alg: alg(p.alg)?,
            nonce: p.nonce,
            additional_data: p.additional_data,
            plaintext,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_aead_encrypt::Operation {
            key_name: self.key_name.clone(),
            alg: Some(self.alg.into()),
            nonce: self.nonce.clone(),
            additional_data: self.additional_data.clone(),
            plaintext: self.plaintext.expose().to_vec(),
        }
    }
    fn wipe(p: &mut Self::Proto) {
        p.plaintext.zeroize();
    }
}

/// PsaAeadDecrypt. The tag is at the end of `ciphertext`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AeadDecrypt {
    pub key_name: String,
    pub alg: Aead,
    pub nonce: Vec<u8>,
    pub additional_data: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl Contract for AeadDecrypt {
    type Proto = proto::psa_aead_decrypt::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(AeadDecrypt {
            key_name: p.key_name,
            alg: alg(p.alg)?,
            nonce: p.nonce,
            additional_data: p.additional_data,
            ciphertext: p.ciphertext,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_aead_decrypt::Operation {
            key_name: self.key_name.clone(),
            alg: Some(self.alg.into()),
            nonce: self.nonce.clone(),
            additional_data: self.additional_data.clone(),
            ciphertext: self.ciphertext.clone(),
        }
    }
}

bytes_result!(
    /// PsaAeadEncrypt's answer (ciphertext followed by the tag).
    AeadEncryptResult,
    psa_aead_encrypt,
    ciphertext,
    Vec
);
bytes_result!(
    /// PsaAeadDecrypt's answer.
    AeadDecryptResult,
    psa_aead_decrypt,
    plaintext,
    Secret
);

/// PsaCipherEncrypt. The service picks the IV and prepends it to the ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CipherEncrypt {
    pub key_name: String,
    pub alg: Cipher,
    pub plaintext: Secret,
}

impl Contract for CipherEncrypt {
    type Proto = proto::psa_cipher_encrypt::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        // Wrapped first so that it is wiped even if a later field is refused.
        let plaintext = Secret::new(p.plaintext);
        Ok(CipherEncrypt {
            key_name: p.key_name,
            alg: cipher_from_i32(p.alg)?,
            plaintext,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_cipher_encrypt::Operation {
            key_name: self.key_name.clone(),
            alg: cipher_to_i32(self.alg),
            plaintext: self.plaintext.expose().to_vec(),
        }
    }
    fn wipe(p: &mut Self::Proto) {
        p.plaintext.zeroize();
    }
}

/// PsaCipherDecrypt. `ciphertext` starts with the IV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CipherDecrypt {
    pub key_name: String,
    pub alg: Cipher,
    pub ciphertext: Vec<u8>,
}

impl Contract for CipherDecrypt {
    type Proto = proto::psa_cipher_decrypt::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(CipherDecrypt {
            key_name: p.key_name,
            alg: cipher_from_i32(p.alg)?,
            ciphertext: p.ciphertext,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_cipher_decrypt::Operation {
            key_name: self.key_name.clone(),
            alg: cipher_to_i32(self.alg),
            ciphertext: self.ciphertext.clone(),
        }
    }
}

bytes_result!(
    /// PsaCipherEncrypt's answer.
    CipherEncryptResult,
    psa_cipher_encrypt,
    ciphertext,
    Vec
);
bytes_result!(
    /// PsaCipherDecrypt's answer.
    CipherDecryptResult,
    psa_cipher_decrypt,
    plaintext,
    Secret
);

/// PsaMacCompute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacCompute {
    pub key_name: String,
    pub alg: Mac,
    pub input: Vec<u8>,
}

impl Contract for MacCompute {
    type Proto = proto::psa_mac_compute::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(MacCompute {
            key_name: p.key_name,
            alg: alg(p.alg)?,
            input: p.input,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_mac_compute::Operation {
            key_name: self.key_name.clone(),
            alg: Some(self.alg.into()),
            input: self.input.clone(),
        }
    }
}

/// PsaMacVerify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacVerify {
    pub key_name: String,
    pub alg: Mac,
    pub input: Vec<u8>,
    pub mac: Vec<u8>,
}

impl Contract for MacVerify {
    type Proto = proto::psa_mac_verify::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(MacVerify {
            key_name: p.key_name,
            alg: alg(p.alg)?,
            input: p.input,
            mac: p.mac,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_mac_verify::Operation {
            key_name: self.key_name.clone(),
            alg: Some(self.alg.into()),
            input: self.input.clone(),
            mac: self.mac.clone(),
        }
    }
}

bytes_result!(
    /// PsaMacCompute's answer.
    MacComputeResult,
    psa_mac_compute,
    mac,
    Vec
);

/// PsaGenerateRandom. `size` is the caller's number, unchecked: the service compares it with
/// its buffer limit before allocating anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateRandom {
    pub size: u64,
}

impl Contract for GenerateRandom {
    type Proto = proto::psa_generate_random::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(GenerateRandom { size: p.size })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_generate_random::Operation { size: self.size }
    }
}

bytes_result!(
    /// PsaGenerateRandom's answer.
    GenerateRandomResult,
    psa_generate_random,
    random_bytes,
    Secret
);

/// PsaHashCompute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashCompute {
    pub alg: Hash,
    pub input: Vec<u8>,
}

impl Contract for HashCompute {
    type Proto = proto::psa_hash_compute::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(HashCompute {
            alg: hash_from_i32(p.alg)?,
            input: p.input,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_hash_compute::Operation {
            alg: hash_to_i32(self.alg),
            input: self.input.clone(),
        }
    }
}

bytes_result!(
    /// PsaHashCompute's answer.
    HashComputeResult,
    psa_hash_compute,
    hash,
    Vec
);

/// PsaHashCompare: whether `hash` is the digest of `input`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashCompare {
    pub alg: Hash,
    pub input: Vec<u8>,
    pub hash: Vec<u8>,
}

impl Contract for HashCompare {
    type Proto = proto::psa_hash_compare::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(HashCompare {
            alg: hash_from_i32(p.alg)?,
            input: p.input,
            hash: p.hash,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_hash_compare::Operation {
            alg: hash_to_i32(self.alg),
            input: self.input.clone(),
            hash: self.hash.clone(),
        }
    }
}

/// PsaRawKeyAgreement: the shared secret of a private key and a peer's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawKeyAgreement {
    pub alg: RawKeyAgreementAlg,
    pub private_key_name: String,
    pub peer_key: Vec<u8>,
}

impl Contract for RawKeyAgreement {
    type Proto = proto::psa_raw_key_agreement::Operation;
    fn from_proto(p: Self::Proto) -> Result<Self, DecodeError> {
        Ok(RawKeyAgreement {
            alg: raw_key_agreement_from_i32(p.alg)?,
            private_key_name: p.private_key_name,
            peer_key: p.peer_key,
        })
    }
    fn to_proto(&self) -> Self::Proto {
        proto::psa_raw_key_agreement::Operation {
            alg: raw_key_agreement_to_i32(self.alg),
            private_key_name: self.private_key_name.clone(),
            peer_key: self.peer_key.clone(),
        }
    }
}

bytes_result!(
    /// PsaRawKeyAgreement's answer.
    RawKeyAgreementResult,
    psa_raw_key_agreement,
    shared_secret,
    Secret
);
