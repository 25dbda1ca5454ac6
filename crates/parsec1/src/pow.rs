//! Proof of work, type 1 (spec §4.8): find an 8-byte `solution` such that
//! SHA3-384(solution ‖ source) begins with `length` zero bits, counting bits LSB-first within
//! each byte and bytes in order.

use sha3::{Digest, Sha3_384};

/// Longest `length` that makes sense: the whole digest.
pub const MAX_LENGTH: u32 = 384;

/// Zero bits at the start of `hash`, LSB-first within each byte.
pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut n = 0;
    for &b in hash {
        if b == 0 {
            n += 8;
        } else {
            return n + b.trailing_zeros();
        }
    }
    n
}

fn zero_bits(solution: &[u8], source: &[u8]) -> u32 {
    let mut h = Sha3_384::new();
    h.update(solution);
    h.update(source);
    leading_zero_bits(&h.finalize())
}

/// True if `solution` (8 bytes) solves the task: at least `length` zero bits. (Clients insist
/// on exactly `length` zeros then a one; a server accepts more.)
pub fn check(solution: &[u8], source: &[u8], length: u32) -> bool {
    solution.len() == 8 && length <= MAX_LENGTH && zero_bits(solution, source) >= length
}

/// Solves a task: counts up from zero (a 64-bit little-endian counter, as the JavaScript
/// client does) until a hash has exactly `length` zero bits and then a one, which every
/// checker accepts. Expected work: 2^(length+1) hashes.
pub fn solve(source: &[u8], length: u32) -> Option<[u8; 8]> {
    if length >= MAX_LENGTH {
        return None;
    }
    (0u64..)
        .map(u64::to_le_bytes)
        .find(|s| zero_bits(s, source) == length)
}
