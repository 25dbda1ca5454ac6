//! Operation codes (u32 on the wire).

/// Every operation of the Parsec wire protocol 1.0, as numbered by the book and the
/// `parsec-operations` contracts.
///
/// `PsaMacCompute` and `PsaMacVerify` exist in the book but not in the upstream client's enum:
/// an upstream client that receives either in a ListOpcodes answer fails to parse it, so they
/// must never be listed (see [`Opcode::upstream_client_knows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
#[non_exhaustive]
pub enum Opcode {
    Ping = 0x01,
    PsaGenerateKey = 0x02,
    PsaDestroyKey = 0x03,
    PsaSignHash = 0x04,
    PsaVerifyHash = 0x05,
    PsaImportKey = 0x06,
    PsaExportPublicKey = 0x07,
    ListProviders = 0x08,
    ListOpcodes = 0x09,
    PsaAsymmetricEncrypt = 0x0A,
    PsaAsymmetricDecrypt = 0x0B,
    PsaExportKey = 0x0C,
    PsaGenerateRandom = 0x0D,
    ListAuthenticators = 0x0E,
    PsaHashCompute = 0x0F,
    PsaHashCompare = 0x10,
    PsaAeadEncrypt = 0x11,
    PsaAeadDecrypt = 0x12,
    PsaRawKeyAgreement = 0x13,
    PsaCipherEncrypt = 0x14,
    PsaCipherDecrypt = 0x15,
    PsaMacCompute = 0x16,
    PsaMacVerify = 0x17,
    PsaSignMessage = 0x18,
    PsaVerifyMessage = 0x19,
    ListKeys = 0x1A,
    ListClients = 0x1B,
    DeleteClient = 0x1C,
    AttestKey = 0x1E,
    PrepareKeyAttestation = 0x1F,
    CanDoCrypto = 0x20,
}

impl Opcode {
    /// All 31 operations, in opcode order.
    pub const ALL: [Opcode; 31] = [
        Opcode::Ping,
        Opcode::PsaGenerateKey,
        Opcode::PsaDestroyKey,
        Opcode::PsaSignHash,
        Opcode::PsaVerifyHash,
        Opcode::PsaImportKey,
        Opcode::PsaExportPublicKey,
        Opcode::ListProviders,
        Opcode::ListOpcodes,
        Opcode::PsaAsymmetricEncrypt,
        Opcode::PsaAsymmetricDecrypt,
        Opcode::PsaExportKey,
        Opcode::PsaGenerateRandom,
        Opcode::ListAuthenticators,
        Opcode::PsaHashCompute,
        Opcode::PsaHashCompare,
        Opcode::PsaAeadEncrypt,
        Opcode::PsaAeadDecrypt,
        Opcode::PsaRawKeyAgreement,
        Opcode::PsaCipherEncrypt,
        Opcode::PsaCipherDecrypt,
        Opcode::PsaMacCompute,
        Opcode::PsaMacVerify,
        Opcode::PsaSignMessage,
        Opcode::PsaVerifyMessage,
        Opcode::ListKeys,
        Opcode::ListClients,
        Opcode::DeleteClient,
        Opcode::AttestKey,
        Opcode::PrepareKeyAttestation,
        Opcode::CanDoCrypto,
    ];

    /// The opcode as sent on the wire.
    pub const fn to_u32(self) -> u32 {
        self as u32
    }

    /// The opcode with this wire value, if any. 0 and 0x1D are unassigned.
    pub fn from_u32(value: u32) -> Option<Opcode> {
        Opcode::ALL.iter().copied().find(|op| op.to_u32() == value)
    }

