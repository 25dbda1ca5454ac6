//! GCM (any nonce length, shortened tags) and CCM from RustCrypto parts, for what aws-lc-rs does
//! not cover.

// generic-array 0.14.8 deprecates its whole API in favour of 1.x, which the RustCrypto crates of
// the cipher 0.4 generation (aes, ctr, ghash, ccm) still expose; nothing else is deprecated here.
#![allow(deprecated)]

use aes::cipher::consts::{U10, U11, U12, U13, U14, U16, U4, U6, U7, U8, U9};
use aes::cipher::generic_array::{ArrayLength, GenericArray};
use aes::cipher::InnerIvInit;
use aes::cipher::{BlockCipher, BlockEncrypt, BlockSizeUser, KeyInit, StreamCipher};
use ccm::aead::AeadInPlace;
use ghash::universal_hash::UniversalHash;
use ghash::GHash;
use parsec_wire::Status;
use zeroize::Zeroizing;

use super::aead::FULL_TAG;
use super::{ct_eq, AesSize};

/// GCM for any nonce length and tag length, built from AES, a 32-bit counter and GHASH
/// (SP 800-38D §7). Encrypts when `tag` is `None` and returns the full tag; otherwise checks the
/// (possibly truncated) `tag` before decrypting.
pub(super) fn gcm_by_size(
    size: AesSize,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: Option<&[u8]>,
) -> Result<[u8; FULL_TAG], Status> {
    match size {
        AesSize::Aes128 => gcm::<aes::Aes128>(key, nonce, aad, buf, tag),
        AesSize::Aes192 => gcm::<aes::Aes192>(key, nonce, aad, buf, tag),
        AesSize::Aes256 => gcm::<aes::Aes256>(key, nonce, aad, buf, tag),
    }
}

fn gcm<C>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: Option<&[u8]>,
) -> Result<[u8; FULL_TAG], Status>
where
    C: BlockCipher + BlockEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit,
{
    // SP 800-38D §5.2.1.1: plaintext up to 2^39 - 256 bits, AAD and IV up to 2^64 - 1 bits.
    const MAX_TEXT: u64 = (1 << 36) - 32;
    let bits = |len: usize| {
        u64::try_from(len)
            .ok()
            .filter(|len| *len < (1 << 61))
            .map(|len| len * 8)
            .ok_or(Status::PsaErrorInvalidArgument)
    };
    let (aad_bits, text_bits, nonce_bits) =
        (bits(aad.len())?, bits(buf.len())?, bits(nonce.len())?);
    if text_bits / 8 > MAX_TEXT {
        return Err(Status::PsaErrorInvalidArgument);
    }
    let cipher = C::new_from_slice(key).map_err(|_| Status::PsaErrorInvalidArgument)?;
    // The hash subkey H = E(K, 0^128) is as secret as the key: wiped on drop.
    let mut h_bytes = Zeroizing::new([0u8; 16]);
    cipher.encrypt_block(GenericArray::from_mut_slice(&mut h_bytes[..]));
    let h = GenericArray::from_slice(&h_bytes[..]);

    // Pre-counter block J0.
    let j0: [u8; 16] = if nonce.len() == 12 {
        let mut j0 = [0u8; 16];
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        j0
    } else {
        let mut g = GHash::new(h);
        g.update_padded(nonce);
        g.update(&[GenericArray::from(length_block(0, nonce_bits))]);
        g.finalize().into()
    };

    let full_tag = |ciphertext: &[u8]| {
        let mut g = GHash::new(h);
        g.update_padded(aad);
        g.update_padded(ciphertext);
        g.update(&[GenericArray::from(length_block(aad_bits, text_bits))]);
        let s = g.finalize();
        let mut t = GenericArray::from(j0);
        cipher.encrypt_block(&mut t);
        let mut out = [0u8; FULL_TAG];
        for (o, (a, b)) in out.iter_mut().zip(t.iter().zip(s.iter())) {
            *o = a ^ b;
        }
        out
    };

    let mut counter = j0;
    let low = u32::from_be_bytes([j0[12], j0[13], j0[14], j0[15]]).wrapping_add(1);
    counter[12..].copy_from_slice(&low.to_be_bytes());
    let mut stream = ctr::Ctr32BE::from_core(ctr::CtrCore::inner_iv_init(&cipher, &counter.into()));

    match tag {
        None => {
            stream
                .try_apply_keystream(buf)
                .map_err(|_| Status::PsaErrorInvalidArgument)?;
            Ok(full_tag(buf))
        }
        Some(tag) => {
            let expected = full_tag(buf);
            if tag.is_empty() || tag.len() > FULL_TAG || !ct_eq(&expected[..tag.len()], tag) {
                return Err(Status::PsaErrorInvalidSignature);
            }
            stream
                .try_apply_keystream(buf)
                .map_err(|_| Status::PsaErrorInvalidArgument)?;
            Ok(expected)
        }
    }
}

