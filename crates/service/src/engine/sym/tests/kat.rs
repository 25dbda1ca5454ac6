//! Known-answer vectors from the standards: NIST SP 800-38A (AES modes), SP 800-38B and
//! RFC 4493 (CMAC), SP 800-38C (CCM), the GCM specification (McGrew & Viega), RFC 8439
//! (ChaCha20, ChaCha20-Poly1305), RFC 4231 / 2202 / 2286 (HMAC), FIPS 180-4 / 202 (hashes).

use parsec_psa::{
    Aead, AeadWithDefaultLengthTag as AeadBase, Cipher, FullLengthMac, Hash, KeyType, Mac,
};

use super::super::aead_rc::gcm_by_size;
use super::super::cipher::{chacha20_apply, Engine};
use super::super::*;
use super::{aes, attrs, h};

// ---- SP 800-38A ----

const SP800_38A_PLAINTEXT: &str =
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
    30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
const KEY_128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const KEY_192: &str = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b";
const KEY_256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const CTR_IV: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/// (mode, key, IV, ciphertext)
const SP800_38A: &[(Cipher, &str, &str, &str)] = &[
    (
        Cipher::EcbNoPadding,
        KEY_128,
        "",
        "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf
        43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4",
    ),
    (
        Cipher::EcbNoPadding,
        KEY_192,
        "",
        "bd334f1d6e45f25ff712a214571fa5cc 974104846d0ad3ad7734ecb3ecee4eef
        ef7afd2270e2e60adce0ba2face6444e 9a4b41ba738d6c72fb16691603c18e0e",
    ),
    (
        Cipher::EcbNoPadding,
        KEY_256,
        "",
        "f3eed1bdb5d2a03c064b5a7e3db181f8 591ccb10d410ed26dc5ba74a31362870
        b6ed21b99ca6f4f9f153e7b1beafed1d 23304b7a39f9f3ff067d8d8f9e24ecc7",
    ),
    (
        Cipher::CbcNoPadding,
        KEY_128,
        IV,
        "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
        73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
    ),
    (
        Cipher::CbcNoPadding,
        KEY_192,
        IV,
        "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a
        571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd",
    ),
    (
        Cipher::CbcNoPadding,
        KEY_256,
        IV,
        "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
        39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
    ),
    (
        Cipher::Cfb,
        KEY_128,
        IV,
        "3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b
        26751f67a3cbb140b1808cf187a4f4df c04b05357c5d1c0eeac4c66f9ff7f2e6",
    ),
    (
        Cipher::Cfb,
        KEY_192,
        IV,
        "cdc80d6fddf18cab34c25909c99a4174 67ce7f7f81173621961a2b70171d3d7a
        2e1e8a1dd59b88b1c8e60fed1efac4c9 c05f9f9ca9834fa042ae8fba584b09ff",
    ),
    (
        Cipher::Cfb,
        KEY_256,
        IV,
        "dc7e84bfda79164b7ecd8486985d3860 39ffed143b28b1c832113c6331e5407b
        df10132415e54b92a13ed0a8267ae2f9 75a385741ab9cef82031623d55b1e471",
    ),
    (
        Cipher::Ofb,
        KEY_128,
        IV,
        "3b3fd92eb72dad20333449f8e83cfb4a 7789508d16918f03f53c52dac54ed825
        9740051e9c5fecf64344f7a82260edcc 304c6528f659c77866a510d9c1d6ae5e",
    ),
    (
        Cipher::Ofb,
        KEY_192,
        IV,
        "cdc80d6fddf18cab34c25909c99a4174 fcc28b8d4c63837c09e81700c1100401
        8d9a9aeac0f6596f559c6d4daf59a5f2 6d9f200857ca6c3e9cac524bd9acc92a",
    ),
    (
        Cipher::Ofb,
        KEY_256,
        IV,
        "dc7e84bfda79164b7ecd8486985d3860 4febdc6740d20b3ac88f6ad82a4fb08d
        71ab47a086e86eedf39d1c5bba97c408 0126141d67f37be8538f5a8be740e484",
    ),
    (
        Cipher::Ctr,
        KEY_128,
        CTR_IV,
        "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff
        5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee",
    ),
    (
        Cipher::Ctr,
        KEY_192,
        CTR_IV,
        "1abc932417521ca24f2b0459fe7e6e0b 090339ec0aa6faefd5ccc2c6f4ce8e94
        1e36b26bd1ebc670d1bd1d665620abf7 4f78a7f6d29809585a97daec58c6b050",
    ),
    (
        Cipher::Ctr,
        KEY_256,
        CTR_IV,
        "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5
        2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6",
    ),
];

