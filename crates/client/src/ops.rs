//! The full typed operation set: one method per operation of the wire protocol, on the
//! client's provider. The simpler calls with defaults are in [`crate::easy`].

use parsec_psa::glob::{Pattern, MAX_PATTERN_LEN};
use parsec_psa::ops::{self, AuthenticatorInfo, KeyInfo, PingResult, ProviderInfo};
use parsec_psa::{
    Aead, AsymmetricEncryption, AsymmetricSignature, Cipher, Hash, KeyAttributes, Mac, OpResult,
    Operation, RawKeyAgreement, Secret,
};
use parsec_wire::{Opcode, ProviderId};

use crate::{Client, Error};

/// Takes the expected variant out of a result.
macro_rules! expect {
    ($result:expr, $variant:ident) => {
        match $result {
            OpResult::$variant(r) => Ok(r),
            other => Err(Error::Protocol(format!(
                "expected the result of {}, got that of {}",
                Opcode::$variant.remote_name(),
                other.opcode().remote_name()
            ))),
        }
    };
    ($result:expr, $variant:ident, empty) => {
        match $result {
            OpResult::$variant => Ok(()),
            other => Err(Error::Protocol(format!(
                "expected the result of {}, got that of {}",
                Opcode::$variant.remote_name(),
                other.opcode().remote_name()
            ))),
        }
    };
}

impl Client {
    /// The wire protocol version the service speaks, as (major, minor).
    pub fn ping(&self) -> Result<(u8, u8), Error> {
        let PingResult {
            wire_protocol_version_maj,
            wire_protocol_version_min,
        } = expect!(self.call(&Operation::Ping)?, Ping)?;
        Ok((wire_protocol_version_maj, wire_protocol_version_min))
    }

    /// The service's providers, the core provider included (last, as upstream lists it).
    pub fn list_providers(&self) -> Result<Vec<ProviderInfo>, Error> {
        Ok(expect!(self.call(&Operation::ListProviders)?, ListProviders)?.providers)
    }

    /// The operations `provider` supports.
    pub fn list_opcodes(&self, provider: ProviderId) -> Result<Vec<Opcode>, Error> {
        let op = Operation::ListOpcodes(ops::ListOpcodes {
            provider_id: provider as u8,
        });
        Ok(expect!(self.call(&op)?, ListOpcodes)?.opcodes)
    }

    /// The service's authenticators, in its order of preference.
    pub fn list_authenticators(&self) -> Result<Vec<AuthenticatorInfo>, Error> {
        Ok(expect!(
            self.call(&Operation::ListAuthenticators)?,
            ListAuthenticators
        )?
        .authenticators)
    }

    /// This application's keys, on every provider.
    pub fn list_keys(&self) -> Result<Vec<KeyInfo>, Error> {
        self.list_keys_matching(None)
    }

