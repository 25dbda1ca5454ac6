//! Key-name patterns for ListKeys, with path semantics (key names look like `/keys/rsa/k1`):
//! `*` matches any run of characters except `/`, `?` one character except `/`, `**` any run
//! including `/`, and `\` makes the next character literal.

use std::collections::HashMap;

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// A literal character: its index in [`Pattern::chars`].
    Char(usize),
    AnyChar,
    Segment,
    Anything,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
    /// The distinct literal characters of the pattern, by their index.
    chars: Vec<char>,
    index: HashMap<char, usize>,
}

impl Pattern {
    /// Compiles `pattern`; `None` if it is too long or ends in a lone `\`.
    pub fn new(pattern: &str) -> Option<Pattern> {
        if pattern.len() > MAX_PATTERN_LEN {
            return None;
        }
        let mut tokens = Vec::with_capacity(pattern.len());
        let mut chars: Vec<char> = Vec::new();
        let mut index = HashMap::new();
        let mut literal = |c: char| {
            Token::Char(*index.entry(c).or_insert_with(|| {
                chars.push(c);
                chars.len() - 1
            }))
        };
        let mut input = pattern.chars().peekable();
        while let Some(c) = input.next() {
            tokens.push(match c {
                '\\' => literal(input.next()?),
                '?' => Token::AnyChar,
                '*' if input.peek() == Some(&'*') => {
                    input.next();
                    Token::Anything
                }
                '*' => Token::Segment,
                c => literal(c),
            });
        }
        Some(Pattern {
            tokens,
            chars,
            index,
        })
    }

    /// Whether `name` matches the whole pattern.
    ///
    /// The set of name positions the pattern's first tokens can reach is a bit set, moved by
    /// each token with a few word operations (a wildcard's run through the name is a carry
    /// through an addition), so a match costs about (tokens × name length / 64) word
    /// operations plus one pass over the name: ListKeys over many long names with a long
    /// pattern stays cheap. [`Pattern::matches_slowly`] is the plain version it is checked
    /// against.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // Bit j: position j of the name (0..=len); one spare bit for the carries.
        let words = (name.len() + 2).div_ceil(64);
        let mut within = Bits::zeros(words);
        for j in 0..=name.len() {
            within.set(j);
        }
        // Positions j >= 1 whose preceding character is not '/', or is literal character k.
        let mut not_slash = Bits::zeros(words);
        let mut literal: Vec<Bits> = vec![Bits::zeros(words); self.chars.len()];
        for (i, c) in name.iter().enumerate() {
            if *c != '/' {
                not_slash.set(i + 1);
            }
            if let Some(k) = self.index.get(c) {
                literal[*k].set(i + 1);
            }
        }
        let mut reach = Bits::zeros(words);
        reach.set(0);
        for token in &self.tokens {
            reach = match token {
                Token::Char(k) => reach.shifted_up().and(&literal[*k]),
                Token::AnyChar => reach.shifted_up().and(&not_slash),
                Token::Segment => reach.run_through(&not_slash),
                Token::Anything => reach.run_through(&within),
            };
            if reach.is_empty() {
                return false;
            }
        }
        reach.get(name.len())
    }

    /// The same answer as [`Pattern::matches`], by the plain dynamic programme over name
    /// positions (cost: tokens × name length). For tests and fuzzing.
    #[doc(hidden)]
    pub fn matches_slowly(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // reach[j]: the first i tokens can match name[..j].
        let mut reach = vec![false; name.len() + 1];
        reach[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; name.len() + 1];
            for j in 0..=name.len() {
                next[j] = match token {
                    Token::Char(k) => j > 0 && reach[j - 1] && name[j - 1] == self.chars[*k],
                    Token::AnyChar => j > 0 && reach[j - 1] && name[j - 1] != '/',
                    Token::Segment => reach[j] || (j > 0 && next[j - 1] && name[j - 1] != '/'),
                    Token::Anything => reach[j] || (j > 0 && next[j - 1]),
                };
            }
            reach = next;
        }
        reach[name.len()]
    }
}

