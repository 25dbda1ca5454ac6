//! The service contract a server serves (Parsec 1.2/1.3), checked when it is set.

use crate::address::KeyAddress;
use crate::error::{Error, Result};
use crate::universa::{self, Pack, ParsecSection};

/// A service contract: the file's bytes (a TransactionPack or a bare sealed contract) and
/// what they say.
#[derive(Clone, Debug)]
pub struct ServiceContract {
    /// The file as it is served.
    pub bytes: Vec<u8>,
    /// The contract's HashId (what `getServiceContract`'s `knownHashId` names).
    pub hash_id: Vec<u8>,
    /// The chain's origin (what clients trust, `PARSEC1_SERVICE_CONTRACT`).
    pub origin: Vec<u8>,
    pub revision: i128,
    /// A UNS2 name contract (the service can be reached by name: Parsec 1.3).
    pub uns2: bool,
    /// Its `parsec` section.
    pub section: ParsecSection,
    /// Why clients would refuse it beyond its signatures (its signers' roles), if they would.
    /// A revision is checked only when the file carries the revision before it (a
    /// TransactionPack); otherwise the network's approval stands for it.
    pub role_problem: Option<String>,
}

impl ServiceContract {
    /// Reads and checks a contract: every signature verifies and it has a readable `parsec`
    /// section.
    pub fn read(bytes: Vec<u8>) -> Result<ServiceContract> {
        let pack = Pack::read(&bytes)?;
        let sealed = &pack.contract;
        let (contract, signers) = universa::open(sealed)?;
        let section = contract
            .parsec
            .as_ref()
            .ok_or_else(|| Error::Contract("the contract has no parsec section".into()))?;
        let section = ParsecSection::read(section)?;
        let previous = contract
            .parent
            .as_deref()
            .and_then(|id| pack.find(id))
            .map(|p| universa::open(p).map(|(c, _)| c))
            .transpose()?;
        let role_problem = if contract.origin.is_none() || previous.is_some() {
            contract
                .check_signers(&signers, previous.as_ref())
                .err()
                .map(|e| e.to_string())
        } else {
            None
        };
        Ok(ServiceContract {
            hash_id: sealed.hash_id.clone(),
            origin: contract.origin_of(sealed),
            revision: contract.revision,
            uns2: contract.is_uns2(),
            section,
            role_problem,
            bytes,
        })
    }

    /// Whether `address` is among the contract's non-test service keys.
    pub fn lists(&self, address: &KeyAddress) -> bool {
        self.section.trusted_addresses(false).contains(address)
    }

    /// The Parsec versions a service with this contract offers.
    pub fn versions(contract: Option<&ServiceContract>) -> Vec<&'static str> {
        match contract {
            None => vec!["1.1"],
            Some(c) if c.uns2 => vec!["1.1", "1.2", "1.3"],
            Some(_) => vec!["1.1", "1.2"],
        }
    }
}
