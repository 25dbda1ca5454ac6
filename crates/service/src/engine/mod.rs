//! The cryptography, with no key store and no provider: keys go in and out as bytes in PSA
//! export format. [`asym`] (RSA, ECC) and [`sym`] (secret keys, hashes, random) each table at
//! their top which library serves which algorithm, and why. The software provider runs every
//! operation here; the hardware providers run here what needs only a public key (verification,
//! encryption, parsing and checking imported keys) and the OAEP padding ([`oaep`]) their
//! devices lack.

pub mod asym;
pub mod oaep;
pub mod sym;