    /// This application's keys whose names match a pattern (`*` any run of characters but
    /// `/`, `**` any run, `?` one character but `/`, `\` quotes the next one). A service that
    /// does not know patterns (upstream's) lists every key: they are matched here too.
    pub fn list_keys_matching(&self, pattern: Option<&str>) -> Result<Vec<KeyInfo>, Error> {
        let compiled = pattern
            .map(|p| {
                Pattern::new(p).ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "bad key-name pattern `{p}`: longer than {MAX_PATTERN_LEN} bytes, or \
                         ends in a lone `\\`"
                    ))
                })
            })
            .transpose()?;
        let op = Operation::ListKeys(ops::ListKeys {
            pattern: pattern.map(str::to_string),
        });
        let mut keys = expect!(self.call(&op)?, ListKeys)?.keys;
        if let Some(p) = compiled {
            keys.retain(|k| p.matches(&k.name));
        }
        Ok(keys)
    }

    /// The applications that have keys in the service (administrators only).
    pub fn list_clients(&self) -> Result<Vec<String>, Error> {
        Ok(expect!(self.call(&Operation::ListClients)?, ListClients)?.clients)
    }

    /// Deletes every key of application `client` (administrators only).
    pub fn delete_client(&self, client: &str) -> Result<(), Error> {
        let op = Operation::DeleteClient(ops::DeleteClient {
            client: client.to_string(),
        });
        expect!(self.call(&op)?, DeleteClient, empty)
    }

    /// Whether the provider can `check` a key with these attributes (an error says why not).
    pub fn can_do_crypto(
        &self,
        check: parsec_psa::ops::CheckType,
        attributes: KeyAttributes,
    ) -> Result<(), Error> {
        let op = Operation::CanDoCrypto(ops::CanDoCrypto {
            check_type: check,
            attributes,
        });
        expect!(self.call(&op)?, CanDoCrypto, empty)
    }

    /// Generates a key.
    pub fn psa_generate_key(&self, name: &str, attributes: KeyAttributes) -> Result<(), Error> {
        let op = Operation::PsaGenerateKey(ops::GenerateKey {
            key_name: name.to_string(),
            attributes,
        });
        let result = self.call(&op);
        self.forget_key(name);
        expect!(result?, PsaGenerateKey, empty)
    }

    /// Imports a key (`data` in the PSA export format of its type).
    pub fn psa_import_key(
        &self,
        name: &str,
        data: &[u8],
        attributes: KeyAttributes,
    ) -> Result<(), Error> {
        let op = Operation::PsaImportKey(ops::ImportKey {
            key_name: name.to_string(),
            attributes,
            data: Secret::from(data),
        });
        let result = self.call(&op);
        self.forget_key(name);
        expect!(result?, PsaImportKey, empty)
    }

    /// Destroys a key.
    pub fn psa_destroy_key(&self, name: &str) -> Result<(), Error> {
        let op = Operation::PsaDestroyKey(ops::DestroyKey {
            key_name: name.to_string(),
        });
        let result = self.call(&op);
        self.forget_key(name);
        expect!(result?, PsaDestroyKey, empty)
    }

    /// The public part of a key, in the PSA format (RSA: PKCS#1 RSAPublicKey DER; ECC: the
    /// uncompressed point).
    pub fn psa_export_public_key(&self, name: &str) -> Result<Vec<u8>, Error> {
        let op = Operation::PsaExportPublicKey(ops::ExportPublicKey {
            key_name: name.to_string(),
        });
        Ok(expect!(self.call(&op)?, PsaExportPublicKey)?.data)
    }

    /// A key's material, when its policy allows export.
    pub fn psa_export_key(&self, name: &str) -> Result<Secret, Error> {
        let op = Operation::PsaExportKey(ops::ExportKey {
            key_name: name.to_string(),
        });
        Ok(expect!(self.call(&op)?, PsaExportKey)?.data)
    }

    /// Signs a digest.
    pub fn psa_sign_hash(
        &self,
        name: &str,
        hash: &[u8],
        alg: AsymmetricSignature,
    ) -> Result<Vec<u8>, Error> {
        let op = Operation::PsaSignHash(ops::SignHash {
            key_name: name.to_string(),
            alg,
            hash: hash.to_vec(),
        });
        Ok(expect!(self.call(&op)?, PsaSignHash)?.signature)
    }

    /// Verifies a signature over a digest.
    pub fn psa_verify_hash(
        &self,
        name: &str,
        hash: &[u8],
        alg: AsymmetricSignature,
        signature: &[u8],
    ) -> Result<(), Error> {
        let op = Operation::PsaVerifyHash(ops::VerifyHash {
            key_name: name.to_string(),
            alg,
            hash: hash.to_vec(),
            signature: signature.to_vec(),
        });
        expect!(self.call(&op)?, PsaVerifyHash, empty)
    }

    /// Signs a message (the provider hashes it).
    pub fn psa_sign_message(
        &self,
        name: &str,
        message: &[u8],
        alg: AsymmetricSignature,
    ) -> Result<Vec<u8>, Error> {
        let op = Operation::PsaSignMessage(ops::SignMessage {
            key_name: name.to_string(),
            alg,
            message: message.to_vec(),
        });
        Ok(expect!(self.call(&op)?, PsaSignMessage)?.signature)
    }

    /// Verifies a signature over a message.
    pub fn psa_verify_message(
        &self,
        name: &str,
        message: &[u8],
        alg: AsymmetricSignature,
        signature: &[u8],
    ) -> Result<(), Error> {
        let op = Operation::PsaVerifyMessage(ops::VerifyMessage {
            key_name: name.to_string(),
            alg,
            message: message.to_vec(),
            signature: signature.to_vec(),
        });
        expect!(self.call(&op)?, PsaVerifyMessage, empty)
    }

    /// Encrypts with an RSA public key (or the public half of a key pair).
    pub fn psa_asymmetric_encrypt(
        &self,
        name: &str,
        alg: AsymmetricEncryption,
        plaintext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Vec<u8>, Error> {
        let op = Operation::PsaAsymmetricEncrypt(ops::AsymmetricEncrypt {
            key_name: name.to_string(),
            alg,
            plaintext: Secret::from(plaintext),
            salt: salt.map(<[u8]>::to_vec),
        });
        Ok(expect!(self.call(&op)?, PsaAsymmetricEncrypt)?.ciphertext)
    }

    /// Decrypts with an RSA key pair.
    pub fn psa_asymmetric_decrypt(
        &self,
        name: &str,
        alg: AsymmetricEncryption,
        ciphertext: &[u8],
        salt: Option<&[u8]>,
    ) -> Result<Secret, Error> {
        let op = Operation::PsaAsymmetricDecrypt(ops::AsymmetricDecrypt {
            key_name: name.to_string(),
            alg,
            ciphertext: ciphertext.to_vec(),
            salt: salt.map(<[u8]>::to_vec),
        });
        Ok(expect!(self.call(&op)?, PsaAsymmetricDecrypt)?.plaintext)
    }

    /// AEAD encryption; the result is the ciphertext followed by the tag.
    pub fn psa_aead_encrypt(
        &self,
        name: &str,
        alg: Aead,
        nonce: &[u8],
        additional_data: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let op = Operation::PsaAeadEncrypt(ops::AeadEncrypt {
            key_name: name.to_string(),
            alg,
            nonce: nonce.to_vec(),
            additional_data: additional_data.to_vec(),
            plaintext: Secret::from(plaintext),
        });
        Ok(expect!(self.call(&op)?, PsaAeadEncrypt)?.ciphertext)
    }

    /// AEAD decryption of a ciphertext followed by its tag.
    pub fn psa_aead_decrypt(
        &self,
        name: &str,
        alg: Aead,
        nonce: &[u8],
        additional_data: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, Error> {
        let op = Operation::PsaAeadDecrypt(ops::AeadDecrypt {
            key_name: name.to_string(),
            alg,
            nonce: nonce.to_vec(),
            additional_data: additional_data.to_vec(),
            ciphertext: ciphertext.to_vec(),
        });
        Ok(expect!(self.call(&op)?, PsaAeadDecrypt)?.plaintext)
    }

    /// Unauthenticated cipher encryption (the provider picks the IV and prepends it).
    pub fn psa_cipher_encrypt(
        &self,
        name: &str,
        alg: Cipher,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let op = Operation::PsaCipherEncrypt(ops::CipherEncrypt {
            key_name: name.to_string(),
            alg,
            plaintext: Secret::from(plaintext),
        });
        Ok(expect!(self.call(&op)?, PsaCipherEncrypt)?.ciphertext)
    }

    /// Unauthenticated cipher decryption (IV first).
    pub fn psa_cipher_decrypt(
        &self,
        name: &str,
        alg: Cipher,
        ciphertext: &[u8],
    ) -> Result<Secret, Error> {
        let op = Operation::PsaCipherDecrypt(ops::CipherDecrypt {
            key_name: name.to_string(),
            alg,
            ciphertext: ciphertext.to_vec(),
        });
        Ok(expect!(self.call(&op)?, PsaCipherDecrypt)?.plaintext)
    }

    /// A MAC of `input`.
    pub fn psa_mac_compute(&self, name: &str, alg: Mac, input: &[u8]) -> Result<Vec<u8>, Error> {
        let op = Operation::PsaMacCompute(ops::MacCompute {
            key_name: name.to_string(),
            alg,
            input: input.to_vec(),
        });
        Ok(expect!(self.call(&op)?, PsaMacCompute)?.mac)
    }

    /// Checks a MAC of `input`.
    pub fn psa_mac_verify(
        &self,
        name: &str,
        alg: Mac,
        input: &[u8],
        mac: &[u8],
    ) -> Result<(), Error> {
        let op = Operation::PsaMacVerify(ops::MacVerify {
            key_name: name.to_string(),
            alg,
            input: input.to_vec(),
            mac: mac.to_vec(),
        });
        expect!(self.call(&op)?, PsaMacVerify, empty)
    }

    /// A digest computed by the provider.
    pub fn psa_hash_compute(&self, alg: Hash, input: &[u8]) -> Result<Vec<u8>, Error> {
        let op = Operation::PsaHashCompute(ops::HashCompute {
            alg,
            input: input.to_vec(),
        });
        Ok(expect!(self.call(&op)?, PsaHashCompute)?.hash)
    }

    /// Checks a digest.
    pub fn psa_hash_compare(&self, alg: Hash, input: &[u8], hash: &[u8]) -> Result<(), Error> {
        let op = Operation::PsaHashCompare(ops::HashCompare {
            alg,
            input: input.to_vec(),
            hash: hash.to_vec(),
        });
        expect!(self.call(&op)?, PsaHashCompare, empty)
    }

    /// Random bytes from the provider.
    pub fn psa_generate_random(&self, size: usize) -> Result<Secret, Error> {
        let op = Operation::PsaGenerateRandom(ops::GenerateRandom { size: size as u64 });
        Ok(expect!(self.call(&op)?, PsaGenerateRandom)?.random_bytes)
    }

    /// A raw key agreement (ECDH, FFDH) of a private key with a peer's public key.
    pub fn psa_raw_key_agreement(
        &self,
        alg: RawKeyAgreement,
        private_key_name: &str,
        peer_key: &[u8],
    ) -> Result<Secret, Error> {
        let op = Operation::PsaRawKeyAgreement(ops::RawKeyAgreement {
            alg,
            private_key_name: private_key_name.to_string(),
            peer_key: peer_key.to_vec(),
        });
        Ok(expect!(self.call(&op)?, PsaRawKeyAgreement)?.shared_secret)
    }
}
