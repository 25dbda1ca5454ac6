//! Random BOSS values for property tests, from a seeded generator (so a failure names its
//! seed and can be replayed). Shared with the JavaScript interop test of crates/parsec1.

#![allow(dead_code)]

use parsec_boss::{BigInt, Time, Value};

/// xorshift64*: small, seedable, good enough to spread test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// What the peer can represent.
#[derive(Clone, Copy)]
pub struct Shape {
    /// Only what unicrypto reads back as written: integers below 2^31 in magnitude, doubles
    /// that are not whole numbers, dict keys that are texts, no big integers, and texts that
    /// neither name an `Object.prototype` member nor equal a binary of the same value.
    pub js: bool,
    pub max_depth: u32,
}

pub fn value(rng: &mut Rng, shape: Shape, depth: u32) -> Value {
    let containers = depth < shape.max_depth;
    match rng.below(if containers { 11 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 1),
        2 => {
            let v = match rng.below(4) {
                0 => rng.below(23) as i128,
                1 => rng.below(1 << 16) as i128 - (1 << 15),
                _ => rng.below(1 << 32) as i128 - (1 << 31) + 1,
            };
            if !shape.js && rng.below(4) == 0 {
                let big = rng.next() as i128 * (rng.below(1 << 62) as i128 | 1);
                Value::Int(if rng.below(2) == 0 { big } else { -big })
            } else {
                Value::Int(v)
            }
        }
        3 => {
            let x = (rng.next() as i64 as f64) / ((rng.below(1 << 20) + 1) as f64) + 0.5;
            if shape.js && x.fract() == 0.0 {
                Value::Float(x + 0.25)
            } else {
                Value::Float(x)
            }
        }
        4 => Value::Text(text(rng, shape)),
        5 => Value::Bin(bin(rng, shape)),
        6 => Value::Time(Time(rng.below(4_000_000_000))),
        7 if !shape.js => {
            let n = 17 + rng.below(8) as usize;
            let mut m = rng.bytes(n);
            *m.last_mut().unwrap() |= 1;
            Value::BigInt(BigInt::from_magnitude(rng.below(2) == 1, &m).unwrap())
        }
        7 | 8 => Value::Text(text(rng, shape)),
        9 => Value::List(
            (0..rng.below(6))
                .map(|_| value(rng, shape, depth + 1))
                .collect(),
        ),
        _ => Value::Dict(
            (0..rng.below(6))
                .map(|i| {
                    let key = if shape.js || rng.below(2) == 0 {
                        // Distinct text keys (JavaScript objects keep only the last of equal ones).
                        Value::Text(format!("{}{i}", text(rng, shape)))
                    } else {
                        value(rng, shape, depth + 1)
                    };
                    (key, value(rng, shape, depth + 1))
                })
                .collect(),
        ),
    }
}

fn text(rng: &mut Rng, shape: Shape) -> String {
    const PIECES: [&str; 10] = ["a", "Z", "cmd", "args", " ", "é", "Абв", "🔑", "_", "0"];
    let s: String = (0..rng.below(8))
        .map(|_| PIECES[rng.below(10) as usize])
        .collect();
    // unicrypto hangs on these names, and confuses text with binary of the same bytes: texts
    // start with 't' so that they never equal a generated binary (whose first byte is ≥ 0x80).
    if shape.js {
        format!("t{s}")
    } else {
        s
    }
}

fn bin(rng: &mut Rng, shape: Shape) -> Vec<u8> {
    let n = rng.below(40) as usize;
    let mut b = rng.bytes(n);
    if shape.js {
        b.insert(0, 0x80 | rng.next() as u8);
    }
    b
}