#[test]
fn sp800_38a_aes_modes() {
    let plaintext = h(SP800_38A_PLAINTEXT);
    for (alg, key, iv, expected) in SP800_38A {
        let (key, iv, expected) = (h(key), h(iv), h(expected));
        let engine = Engine::new(&aes(&key), &key, *alg).unwrap();
        let ciphertext = engine.encrypt(&key, &iv, &plaintext).unwrap();
        assert_eq!(ciphertext, expected, "{alg:?} AES-{}", key.len() * 8);
        // Through the public API: IV || ciphertext.
        let mut input = iv.clone();
        input.extend_from_slice(&expected);
        let back = cipher_decrypt(&aes(&key), &key, *alg, &input).unwrap();
        assert_eq!(back.expose(), &plaintext[..], "{alg:?} decrypt");
        // Stream modes also work on a partial block.
        if matches!(alg, Cipher::Cfb | Cipher::Ofb | Cipher::Ctr) {
            let partial = engine.encrypt(&key, &iv, &plaintext[..21]).unwrap();
            assert_eq!(partial, expected[..21], "{alg:?} partial");
        }
    }
}

#[test]
fn cbc_pkcs7_pads_a_full_block() {
    // SP 800-38A F.2.1 first block, then PKCS#7 adds a block of 0x10 bytes.
    let key = h(KEY_128);
    let engine = Engine::new(&aes(&key), &key, Cipher::CbcPkcs7).unwrap();
    let plaintext = h("6bc1bee22e409f96e93d7e117393172a");
    let ciphertext = engine.encrypt(&key, &h(IV), &plaintext).unwrap();
    assert_eq!(ciphertext.len(), 32);
    assert_eq!(ciphertext[..16], h("7649abac8119b246cee98e9b12e9197d"));
    let raw = Engine::new(&aes(&key), &key, Cipher::CbcNoPadding).unwrap();
    let mut padded = plaintext.clone();
    padded.extend_from_slice(&[16; 16]);
    assert_eq!(raw.encrypt(&key, &h(IV), &padded).unwrap(), ciphertext);
}

// ---- GCM specification test cases ----

const GCM_K2: &str = "feffe9928665731c6d6a8f9467308308";
const GCM_P: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
    1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const GCM_A: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

