//! ListKeys name patterns come from clients: compiling and matching never panic, the bit-set
//! matcher agrees with the plain one, and a pattern without wildcards matches exactly itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsec_psa::glob::Pattern;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, name) = text.split_once('\n').unwrap_or((&text, ""));
    if let Some(p) = Pattern::new(pattern) {
        assert_eq!(p.matches(name), p.matches_slowly(name));
        if !pattern.contains(['*', '?', '\\']) {
            assert!(p.matches(pattern));
            assert_eq!(p.matches(name), name == pattern);
        }
    }
});
