//! The operation and result enums and the body codec, driven by one table per direction.

use parsec_wire::Opcode;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::ops::{self, Contract};
use crate::proto;

fn decode_typed<T: Contract>(body: &[u8]) -> Result<T, DecodeError> {
    T::from_proto(T::Proto::decode(Wiping(body))?)
}

/// The request body as prost reads it. prost copies each bytes field through a temporary
/// buffer (`Buf::copy_to_bytes`) and frees it: here that buffer is wiped when freed, since a
/// field may be key material or a plaintext.
struct Wiping<'a>(&'a [u8]);

/// A copy of bytes from a body, wiped when dropped.
struct WipedCopy(Vec<u8>);

impl AsRef<[u8]> for WipedCopy {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for WipedCopy {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl bytes::Buf for Wiping<'_> {
    fn remaining(&self) -> usize {
        self.0.len()
    }

    fn chunk(&self) -> &[u8] {
        self.0
    }

    fn advance(&mut self, n: usize) {
        self.0 = &self.0[n.min(self.0.len())..];
    }

    fn copy_to_bytes(&mut self, len: usize) -> bytes::Bytes {
        // prost checks `len` against `remaining` before asking.
        let len = len.min(self.0.len());
        let copy = WipedCopy(self.0[..len].to_vec());
        self.advance(len);
        bytes::Bytes::from_owner(copy)
    }
}

fn decode_empty<P: Message + Default>(body: &[u8]) -> Result<(), DecodeError> {
    P::decode(body)?;
    Ok(())
}

fn deserialize_typed<'de, T: Contract, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<T, DecodeError> {
    T::from_proto(T::Proto::deserialize(d).map_err(fields)?)
}

fn deserialize_empty<'de, P: serde::de::DeserializeOwned, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<(), DecodeError> {
    P::deserialize(d).map_err(fields)?;
    Ok(())
}

fn fields<E: std::fmt::Display>(e: E) -> DecodeError {
    DecodeError::Fields(e.to_string())
}

fn serialize_typed<T: Contract, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    let mut proto = value.to_proto();
    let out = proto.serialize(s);
    T::wipe(&mut proto);
    out
}

fn encode_typed<T: Contract>(value: &T) -> Vec<u8> {
    let mut proto = value.to_proto();
    let body = proto.encode_to_vec();
    T::wipe(&mut proto);
    body
}