/// (key, nonce, aad, plaintext, ciphertext, tag); a plaintext of "60" means the first 60 bytes
/// of `GCM_P`.
const GCM: &[(&str, &str, &str, &str, &str, &str)] = &[
    // Test cases 1 and 2: AES-128, zero key.
    (
        "00000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "",
        "",
        "58e2fccefa7e3061367f1d57a4e7455a",
    ),
    (
        "00000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "00000000000000000000000000000000",
        "0388dace60b6a392f328c2b971b2fe78",
        "ab6e47d42cec13bdf53a67b21257bddf",
    ),
    // Test case 3.
    (
        GCM_K2,
        "cafebabefacedbaddecaf888",
        "",
        "64",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
         21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        "4d5c2af327cd64a62cf35abd2ba6fab4",
    ),
    // Test case 4: with AAD, 60-byte plaintext.
    (
        GCM_K2,
        "cafebabefacedbaddecaf888",
        GCM_A,
        "60",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
         21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47",
    ),
    // Test case 5: 8-byte nonce.
    (
        GCM_K2,
        "cafebabefacedbad",
        GCM_A,
        "60",
        "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423
         73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
        "3612d2e79e3b0785561be14aaca2fccb",
    ),
    // Test case 6: 60-byte nonce.
    (
        GCM_K2,
        "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728
              c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
        GCM_A,
        "60",
        "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7
         01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
        "619cc5aefffe0bfa462af43c1699d050",
    ),
    // Test cases 7 and 8: AES-192, zero key.
    (
        "000000000000000000000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "",
        "",
        "cd33b28ac773f74ba00ed1f312572435",
    ),
    (
        "000000000000000000000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "00000000000000000000000000000000",
        "98e7247c07f0fe411c267e4384b0f600",
        "2ff58d80033927ab8ef4d4587514f0fb",
    ),
    // Test case 9: AES-192.
    (
        "feffe9928665731c6d6a8f9467308308feffe9928665731c",
        "cafebabefacedbaddecaf888",
        "",
        "64",
        "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c
         7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
        "9924a7c8587336bfb118024db8674a14",
    ),
    // Test cases 13 and 14: AES-256, zero key.
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "",
        "",
        "530f8afbc74536b9a963b4f1c4cb738b",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000000",
        "",
        "00000000000000000000000000000000",
        "cea7403d4d606b6e074ec5d3baf39d18",
        "d0d1c8a799996bf0265b98b5d48ab919",
    ),
    // Test case 15: AES-256.
    (
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "",
        "64",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
         8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        "b094dac5d93471bdec1a502270e3cc6c",
    ),
    // Test case 16: AES-256 with AAD.
    (
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        GCM_A,
        "60",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
         8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b",
    ),
];

#[test]
fn gcm_specification_vectors() {
    let gcm = Aead::AeadWithDefaultLengthTag(AeadBase::Gcm);
    for (i, (key, nonce, aad, plaintext, ciphertext, tag)) in GCM.iter().enumerate() {
        let (key, nonce, aad) = (h(key), h(nonce), h(aad));
        let plaintext = match *plaintext {
            "64" => h(GCM_P),
            "60" => h(GCM_P)[..60].to_vec(),
            other => h(other),
        };
        let mut expected = h(ciphertext);
        expected.extend_from_slice(&h(tag));
        let a = aes(&key);
        let out = aead_encrypt(&a, &key, gcm, &nonce, &aad, &plaintext).unwrap();
        assert_eq!(out, expected, "GCM vector {i}");
        let back = aead_decrypt(&a, &key, gcm, &nonce, &aad, &out).unwrap();
        assert_eq!(back.expose(), &plaintext[..], "GCM vector {i}");

        // The RustCrypto-built GCM agrees with aws-lc on the 12-byte-nonce vectors too.
        let size = aes_size(&key).unwrap();
        let mut buf = plaintext.clone();
        let tag = gcm_by_size(size, &key, &nonce, &aad, &mut buf, None).unwrap();
        assert_eq!(
            [&buf[..], &tag[..]].concat(),
            expected,
            "GCM vector {i} (generic)"
        );

        // Shortened tags: the left-most bytes, checked on decryption.
        let alg = Aead::AeadWithShortenedTag {
            aead_alg: AeadBase::Gcm,
            tag_length: 12,
        };
        let out = aead_encrypt(&a, &key, alg, &nonce, &aad, &plaintext).unwrap();
        assert_eq!(
            out,
            expected[..plaintext.len() + 12],
            "GCM vector {i} (96-bit tag)"
        );
        let back = aead_decrypt(&a, &key, alg, &nonce, &aad, &out).unwrap();
        assert_eq!(back.expose(), &plaintext[..]);
    }
}