/// `[len(A)]64 || [len(C)]64`, both in bits, big-endian.
fn length_block(a_bits: u64, c_bits: u64) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(&a_bits.to_be_bytes());
    block[8..].copy_from_slice(&c_bits.to_be_bytes());
    block
}

/// CCM with RustCrypto `ccm`, whose tag and nonce sizes are type parameters: dispatch on the
/// key size, the tag length, then the nonce length. Encrypts when `tag` is `None` (returns the
/// tag, left-aligned in 16 bytes); otherwise decrypts and checks `tag`.
pub(super) fn ccm_by_size(
    size: AesSize,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag_len: usize,
    tag: Option<&[u8]>,
) -> Result<[u8; FULL_TAG], Status> {
    // SP 800-38C A.1: with q = 15 - nonce length bytes for the length, messages are shorter
    // than 2^(8q) bytes.
    let q = 15 - nonce.len();
    if q < 8 && (buf.len() as u64) >> (8 * q) != 0 {
        return Err(Status::PsaErrorInvalidArgument);
    }
    let args = CcmArgs {
        key,
        nonce,
        aad,
        tag,
    };
    match size {
        AesSize::Aes128 => ccm_by_tag::<aes::Aes128>(tag_len, args, buf),
        AesSize::Aes192 => ccm_by_tag::<aes::Aes192>(tag_len, args, buf),
        AesSize::Aes256 => ccm_by_tag::<aes::Aes256>(tag_len, args, buf),
    }
}

#[derive(Clone, Copy)]
struct CcmArgs<'a> {
    key: &'a [u8],
    nonce: &'a [u8],
    aad: &'a [u8],
    tag: Option<&'a [u8]>,
}

fn ccm_by_tag<C>(tag_len: usize, args: CcmArgs<'_>, buf: &mut [u8]) -> Result<[u8; 16], Status>
where
    C: BlockCipher + BlockEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit,
{
    match tag_len {
        4 => ccm_by_nonce::<C, U4>(args, buf),
        6 => ccm_by_nonce::<C, U6>(args, buf),
        8 => ccm_by_nonce::<C, U8>(args, buf),
        10 => ccm_by_nonce::<C, U10>(args, buf),
        12 => ccm_by_nonce::<C, U12>(args, buf),
        14 => ccm_by_nonce::<C, U14>(args, buf),
        16 => ccm_by_nonce::<C, U16>(args, buf),
        _ => Err(Status::PsaErrorInvalidArgument),
    }
}

fn ccm_by_nonce<C, M>(args: CcmArgs<'_>, buf: &mut [u8]) -> Result<[u8; 16], Status>
where
    C: BlockCipher + BlockEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit,
    M: ArrayLength<u8> + ccm::TagSize,
{
    match args.nonce.len() {
        7 => ccm_run::<C, M, U7>(args, buf),
        8 => ccm_run::<C, M, U8>(args, buf),
        9 => ccm_run::<C, M, U9>(args, buf),
        10 => ccm_run::<C, M, U10>(args, buf),
        11 => ccm_run::<C, M, U11>(args, buf),
        12 => ccm_run::<C, M, U12>(args, buf),
        13 => ccm_run::<C, M, U13>(args, buf),
        _ => Err(Status::PsaErrorInvalidArgument),
    }
}

fn ccm_run<C, M, N>(args: CcmArgs<'_>, buf: &mut [u8]) -> Result<[u8; 16], Status>
where
    C: BlockCipher + BlockEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit,
    M: ArrayLength<u8> + ccm::TagSize,
    N: ArrayLength<u8> + ccm::NonceSize,
{
    let ccm = ccm::Ccm::<C, M, N>::from(
        C::new_from_slice(args.key).map_err(|_| Status::PsaErrorInvalidArgument)?,
    );
    let nonce = GenericArray::from_slice(args.nonce);
    let mut out = [0u8; 16];
    match args.tag {
        None => {
            let tag = ccm
                .encrypt_in_place_detached(nonce, args.aad, buf)
                .map_err(|_| Status::PsaErrorInvalidArgument)?;
            out[..tag.len()].copy_from_slice(&tag);
        }
        Some(tag) => {
            if tag.len() != M::USIZE {
                return Err(Status::PsaErrorInvalidSignature);
            }
            // `ccm` compares the tag in constant time and wipes `buf` on failure.
            ccm.decrypt_in_place_detached(nonce, args.aad, buf, GenericArray::from_slice(tag))
                .map_err(|_| Status::PsaErrorInvalidSignature)?;
        }
    }
    Ok(out)
}
