use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Pkcs1v15Encrypt, RsaPrivateKey};

use super::*;

const RSA1024: &[u8] = include_bytes!("../../service/src/engine/testdata/asym/rsa1024.der");
const RSA2048: &[u8] = include_bytes!("../../service/src/engine/testdata/asym/rsa2048.der");

fn block(value: &BigUint, len: usize) -> Vec<u8> {
    let bytes = value.to_bytes_be();
    let mut out = vec![0u8; len - bytes.len()];
    out.extend_from_slice(&bytes);
    out
}

#[test]
fn the_raw_operation_inverts_the_public_one() {
    for der in [RSA1024, RSA2048] {
        let theirs = RsaPrivateKey::from_pkcs1_der(der).unwrap();
        let ours = PrivateKey::from_pkcs1_der(der).unwrap();
        let k = theirs.size();
        assert_eq!(ours.size(), k);
        let m = BigUint::from_bytes_be(&[0x5a; 100]);
        // c = m^e mod n, then ours gives c^d mod n = m.
        let c = m.modpow(theirs.e(), theirs.n());
        let back = ours.raw(&block(&c, k)).unwrap();
        assert_eq!(&back[..], &block(&m, k)[..]);
    }
}

#[test]
fn pkcs1v15_decryption_reads_another_implementations_ciphertext() {
    let theirs = RsaPrivateKey::from_pkcs1_der(RSA1024).unwrap();
    let ours = PrivateKey::from_pkcs1_der(RSA1024).unwrap();
    let ciphertext = theirs
        .to_public_key()
        .encrypt(&mut rand_core::OsRng, Pkcs1v15Encrypt, b"secret")
        .unwrap();
    assert_eq!(&ours.decrypt_pkcs1v15(&ciphertext).unwrap()[..], b"secret");
    // A block that decrypts to something not padded: the raw value 2 has no 00 02 header.
    let two = BigUint::from(2u8).modpow(theirs.e(), theirs.n());
    assert_eq!(
        ours.decrypt_pkcs1v15(&block(&two, 128)),
        Err(Error::BadPadding)
    );
}

#[test]
fn bad_inputs_and_keys_are_refused() {
    let ours = PrivateKey::from_pkcs1_der(RSA1024).unwrap();
    assert_eq!(ours.raw(&[1u8; 127]), Err(Error::BadInput), "short");
    assert_eq!(ours.raw(&[1u8; 129]), Err(Error::BadInput), "long");
    assert_eq!(
        ours.raw(&[0xffu8; 128]),
        Err(Error::BadInput),
        "not below n"
    );
    assert_eq!(
        PrivateKey::from_pkcs1_der(b"junk").unwrap_err(),
        Error::BadKey
    );
    assert_eq!(PrivateKey::from_pkcs1_der(&[]).unwrap_err(), Error::BadKey);
    // One bit of the private exponent changed: the parts no longer agree.
    let theirs = RsaPrivateKey::from_pkcs1_der(RSA1024).unwrap();
    let d = theirs.d().to_bytes_be();
    let at = RSA1024.windows(d.len()).position(|w| w == d).unwrap();
    let mut bent = RSA1024.to_vec();
    bent[at + 10] ^= 1;
    assert_eq!(
        PrivateKey::from_pkcs1_der(&bent).unwrap_err(),
        Error::BadKey
    );
    assert!(!format!("{ours:?}").contains(&format!("{:x}", theirs.d())));
}

#[test]
fn one_key_serves_many_threads_at_once() {
    let theirs = RsaPrivateKey::from_pkcs1_der(RSA2048).unwrap();
    let ours = std::sync::Arc::new(PrivateKey::from_pkcs1_der(RSA2048).unwrap());
    let threads: Vec<_> = (1u8..=4)
        .map(|i| {
            let ours = ours.clone();
            let m = BigUint::from_bytes_be(&[i; 64]);
            let c = block(&m.modpow(theirs.e(), theirs.n()), 256);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    assert_eq!(&ours.raw(&c).unwrap()[..], &block(&m, 256)[..]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// The raw private operation of this crate against the `rsa` crate's (blinded, checked), on
/// the same keys: `cargo test -p parsec-rsa-raw --release -- --ignored --nocapture measure`.
#[test]
#[ignore = "a measurement, not a test: run it in a release build"]
fn measure_against_the_rsa_crate() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    for bits in [2048, 4096] {
        let theirs = RsaPrivateKey::new(&mut rand_core::OsRng, bits).unwrap();
        let ours = PrivateKey::from_pkcs1_der(theirs.to_pkcs1_der().unwrap().as_bytes()).unwrap();
        let m = BigUint::from_bytes_be(&[0x5a; 100]);
        let input = block(&m, bits / 8);
        let time = |name: &str, f: &mut dyn FnMut()| {
            f();
            let rounds = if bits == 2048 { 200 } else { 40 };
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                f();
            }
            let each = start.elapsed() / rounds;
            println!(
                "| RSA-{bits} private operation | {name} | {:.2} ms |",
                each.as_secs_f64() * 1e3
            );
            each
        };
        let a = time("rsa crate (blinded, checked)", &mut || {
            drop(
                rsa::hazmat::rsa_decrypt_and_check(&theirs, Some(&mut rand_core::OsRng), &m)
                    .unwrap(),
            )
        });
        let b = time("aws-lc (rsa_raw)", &mut || drop(ours.raw(&input).unwrap()));
        println!(
            "| RSA-{bits} | aws-lc takes | {:.0}% of the rsa crate's time |",
            100.0 * b.as_secs_f64() / a.as_secs_f64()
        );
    }
}