// ---- SP 800-38C CCM examples, and upstream parsec's e2e vector ----

/// (key, nonce, aad, plaintext, ciphertext || tag, tag length)
const CCM: &[(&str, &str, &str, &str, &str, u32)] = &[
    (
        "404142434445464748494a4b4c4d4e4f",
        "10111213141516",
        "0001020304050607",
        "20212223",
        "7162015b 4dac255d",
        4,
    ),
    (
        "404142434445464748494a4b4c4d4e4f",
        "1011121314151617",
        "000102030405060708090a0b0c0d0e0f",
        "202122232425262728292a2b2c2d2e2f",
        "d2a1f0e051ea5f62081a7792073d593d 1fc64fbfaccd",
        6,
    ),
    (
        "404142434445464748494a4b4c4d4e4f",
        "101112131415161718191a1b",
        "000102030405060708090a0b0c0d0e0f10111213",
        "202122232425262728292a2b2c2d2e2f3031323334353637",
        "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5 484392fbc1b09951",
        8,
    ),
    // parsec e2e_tests aead.rs (AES-128, 13-byte nonce, default 16-byte tag).
    (
        "4189351b5caea375a0299e81c621bf43",
        "48c0906930561e0ab0ef4cd972",
        "40a27c1d1e23ea3dbe8056b2774861a4a201cce49f19997d19206d8c8a343951",
        "4535d12b4377928a7c0a61c9f825a48671ea05910748c8ef",
        "26c56961c035a7e452cce61bc6ee220d77b3f94d18fd10b6d80e8bf80f4a46cab06d4313f0db9be9",
        16,
    ),
];

#[test]
fn ccm_vectors() {
    for (i, (key, nonce, aad, plaintext, expected, tag_length)) in CCM.iter().enumerate() {
        let (key, nonce, aad, plaintext, expected) =
            (h(key), h(nonce), h(aad), h(plaintext), h(expected));
        let alg = if *tag_length == 16 {
            Aead::AeadWithDefaultLengthTag(AeadBase::Ccm)
        } else {
            Aead::AeadWithShortenedTag {
                aead_alg: AeadBase::Ccm,
                tag_length: *tag_length,
            }
        };
        let a = aes(&key);
        let out = aead_encrypt(&a, &key, alg, &nonce, &aad, &plaintext).unwrap();
        assert_eq!(out, expected, "CCM vector {i}");
        let back = aead_decrypt(&a, &key, alg, &nonce, &aad, &out).unwrap();
        assert_eq!(back.expose(), &plaintext[..], "CCM vector {i}");
    }
}

// ---- RFC 8439 ----

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

#[test]
fn rfc8439_chacha20_encryption() {
    // §2.4.2: initial counter 1.
    let key = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let nonce = h("000000000000004a00000000");
    let mut buf = SUNSCREEN.to_vec();
    chacha20_apply(&key, &nonce, 1, &mut buf).unwrap();
    assert_eq!(
        buf,
        h(
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b
           f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
           07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736
           5af90bbf74a35be6b40b8eedf2785e42874d"
        )
    );
    // The PSA stream cipher starts at counter 0: with the 64-byte block 0 of key stream in
    // front, it gives the same bytes.
    let a = attrs(KeyType::Chacha20, 256);
    let mut input = nonce.clone();
    let mut block0_then_text = vec![0u8; 64];
    block0_then_text.extend_from_slice(SUNSCREEN);
    chacha20_apply(&key, &nonce, 0, &mut block0_then_text).unwrap();
    input.extend_from_slice(&block0_then_text);
    let plain = cipher_decrypt(&a, &key, Cipher::StreamCipher, &input).unwrap();
    assert_eq!(&plain.expose()[64..], SUNSCREEN);
}

