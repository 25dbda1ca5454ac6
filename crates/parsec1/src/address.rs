//! Key addresses (spec §4.2): `(keyMask << 4 | typeMark) ‖ digest(e ‖ n) ‖ CRC-32`, the digest
//! SHA3-384 for a long (53-byte) address and SHA3-256 for a short (37-byte) one; and their
//! Safe58 text (Base58, Bitcoin alphabet).

use std::fmt;

use sha3::{Digest, Sha3_256, Sha3_384};

use crate::error::{Error, Result};
use crate::keys::PublicKey;

pub const LONG_LEN: usize = 53;
pub const SHORT_LEN: usize = 37;

/// A validated key address (length, checksum and key mask checked).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyAddress {
    bytes: Vec<u8>,
}

fn key_mask(key: &PublicKey) -> Result<u8> {
    if !key.is_e_65537() {
        return Err(Error::NoAddress);
    }
    match key.bits() {
        2048 => Ok(1),
        4096 => Ok(2),
        8192 => Ok(3),
        _ => Err(Error::NoAddress),
    }
}

impl KeyAddress {
    /// The address of a key, long or short, with type mark 0.
    pub fn of(key: &PublicKey, long: bool) -> Result<KeyAddress> {
        let mut bytes = vec![key_mask(key)? << 4];
        let e_n = key.e_n();
        if long {
            bytes.extend_from_slice(&Sha3_384::digest(&e_n));
        } else {
            bytes.extend_from_slice(&Sha3_256::digest(&e_n));
        }
        let crc = crc32(&bytes);
        bytes.extend_from_slice(&crc.to_be_bytes());
        Ok(KeyAddress { bytes })
    }

    /// Checks and wraps address bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<KeyAddress> {
        if bytes.len() != LONG_LEN && bytes.len() != SHORT_LEN {
            return Err(Error::BadAddress("length is neither 37 nor 53 bytes"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32(body).to_be_bytes() != crc {
            return Err(Error::BadAddress("checksum mismatch"));
        }
        if !(1..=3).contains(&(body[0] >> 4)) {
            return Err(Error::BadAddress("unknown key mask"));
        }
        Ok(KeyAddress {
            bytes: bytes.to_vec(),
        })
    }

    /// Parses Safe58 text, strictly: only the Bitcoin Base58 alphabet.
    pub fn parse(text: &str) -> Result<KeyAddress> {
        Self::from_bytes(&safe58_decode(text)?)
    }

    /// Parses Safe58 text typed by a person: `I ! | l` are read as `1`, `O 0` as `o`
    /// (Java's non-strict decoder).
    pub fn parse_lenient(text: &str) -> Result<KeyAddress> {
        let mapped: String = text
            .trim()
            .chars()
            .map(|c| match c {
                'I' | '!' | '|' | 'l' => '1',
                'O' | '0' => 'o',
                c => c,
            })
            .collect();
        Self::parse(&mapped)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn is_long(&self) -> bool {
        self.bytes.len() == LONG_LEN
    }

    /// 0 for every real address; 13 for Java's "nobody" zero address.
    pub fn type_mark(&self) -> u8 {
        self.bytes[0] & 0x0F
    }

    /// True if this is the address of `key`: same key mask and digest, whatever the type mark.
    pub fn matches(&self, key: &PublicKey) -> bool {
        match KeyAddress::of(key, self.is_long()) {
            Ok(other) => {
                other.bytes[0] >> 4 == self.bytes[0] >> 4
                    && other.bytes[1..other.bytes.len() - 4] == self.bytes[1..self.bytes.len() - 4]
            }
            Err(_) => false,
        }
    }
}

impl fmt::Display for KeyAddress {
    /// Safe58 text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&safe58_encode(&self.bytes))
    }
}

impl fmt::Debug for KeyAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyAddress({self})")
    }
}

impl std::str::FromStr for KeyAddress {
    type Err = Error;
    fn from_str(s: &str) -> Result<KeyAddress> {
        KeyAddress::parse(s)
    }
}

/// CRC-32 (IEEE, reflected, as zlib and java.util.zip).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Longest Safe58 text accepted: a long address is at most 73 characters.
const MAX_TEXT: usize = 100;

/// Base58 with the Bitcoin alphabet; leading zero bytes become leading `1`s.
pub fn safe58_encode(data: &[u8]) -> String {
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    // Base-58 digits, least significant first.
    let mut digits: Vec<u8> = Vec::with_capacity(data.len() * 138 / 100 + 1);
    for &byte in &data[zeros..] {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut s = String::with_capacity(zeros + digits.len());
    s.extend(std::iter::repeat_n('1', zeros));
    s.extend(
        digits
            .iter()
            .rev()
            .map(|&d| char::from(ALPHABET[usize::from(d)])),
    );
    s
}

/// Strict Base58 decoding (Bitcoin alphabet only), for texts of up to 100 characters.
pub fn safe58_decode(text: &str) -> Result<Vec<u8>> {
    if text.len() > MAX_TEXT {
        return Err(Error::BadAddress("text too long"));
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    // Bytes, least significant first.
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes().skip(zeros) {
        let mut carry = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or(Error::BadAddress("character outside the Safe58 alphabet"))?
            as u32;
        for b in bytes.iter_mut() {
            carry += u32::from(*b) * 58;
            *b = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push(carry as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(bytes.iter().rev());
    Ok(out)
}
