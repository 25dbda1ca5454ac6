//! The keyed layer's own tests: the declaration of families, the creation rule for ECDSA
//! policies, and destroy against concurrent use.

use super::*;
use crate::auth::AuthKind;
use parsec_keystore::KeyRecord;
use parsec_psa::{EccFamily, KeyType, Policy, SignHash};

fn software() -> super::super::software::Software {
    let master = parsec_keystore::MasterKey::from_bytes(&[9u8; 32]).unwrap();
    let store = parsec_keystore::SqliteStore::in_memory(master).unwrap();
    super::super::software::open(Arc::new(store), false, 1 << 20)
}

fn montgomery_for_ecdsa(bits: u32) -> KeyAttributes {
    KeyAttributes {
        key_type: KeyType::EccKeyPair {
            curve_family: EccFamily::Montgomery,
        },
        bits,
        policy: Policy {
            usage_flags: UsageFlags {
                sign_hash: true,
                ..UsageFlags::default()
            },
            permitted_algorithms: Algorithm::AsymmetricSignature(AsymmetricSignature::Ecdsa {
                hash_alg: SignHash::Specific(Hash::Sha256),
            }),
        },
    }
}

/// A key store whose `delete` waits, once armed, until released.
struct HeldDelete {
    inner: parsec_keystore::SqliteStore,
    armed: std::sync::Mutex<bool>,
    released: std::sync::Condvar,
    waiting: std::sync::atomic::AtomicBool,
}

impl KeyStore for HeldDelete {
    fn create_within(
        &self,
        id: &KeyId,
        record: &KeyRecord,
        quota: parsec_keystore::Quota,
    ) -> Result<(), StoreError> {
        self.inner.create_within(id, record, quota)
    }
    fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.get(id)
    }
    fn delete(&self, id: &KeyId) -> Result<bool, StoreError> {
        let mut armed = self.armed.lock().unwrap();
        while *armed {
            self.waiting
                .store(true, std::sync::atomic::Ordering::SeqCst);
            armed = self.released.wait(armed).unwrap();
        }
        self.inner.delete(id)
    }
    fn list(&self, auth: u8, app: &str) -> Result<Vec<parsec_keystore::Listed>, StoreError> {
        self.inner.list(auth, app)
    }
    fn list_clients(&self, auth: u8) -> Result<Vec<String>, StoreError> {
        self.inner.list_clients(auth)
    }
    fn delete_client(&self, auth: u8, app: &str) -> Result<usize, StoreError> {
        self.inner.delete_client(auth, app)
    }
    fn probe(&self, sample: usize) -> Result<parsec_keystore::Probe, StoreError> {
        self.inner.probe(sample)
    }
    fn check_integrity(&self) -> Result<usize, StoreError> {
        self.inner.check_integrity()
    }
}

/// A key used while it is being destroyed is not cached past the destroy: once the
/// destroy has answered, the key is gone. (The cache used to be cleared before the record
/// was deleted, so a load in between cached the destroyed key for good.)
#[test]
fn a_key_loaded_during_its_destroy_is_gone_once_the_destroy_answered() {
    use std::sync::atomic::Ordering;
    let master = parsec_keystore::MasterKey::from_bytes(&[5u8; 32]).unwrap();
    let store = Arc::new(HeldDelete {
        inner: parsec_keystore::SqliteStore::in_memory(master).unwrap(),
        armed: std::sync::Mutex::new(false),
        released: std::sync::Condvar::new(),
        waiting: std::sync::atomic::AtomicBool::new(false),
    });
    let provider = Arc::new(super::super::software::open(store.clone(), false, 1 << 20));
    let app = AppId {
        auth: AuthKind::Direct,
        name: "app".into(),
    };
    let ecdsa = AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha256),
    };
    let attributes = KeyAttributes {
        key_type: KeyType::EccKeyPair {
            curve_family: EccFamily::SecpR1,
        },
        bits: 256,
        policy: Policy {
            usage_flags: UsageFlags {
                sign_hash: true,
                ..UsageFlags::default()
            },
            permitted_algorithms: Algorithm::AsymmetricSignature(ecdsa),
        },
    };
    provider
        .execute(
            Some(&app),
            Operation::PsaGenerateKey(ops::GenerateKey {
                key_name: "k".into(),
                attributes,
            }),
        )
        .unwrap();
    let sign = |provider: &super::super::software::Software| {
        provider.execute(
            Some(&app),
            Operation::PsaSignHash(ops::SignHash {
                key_name: "k".into(),
                alg: ecdsa,
                hash: vec![1u8; 32],
            }),
        )
    };
    *store.armed.lock().unwrap() = true;
    let destroying = {
        let (provider, app) = (provider.clone(), app.clone());
        std::thread::spawn(move || {
            provider.execute(
                Some(&app),
                Operation::PsaDestroyKey(ops::DestroyKey {
                    key_name: "k".into(),
                }),
            )
        })
    };
    while !store.waiting.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    // The destroy waits in the store: the key is still there, and is used.
    assert!(sign(&provider).is_ok());
    *store.armed.lock().unwrap() = false;
    store.released.notify_all();
    destroying.join().unwrap().unwrap();
    assert_eq!(sign(&provider).unwrap_err(), Status::PsaErrorDoesNotExist);
}

/// As upstream and Mbed TLS: a Curve448 (or Curve25519) key may be created with an ECDSA
/// policy, so CanDoCrypto's Generate check says yes; it cannot sign, so the Use check says
/// no and a signature is refused.
#[test]
fn a_montgomery_key_with_an_ecdsa_policy_is_created_but_never_signs() {
    let provider = software();
    let app = AppId {
        auth: AuthKind::Direct,
        name: "app".into(),
    };
    let can = |check_type, attributes| {
        provider.execute(
            Some(&app),
            Operation::CanDoCrypto(ops::CanDoCrypto {
                check_type,
                attributes,
            }),
        )
    };
    for bits in [255, 448] {
        let attributes = montgomery_for_ecdsa(bits);
        assert!(can(CheckType::Generate, attributes).is_ok(), "{bits}");
        assert_eq!(
            can(CheckType::Use, attributes).unwrap_err(),
            Status::PsaErrorNotSupported
        );
        let name = format!("m{bits}");
        provider
            .execute(
                Some(&app),
                Operation::PsaGenerateKey(ops::GenerateKey {
                    key_name: name.clone(),
                    attributes,
                }),
            )
            .unwrap();
        let signed = provider.execute(
            Some(&app),
            Operation::PsaSignHash(ops::SignHash {
                key_name: name,
                alg: AsymmetricSignature::Ecdsa {
                    hash_alg: SignHash::Specific(Hash::Sha256),
                },
                hash: vec![0u8; 32],
            }),
        );
        assert_eq!(signed.unwrap_err(), Status::PsaErrorInvalidArgument);
    }
    // Beyond the sizes served, still no.
    assert_eq!(
        can(CheckType::Generate, montgomery_for_ecdsa(512)).unwrap_err(),
        Status::PsaErrorNotSupported
    );
}

#[test]
fn every_family_lists_its_opcodes_once() {
    let opcodes = Serves::ALL.opcodes();
    let mut deduped = opcodes.clone();
    deduped.dedup();
    assert_eq!(opcodes, deduped);
    // Everything but the core provider's operations and key attestation.
    let keyed: Vec<Opcode> = Opcode::ALL
        .into_iter()
        .filter(|o| !o.is_core() && !matches!(o, Opcode::AttestKey | Opcode::PrepareKeyAttestation))
        .collect();
    assert_eq!(opcodes, keyed);
    assert_eq!(Serves::default().opcodes().len(), 5);
}