#[test]
fn rfc8439_chacha20_poly1305() {
    // §2.8.2.
    let key = h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce = h("070000004041424344454647");
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let expected = h(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
         3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
         92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
         3ff4def08e4b7a9de576d26586cec64b6116
         1ae10b594f09e26a7e902ecbd0600691",
    );
    let a = attrs(KeyType::Chacha20, 256);
    let alg = Aead::AeadWithDefaultLengthTag(AeadBase::Chacha20Poly1305);
    let out = aead_encrypt(&a, &key, alg, &nonce, &aad, SUNSCREEN).unwrap();
    assert_eq!(out, expected);
    let back = aead_decrypt(&a, &key, alg, &nonce, &aad, &out).unwrap();
    assert_eq!(back.expose(), SUNSCREEN);
}

// ---- HMAC: RFC 4231 (SHA-2), RFC 2202 (MD5, SHA-1), RFC 2286 (RIPEMD-160); SHA-3 and
// SHA-512/t over the RFC 4231 test case 1 inputs (NIST CAVP values) ----

fn hmac(hash_alg: Hash) -> Mac {
    Mac::FullLength(FullLengthMac::Hmac { hash_alg })
}

fn check_hmac(key: &[u8], data: &[u8], hash: Hash, expected: &str) {
    let a = attrs(KeyType::Hmac, key.len() as u32 * 8);
    let expected = h(expected);
    let mac = mac_compute(&a, key, hmac(hash), data).unwrap();
    assert_eq!(mac, expected, "HMAC-{hash:?}");
    mac_verify(&a, key, hmac(hash), data, &expected).unwrap();
}

