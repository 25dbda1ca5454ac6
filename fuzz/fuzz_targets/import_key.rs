//! Key import: the bytes a client sends as key data are parsed (DER, points, scalars) by the
//! software provider's engines. The first two bytes pick the key type and size; never a panic,
//! and what imports can be loaded, exported and re-imported to the same material.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_psa::{Algorithm, EccFamily, KeyAttributes, KeyType, Policy, UsageFlags};
use parsec_service::engine::{asym, sym};

const TYPES: [KeyType; 10] = [
    KeyType::RsaKeyPair,
    KeyType::RsaPublicKey,
    KeyType::EccKeyPair { curve_family: EccFamily::SecpR1 },
    KeyType::EccPublicKey { curve_family: EccFamily::SecpR1 },
    KeyType::EccKeyPair { curve_family: EccFamily::SecpK1 },
    KeyType::EccKeyPair { curve_family: EccFamily::Montgomery },
    KeyType::EccPublicKey { curve_family: EccFamily::Montgomery },
    KeyType::Aes,
    KeyType::Hmac,
    KeyType::Chacha20,
];
const BITS: [u32; 6] = [0, 128, 255, 256, 384, 2048];

fuzz_target!(|data: &[u8]| {
    let [t, b, rest @ ..] = data else { return };
    let key_type = TYPES[usize::from(*t) % TYPES.len()];
    let attributes = KeyAttributes {
        key_type,
        bits: BITS[usize::from(*b) % BITS.len()],
        policy: Policy {
            usage_flags: UsageFlags { export: true, ..UsageFlags::default() },
            permitted_algorithms: Algorithm::None,
        },
    };
    let asymmetric = matches!(
        key_type,
        KeyType::RsaKeyPair | KeyType::RsaPublicKey | KeyType::EccKeyPair { .. } | KeyType::EccPublicKey { .. }
    );
    if asymmetric {
        if let Ok((bits, material)) = asym::import(&attributes, rest) {
            let attributes = KeyAttributes { bits, ..attributes };
            let key = asym::load(&attributes, material.expose()).expect("imported material loads");
            let exported = asym::export(&key).expect("an imported key exports");
            let (_, again) = asym::import(&attributes, exported.expose()).expect("exports re-import");
            assert_eq!(again.expose(), material.expose());
        }
    } else if let Ok((bits, material)) = sym::import(&attributes, rest) {
        assert_eq!(bits as usize, material.expose().len() * 8);
    }
});