/// A fixed-size bit set, bit j in word j / 64.
#[derive(Debug, Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn zeros(words: usize) -> Bits {
        Bits(vec![0; words])
    }

    fn set(&mut self, j: usize) {
        self.0[j / 64] |= 1 << (j % 64);
    }

    fn get(&self, j: usize) -> bool {
        self.0[j / 64] & (1 << (j % 64)) != 0
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    fn and(mut self, other: &Bits) -> Bits {
        for (w, o) in self.0.iter_mut().zip(&other.0) {
            *w &= o;
        }
        self
    }

    /// Bit j moved to j + 1 (the top bit of the set is always a spare zero, so none is lost).
    fn shifted_up(mut self) -> Bits {
        let mut carry = 0;
        for w in &mut self.0 {
            let top = *w >> 63;
            *w = (*w << 1) | carry;
            carry = top;
        }
        self
    }

    /// C[j] = self[j] | (through[j] & C[j - 1]): every set bit runs on through the positions
    /// of `through`. That recurrence is the carry of the sum A + B with A = self | through and
    /// B = self (carry generated where both are set, propagated where one is), so
    /// C = ((A + B) ^ A ^ B) >> 1.
    fn run_through(self, through: &Bits) -> Bits {
        let mut out = Vec::with_capacity(self.0.len());
        let mut carry = false;
        for (g, p) in self.0.iter().zip(&through.0) {
            let a = g | p;
            let (sum, c1) = a.overflowing_add(*g);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            carry = c1 || c2;
            out.push(sum ^ a ^ g);
        }
        // `out` holds the carries into each position; position j's result is the carry into
        // j + 1. The spare top bit keeps the last carry in the set.
        let mut bits = Bits(out);
        let mut down = 0;
        for w in bits.0.iter_mut().rev() {
            let low = *w & 1;
            *w = (*w >> 1) | (down << 63);
            down = low;
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Pattern::new(pattern).unwrap().matches(name)
    }

    #[test]
    fn path_globs() {
        assert!(m("/keys/rsa/*", "/keys/rsa/my_key_1"));
        assert!(!m("/keys/rsa/*", "/keys/rsa/deep/key"));
        assert!(!m("/keys/rsa/*", "/keys/ecc/k"));
        assert!(m("/keys/**", "/keys/rsa/deep/key"));
        assert!(m("/keys/*/k?", "/keys/ecc/k1"));
        assert!(!m("/keys/*/k?", "/keys/ecc/k12"));
        assert!(m("*", "plain"));
        assert!(!m("*", "a/b"));
        assert!(m("**", ""));
        assert!(m(r"\*", "*"));
        assert!(!m(r"\*", "x"));
        assert!(m("héllo*", "héllo wörld"));
        assert!(Pattern::new("bad\\").is_none());
        assert!(Pattern::new(&"*".repeat(MAX_PATTERN_LEN + 1)).is_none());
    }

    #[test]
    fn adversarial_patterns_stay_linear() {
        let name = "a".repeat(1000);
        assert!(!m(&format!("{}b", "*a".repeat(500)), &name));
    }

    /// The bit-set matcher agrees with the plain dynamic programme, on names that cross word
    /// boundaries and every kind of token.
    #[test]
    fn the_fast_matcher_agrees_with_the_plain_one() {
        let alphabet = ['a', 'b', '/', 'é'];
        let patterns = [
            "*", "**", "?", "a*", "*b", "a/*", "**/b", "a?b", "*/*", "/**", "a**b", "*a*a*", "??",
            "a", "", "\\*", "é*/?",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = (next() % 140) as usize;
            let name: String = (0..len).map(|_| alphabet[(next() % 4) as usize]).collect();
            let mut pattern = String::new();
            for _ in 0..(next() % 5) {
                pattern.push_str(patterns[(next() % patterns.len() as u64) as usize]);
            }
            let p = Pattern::new(&pattern).unwrap();
            assert_eq!(
                p.matches(&name),
                p.matches_slowly(&name),
                "{pattern:?} on {name:?}"
            );
        }
        // Matches that reach past 64 and 128 characters.
        let long = format!("/{}/{}", "a".repeat(70), "b".repeat(70));
        assert!(m("/*/*", &long));
        assert!(m("/**b", &long));
        assert!(!m("/*b", &long));
        assert!(m(&format!("/{}/**", "?".repeat(70)), &long));
    }
}
