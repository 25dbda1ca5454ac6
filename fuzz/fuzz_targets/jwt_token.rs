//! Token authenticators' decoders: the auth part of a request (a JWT, JWS compact form) and the
//! key sets they read (a JWK set, SPIFFE bundles). The input is a key set, a newline, a token;
//! nothing panics, and no token verifies against a set that a fuzzer made up unless its
//! signature is real (which a fuzzer cannot make): any accepted claims must carry the audience.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_service::auth::keys::bundle_sets;
use parsec_service::auth::token::{self, KeySet, KeyUse, Policy, DEFAULT_ALGORITHMS};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (set, token) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let _ = bundle_sets(set);
    let _ = KeySet::from_jwks(set, KeyUse::JwtSvid);
    let keys = KeySet::from_jwks(set, KeyUse::Signature)
        .map(|(k, _)| k)
        .unwrap_or_default();
    let policy = Policy {
        algorithms: DEFAULT_ALGORITHMS.to_vec(),
        audience: "parsec".into(),
        issuer: Some("issuer".into()),
        leeway: 30,
        max_lifetime: Some(86400),
    };
    if let Ok(read) = token::read(token) {
        if let Ok(claims) = token::verify(&read, &keys, &policy, token::now()) {
            assert!(claims.contains_key("aud"));
        }
    }
});
