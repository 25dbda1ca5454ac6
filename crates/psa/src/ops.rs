//! One typed struct per operation and per non-empty result. Operations and results that carry
//! nothing are unit variants of [`crate::Operation`] and [`crate::OpResult`].

mod core;
mod crypto;
mod keys;

pub use self::core::{
    AuthenticatorInfo, DeleteClient, KeyInfo, ListAuthenticatorsResult, ListClientsResult,
    ListKeys, ListKeysResult, ListOpcodes, ListOpcodesResult, ListProvidersResult, PingResult,
    ProviderInfo,
};
pub use self::crypto::{
    AeadDecrypt, AeadDecryptResult, AeadEncrypt, AeadEncryptResult, AsymmetricDecrypt,
    AsymmetricDecryptResult, AsymmetricEncrypt, AsymmetricEncryptResult, CipherDecrypt,
    CipherDecryptResult, CipherEncrypt, CipherEncryptResult, GenerateRandom, GenerateRandomResult,
    HashCompare, HashCompute, HashComputeResult, MacCompute, MacComputeResult, MacVerify,
    RawKeyAgreement, RawKeyAgreementResult, SignHash, SignHashResult, SignMessage,
    SignMessageResult, VerifyHash, VerifyMessage,
};
pub use self::keys::{
    AttestKey, AttestKeyResult, CanDoCrypto, CheckType, DestroyKey, ExportKey, ExportKeyResult,
    ExportPublicKey, ExportPublicKeyResult, GenerateKey, ImportKey, PrepareKeyAttestation,
    PrepareKeyAttestationResult,
};

use crate::error::DecodeError;

/// How a typed value maps to its protobuf message.
pub(crate) trait Contract: Sized {
    type Proto: prost::Message + Default + serde::Serialize + serde::de::DeserializeOwned;
    /// Checks and converts a decoded message.
    fn from_proto(proto: Self::Proto) -> Result<Self, DecodeError>;
    /// Builds the message (cannot fail: every typed value is valid).
    fn to_proto(&self) -> Self::Proto;
    /// Zeroes the secret fields of a message built by [`Contract::to_proto`] once encoded.
    fn wipe(_proto: &mut Self::Proto) {}
}