macro_rules! contracts {
    (
        $(#[$meta:meta])* enum $name:ident, $decode:ident, $encode:ident, $de:ident, $ser:ident;
        empty { $($empty:ident = $proto:ty,)* }
        typed { $($typed:ident($ty:ty),)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $($empty,)*
            $($typed($ty),)*
        }

        impl $name {
            /// The opcode this value belongs to.
            pub fn opcode(&self) -> Opcode {
                match self {
                    $($name::$empty => Opcode::$empty,)*
                    $($name::$typed(_) => Opcode::$typed,)*
                }
            }
        }

        pub(crate) fn $decode(opcode: Opcode, body: &[u8]) -> Result<$name, DecodeError> {
            match opcode {
                $(Opcode::$empty => {
                    decode_empty::<$proto>(body)?;
                    Ok($name::$empty)
                })*
                $(Opcode::$typed => Ok($name::$typed(decode_typed::<$ty>(body)?)),)*
                #[allow(unreachable_patterns)]
                _ => Err(DecodeError::InvalidEncoding("opcode without a contract")),
            }
        }

        pub(crate) fn $encode(value: &$name) -> Vec<u8> {
            match value {
                $($name::$empty => Vec::new(),)*
                $($name::$typed(inner) => encode_typed(inner),)*
            }
        }

        pub(crate) fn $de<'de, D: serde::Deserializer<'de>>(
            opcode: Opcode,
            d: D,
        ) -> Result<$name, DecodeError> {
            match opcode {
                $(Opcode::$empty => {
                    deserialize_empty::<$proto, D>(d)?;
                    Ok($name::$empty)
                })*
                $(Opcode::$typed => Ok($name::$typed(deserialize_typed::<$ty, D>(d)?)),)*
                #[allow(unreachable_patterns)]
                _ => Err(DecodeError::InvalidEncoding("opcode without a contract")),
            }
        }

        pub(crate) fn $ser<S: serde::Serializer>(value: &$name, s: S) -> Result<S::Ok, S::Error> {
            match value {
                $($name::$empty => <$proto>::default().serialize(s),)*
                $($name::$typed(inner) => serialize_typed(inner, s),)*
            }
        }
    };
}

contracts! {
    /// A decoded request body, one variant per opcode (named like [`Opcode`]).
    enum Operation, decode_op, encode_op, de_op, ser_op;
    empty {
        Ping = proto::ping::Operation,
        ListProviders = proto::list_providers::Operation,
        ListAuthenticators = proto::list_authenticators::Operation,
        ListClients = proto::list_clients::Operation,
    }
    typed {
        ListOpcodes(ops::ListOpcodes),
        ListKeys(ops::ListKeys),
        DeleteClient(ops::DeleteClient),
        PsaGenerateKey(ops::GenerateKey),
        PsaDestroyKey(ops::DestroyKey),
        PsaSignHash(ops::SignHash),
        PsaVerifyHash(ops::VerifyHash),
        PsaImportKey(ops::ImportKey),
        PsaExportPublicKey(ops::ExportPublicKey),
        PsaAsymmetricEncrypt(ops::AsymmetricEncrypt),
        PsaAsymmetricDecrypt(ops::AsymmetricDecrypt),
        PsaExportKey(ops::ExportKey),
        PsaGenerateRandom(ops::GenerateRandom),
        PsaHashCompute(ops::HashCompute),
        PsaHashCompare(ops::HashCompare),
        PsaAeadEncrypt(ops::AeadEncrypt),
        PsaAeadDecrypt(ops::AeadDecrypt),
        PsaRawKeyAgreement(ops::RawKeyAgreement),
        PsaCipherEncrypt(ops::CipherEncrypt),
        PsaCipherDecrypt(ops::CipherDecrypt),
        PsaMacCompute(ops::MacCompute),
        PsaMacVerify(ops::MacVerify),
        PsaSignMessage(ops::SignMessage),
        PsaVerifyMessage(ops::VerifyMessage),
        AttestKey(ops::AttestKey),
        PrepareKeyAttestation(ops::PrepareKeyAttestation),
        CanDoCrypto(ops::CanDoCrypto),
    }
}

contracts! {
    /// A response body, one variant per opcode (named like [`Opcode`]).
    enum OpResult, decode_res, encode_res, de_res, ser_res;
    empty {
        DeleteClient = proto::delete_client::Result,
        PsaGenerateKey = proto::psa_generate_key::Result,
        PsaDestroyKey = proto::psa_destroy_key::Result,
        PsaVerifyHash = proto::psa_verify_hash::Result,
        PsaImportKey = proto::psa_import_key::Result,
        PsaHashCompare = proto::psa_hash_compare::Result,
        PsaMacVerify = proto::psa_mac_verify::Result,
        PsaVerifyMessage = proto::psa_verify_message::Result,
        CanDoCrypto = proto::can_do_crypto::Result,
    }
    typed {
        Ping(ops::PingResult),
        ListProviders(ops::ListProvidersResult),
        ListOpcodes(ops::ListOpcodesResult),
        ListAuthenticators(ops::ListAuthenticatorsResult),
        ListKeys(ops::ListKeysResult),
        ListClients(ops::ListClientsResult),
        PsaSignHash(ops::SignHashResult),
        PsaExportPublicKey(ops::ExportPublicKeyResult),
        PsaAsymmetricEncrypt(ops::AsymmetricEncryptResult),
        PsaAsymmetricDecrypt(ops::AsymmetricDecryptResult),
        PsaExportKey(ops::ExportKeyResult),
        PsaGenerateRandom(ops::GenerateRandomResult),
        PsaHashCompute(ops::HashComputeResult),
        PsaAeadEncrypt(ops::AeadEncryptResult),
        PsaAeadDecrypt(ops::AeadDecryptResult),
        PsaRawKeyAgreement(ops::RawKeyAgreementResult),
        PsaCipherEncrypt(ops::CipherEncryptResult),
        PsaCipherDecrypt(ops::CipherDecryptResult),
        PsaMacCompute(ops::MacComputeResult),
        PsaSignMessage(ops::SignMessageResult),
        AttestKey(ops::AttestKeyResult),
        PrepareKeyAttestation(ops::PrepareKeyAttestationResult),
    }
}

/// Decodes the body of a request with this opcode.
pub fn decode_operation(opcode: Opcode, body: &[u8]) -> Result<Operation, DecodeError> {
    decode_op(opcode, body)
}

/// Encodes a request body (for clients and tests).
pub fn encode_operation(op: &Operation) -> Vec<u8> {
    encode_op(op)
}

/// Decodes the body of a successful response to a request with this opcode.
pub fn decode_result(opcode: Opcode, body: &[u8]) -> Result<OpResult, DecodeError> {
    decode_res(opcode, body)
}

/// Encodes the body of a successful response.
pub fn encode_result(result: &OpResult) -> Vec<u8> {
    encode_res(result)
}

/// Reads the arguments of an operation from a self-describing format (the BOSS dictionary of a
/// Parsec.1 command). The fields are those of the protobuf contract, in lower camel case; absent
/// fields take their protobuf default, and the result is checked exactly as a protobuf body is.
pub fn deserialize_operation<'de, D: serde::Deserializer<'de>>(
    opcode: Opcode,
    d: D,
) -> Result<Operation, DecodeError> {
    de_op(opcode, d)
}

/// Writes an operation in the form [`deserialize_operation`] reads (for clients and tests).
pub fn serialize_operation<S: serde::Serializer>(op: &Operation, s: S) -> Result<S::Ok, S::Error> {
    ser_op(op, s)
}

/// Reads a result written by [`serialize_result`].
pub fn deserialize_result<'de, D: serde::Deserializer<'de>>(
    opcode: Opcode,
    d: D,
) -> Result<OpResult, DecodeError> {
    de_res(opcode, d)
}

/// Writes a result as a dictionary of its protobuf contract's fields (lower camel case).
pub fn serialize_result<S: serde::Serializer>(result: &OpResult, s: S) -> Result<S::Ok, S::Error> {
    ser_res(result, s)
}