#[test]
fn hmac_vectors() {
    let tc1_key = [0x0bu8; 20];
    let tc1 = b"Hi There";
    for (hash, expected) in [
        (
            Hash::Sha224,
            "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
        ),
        (
            Hash::Sha256,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            Hash::Sha384,
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c
                        faea9ea9076ede7f4af152e8b2fa9cb6",
        ),
        (
            Hash::Sha512,
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde
                        daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
        (
            Hash::Sha512_224,
            "b244ba01307c0e7a8ccaad13b1067a4cf6b961fe0c6a20bda3d92039",
        ),
        (
            Hash::Sha512_256,
            "9f9126c3d9c3c330d760425ca8a217e31feae31bfe70196ff81642b868402eab",
        ),
        (
            Hash::Sha3_224,
            "3b16546bbc7be2706a031dcafd56373d9884367641d8c59af3c860f7",
        ),
        (
            Hash::Sha3_256,
            "ba85192310dffa96e2a3a40e69774351140bb7185e1202cdcc917589f95e16bb",
        ),
        (
            Hash::Sha3_384,
            "68d2dcf7fd4ddd0a2240c8a437305f61fb7334cfb5d0226e1bc27dc10a2e723a
                          20d370b47743130e26ac7e3d532886bd",
        ),
        (
            Hash::Sha3_512,
            "eb3fbd4b2eaab8f5c504bd3a41465aacec15770a7cabac531e482f860b5ec7ba
                          47ccb2c6f2afce8f88d22b6dc61380f23a668fd3888bb80537c0a0b86407689e",
        ),
        (Hash::Sha1, "b617318655057264e28bc0b6fb378c8ef146be00"),
        (Hash::Ripemd160, "24cb4bd67d20fc1a5d2ed7732dcc39377f0a5668"),
    ] {
        check_hmac(&tc1_key, tc1, hash, expected);
    }
    check_hmac(
        &[0x0b; 16],
        tc1,
        Hash::Md5,
        "9294727a3638bb1c13f48ef8158bfc9d",
    );

    // RFC 4231 test case 2.
    let tc2 = b"what do ya want for nothing?";
    for (hash, expected) in [
        (
            Hash::Sha224,
            "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
        ),
        (
            Hash::Sha256,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            Hash::Sha384,
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e
                        8e2240ca5e69e2c78b3239ecfab21649",
        ),
        (
            Hash::Sha512,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554
                        9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ] {
        check_hmac(b"Jefe", tc2, hash, expected);
    }

    // RFC 4231 test case 6: a key longer than the block is hashed first.
    check_hmac(
        &[0xaa; 131],
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        Hash::Sha256,
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    );

    // RFC 4231 test case 5: truncated to 128 bits.
    let key = [0x0cu8; 20];
    let a = attrs(KeyType::Hmac, 160);
    let truncated = Mac::Truncated {
        mac_alg: FullLengthMac::Hmac {
            hash_alg: Hash::Sha256,
        },
        mac_length: 16,
    };
    let mac = mac_compute(&a, &key, truncated, b"Test With Truncation").unwrap();
    assert_eq!(mac, h("a3b6167473100ee06e0c796c2955552b"));
}

// ---- CMAC: RFC 4493 (AES-128), SP 800-38B D.2 / D.3 (AES-192, AES-256) ----

#[test]
fn cmac_vectors() {
    let cmac = Mac::FullLength(FullLengthMac::Cmac);
    let message = h(SP800_38A_PLAINTEXT);
    for (key, len, expected) in [
        (KEY_128, 0, "bb1d6929e95937287fa37d129b756746"),
        (KEY_128, 16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (KEY_128, 40, "dfa66747de9ae63030ca32611497c827"),
        (KEY_128, 64, "51f0bebf7e3b9d92fc49741779363cfe"),
        (KEY_192, 0, "d17ddf46adaacde531cac483de7a9367"),
        (KEY_192, 16, "9e99a7bf31e710900662f65e617c5184"),
        (KEY_256, 0, "028962f61b7bf89efc6b551f4667d983"),
        (KEY_256, 16, "28a7023f452e8f82bd4bf28d8c37c35c"),
    ] {
        let key = h(key);
        let a = aes(&key);
        let mac = mac_compute(&a, &key, cmac, &message[..len]).unwrap();
        assert_eq!(
            mac,
            h(expected),
            "CMAC-AES-{} over {len} bytes",
            key.len() * 8
        );
        mac_verify(&a, &key, cmac, &message[..len], &mac).unwrap();
    }
}

// ---- Hashes: FIPS 180-4 and FIPS 202 "abc", RFC 1321 / RIPEMD-160 "abc" ----

#[test]
fn hash_vectors() {
    for (alg, expected) in [
        (Hash::Md5, "900150983cd24fb0d6963f7d28e17f72"),
        (Hash::Ripemd160, "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
        (Hash::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            Hash::Sha224,
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
        ),
        (
            Hash::Sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            Hash::Sha384,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed
                        8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            Hash::Sha512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a
                        2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (
            Hash::Sha512_224,
            "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa",
        ),
        (
            Hash::Sha512_256,
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
        ),
        (
            Hash::Sha3_224,
            "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf",
        ),
        (
            Hash::Sha3_256,
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        ),
        (
            Hash::Sha3_384,
            "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2
                          98d88cea927ac7f539f1edf228376d25",
        ),
        (
            Hash::Sha3_512,
            "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e
                          10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
        ),
    ] {
        let expected = h(expected);
        assert_eq!(
            hash_compute(alg, b"abc", true).unwrap(),
            expected,
            "{alg:?}"
        );
        hash_compare(alg, b"abc", &expected, true).unwrap();
    }
    assert_eq!(
        hash_compute(Hash::Sha256, b"", false).unwrap(),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    // parsec e2e_tests hash.rs: "I am a message".
    let message = b"I am a message";
    assert_eq!(
        hash_compute(Hash::Sha256, message, false).unwrap(),
        h("0dc4bc13fd9174529224c38e0ee075fa9ed80b7847e6aea76ae98cf9ddd92669")
    );
    assert_eq!(
        hash_compute(Hash::Ripemd160, message, false).unwrap(),
        h("a6f1a8f5260469b367a3aec69f73479bb7bd02b8")
    );
}