    /// The operation's command name in Parsec.1 sessions (lower camel case). Written out, not
    /// derived from the variant's name: it is part of the remote API, and renaming a variant
    /// must not change it.
    pub const fn remote_name(self) -> &'static str {
        match self {
            Opcode::Ping => "ping",
            Opcode::PsaGenerateKey => "psaGenerateKey",
            Opcode::PsaDestroyKey => "psaDestroyKey",
            Opcode::PsaSignHash => "psaSignHash",
            Opcode::PsaVerifyHash => "psaVerifyHash",
            Opcode::PsaImportKey => "psaImportKey",
            Opcode::PsaExportPublicKey => "psaExportPublicKey",
            Opcode::ListProviders => "listProviders",
            Opcode::ListOpcodes => "listOpcodes",
            Opcode::PsaAsymmetricEncrypt => "psaAsymmetricEncrypt",
            Opcode::PsaAsymmetricDecrypt => "psaAsymmetricDecrypt",
            Opcode::PsaExportKey => "psaExportKey",
            Opcode::PsaGenerateRandom => "psaGenerateRandom",
            Opcode::ListAuthenticators => "listAuthenticators",
            Opcode::PsaHashCompute => "psaHashCompute",
            Opcode::PsaHashCompare => "psaHashCompare",
            Opcode::PsaAeadEncrypt => "psaAeadEncrypt",
            Opcode::PsaAeadDecrypt => "psaAeadDecrypt",
            Opcode::PsaRawKeyAgreement => "psaRawKeyAgreement",
            Opcode::PsaCipherEncrypt => "psaCipherEncrypt",
            Opcode::PsaCipherDecrypt => "psaCipherDecrypt",
            Opcode::PsaMacCompute => "psaMacCompute",
            Opcode::PsaMacVerify => "psaMacVerify",
            Opcode::PsaSignMessage => "psaSignMessage",
            Opcode::PsaVerifyMessage => "psaVerifyMessage",
            Opcode::ListKeys => "listKeys",
            Opcode::ListClients => "listClients",
            Opcode::DeleteClient => "deleteClient",
            Opcode::AttestKey => "attestKey",
            Opcode::PrepareKeyAttestation => "prepareKeyAttestation",
            Opcode::CanDoCrypto => "canDoCrypto",
        }
    }

    /// The operation whose Parsec.1 command name this is.
    pub fn from_remote_name(name: &str) -> Option<Opcode> {
        Opcode::ALL
            .iter()
            .copied()
            .find(|op| op.remote_name() == name)
    }

    /// Whether this is an operation of the core provider (id 0).
    pub const fn is_core(self) -> bool {
        matches!(
            self,
            Opcode::Ping
                | Opcode::ListProviders
                | Opcode::ListOpcodes
                | Opcode::ListAuthenticators
                | Opcode::ListKeys
                | Opcode::ListClients
                | Opcode::DeleteClient
        )
    }

    /// Whether only administrators may call this operation.
    pub const fn is_admin(self) -> bool {
        matches!(self, Opcode::ListClients | Opcode::DeleteClient)
    }

    /// Whether the operation runs without an application identity (auth type 0 suffices).
    pub const fn runs_without_identity(self) -> bool {
        matches!(
            self,
            Opcode::Ping
                | Opcode::ListProviders
                | Opcode::ListOpcodes
                | Opcode::ListAuthenticators
                | Opcode::PsaHashCompute
                | Opcode::PsaHashCompare
                | Opcode::PsaGenerateRandom
        )
    }

    /// Whether the upstream client (`parsec-interface` 0.29/0.30) can parse this opcode.
    /// Only such opcodes may appear in a ListOpcodes answer.
    pub const fn upstream_client_knows(self) -> bool {
        !matches!(self, Opcode::PsaMacCompute | Opcode::PsaMacVerify)
    }
}

impl TryFrom<u32> for Opcode {
    type Error = u32;
    fn try_from(value: u32) -> Result<Self, u32> {
        Opcode::from_u32(value).ok_or(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_gaps() {
        for op in Opcode::ALL {
            assert_eq!(Opcode::from_u32(op.to_u32()), Some(op));
        }
        assert_eq!(Opcode::from_u32(0), None);
        assert_eq!(Opcode::from_u32(0x1D), None);
        assert_eq!(Opcode::from_u32(0x21), None);
        let known = Opcode::ALL
            .iter()
            .filter(|op| op.upstream_client_knows())
            .count();
        assert_eq!(known, 29);
    }

    #[test]
    fn remote_names_are_unique_lower_camel_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for op in Opcode::ALL {
            let name = op.remote_name();
            assert!(seen.insert(name), "{name} twice");
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
            assert_eq!(Opcode::from_remote_name(name), Some(op));
        }
        // Names remote clients already use (uparsecjs callers, our client).
        assert_eq!(Opcode::PsaSignHash.remote_name(), "psaSignHash");
        assert_eq!(Opcode::ListKeys.remote_name(), "listKeys");
        assert_eq!(Opcode::CanDoCrypto.remote_name(), "canDoCrypto");
        assert_eq!(Opcode::from_remote_name("PsaSignHash"), None);
    }
}
