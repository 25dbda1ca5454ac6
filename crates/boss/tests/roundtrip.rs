//! Property round trips over random values: the Value codec and the serde path agree byte for
//! byte and read back what they wrote.

mod gen;

use gen::{Rng, Shape};
use parsec_boss::{decode, encode_with, from_slice, to_vec_with, EncodeOptions, Value};

const LARGE: EncodeOptions = EncodeOptions {
    allow_large_integers: true,
    max_depth: 64,
};

#[test]
fn random_values_round_trip_through_both_paths() {
    for seed in 0..3000 {
        let mut rng = Rng::new(seed);
        let shape = Shape {
            js: seed % 2 == 0,
            max_depth: 5,
        };
        let v = gen::value(&mut rng, shape, 0);
        let bytes = encode_with(&v, LARGE).unwrap();
        assert_eq!(decode(&bytes).unwrap(), v, "seed {seed}");
        assert_eq!(
            to_vec_with(&v, LARGE).unwrap(),
            bytes,
            "serde writes the same, seed {seed}"
        );
        assert_eq!(
            from_slice::<Value>(&bytes).unwrap(),
            v,
            "serde reads the same, seed {seed}"
        );
        // The JavaScript-safe default accepts everything of the JavaScript shape.
        if shape.js {
            assert_eq!(parsec_boss::encode(&v).unwrap(), bytes, "seed {seed}");
        }
    }
}

#[test]
fn values_read_through_references_equal_the_originals() {
    // Build [x, x, [x]] by hand with references, for random container x.
    for seed in 0..500 {
        let mut rng = Rng::new(seed);
        let x = Value::List(vec![gen::value(
            &mut rng,
            Shape {
                js: false,
                max_depth: 3,
            },
            0,
        )]);
        let mut bytes = vec![0x1E]; // a list of 3: #1
        bytes.extend(encode_with(&x, LARGE).unwrap()); // x is #2
        bytes.extend([0x15, 0x0E, 0x15]); // ref #2, [ref #2]
        let expected = Value::List(vec![x.clone(), x.clone(), Value::List(vec![x])]);
        assert_eq!(decode(&bytes).unwrap(), expected, "seed {seed}");
        assert_eq!(
            from_slice::<Value>(&bytes).unwrap(),
            expected,
            "seed {seed}"
        );
    }
}
