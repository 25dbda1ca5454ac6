//! Key-name patterns for ListKeys, with path semantics (key names look like `/keys/rsa/k1`):
//! `*` matches any run of characters except `/`, `?` one character except `/`, `**` any run
//! including `/`, and `\` makes the next character literal.

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    AnyChar,
    Segment,
    Anything,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compiles `pattern`; `None` if it is too long or ends in a lone `\`.
    pub fn new(pattern: &str) -> Option<Pattern> {
        if pattern.len() > MAX_PATTERN_LEN {
            return None;
        }
        let mut tokens = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '\\' => Token::Char(chars.next()?),
                '?' => Token::AnyChar,
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    Token::Anything
                }
                '*' => Token::Segment,
                c => Token::Char(c),
            });
        }
        Some(Pattern { tokens })
    }

    /// Whether `name` matches the whole pattern. Linear in `name` for each position of the
    /// pattern (a dynamic programme over positions), so no input makes it exponential.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // reach[j]: the first i tokens can match name[..j].
        let mut reach = vec![false; name.len() + 1];
        reach[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; name.len() + 1];
            for j in 0..=name.len() {
                match token {
                    Token::Char(c) => next[j] = j > 0 && reach[j - 1] && name[j - 1] == *c,
                    Token::AnyChar => next[j] = j > 0 && reach[j - 1] && name[j - 1] != '/',
                    Token::Segment => {
                        next[j] = reach[j] || (j > 0 && next[j - 1] && name[j - 1] != '/')
                    }
                    Token::Anything => next[j] = reach[j] || (j > 0 && next[j - 1]),
                }
            }
            reach = next;
        }
        reach[name.len()]
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
}
