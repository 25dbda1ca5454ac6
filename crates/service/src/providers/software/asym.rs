//! Asymmetric keys of the software provider: RSA, ECC (Weierstrass and Montgomery).
