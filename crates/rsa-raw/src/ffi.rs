//! The calls into aws-lc.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use crate::Error;

/// An RSA private key held by aws-lc.
pub struct PrivateKey {
    rsa: NonNull<sys::RSA>,
    /// The modulus's length in bytes.
    size: usize,
}

// SAFETY: aws-lc's RSA object is not tied to a thread. Private operations through a shared key
// take a `*mut RSA` because they fill caches (Montgomery contexts, blinding values) on first
// use; aws-lc guards those with the object's own lock (`rsa->lock`). That lock is what makes
// concurrent use sound; aws-lc-rs relies on the same for its key pairs. Nothing here changes
// the key itself.
unsafe impl Send for PrivateKey {}
// SAFETY: as above; every method takes `&self` and aws-lc synchronises internally.
unsafe impl Sync for PrivateKey {}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(RSA-{}, <secret>)", self.size * 8)
    }
}

/// Forgets the errors aws-lc queued for this thread, so that none is reported later.
fn clear_errors() {
    // SAFETY: no arguments; only touches this thread's error queue.
    unsafe { sys::ERR_clear_error() };
}

impl PrivateKey {
    /// Reads a DER PKCS#1 `RSAPrivateKey` (with its CRT parts) and checks that its parts agree.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, Error> {
        // SAFETY: the pointer and length describe `der`, which outlives the call; aws-lc
        // copies what it keeps.
        let rsa = unsafe { sys::RSA_private_key_from_bytes(der.as_ptr(), der.len()) };
        let Some(rsa) = NonNull::new(rsa) else {
            clear_errors();
            return Err(Error::BadKey);
        };
        // Owned from here: dropped (freed) on every path.
        let mut key = PrivateKey { rsa, size: 0 };
        // SAFETY: `rsa` is a valid key owned by `key` until it drops.
        let checked = unsafe { sys::RSA_check_key(key.rsa.as_ptr()) } == 1;
        // SAFETY: as above.
        key.size = unsafe { sys::RSA_size(key.rsa.as_ptr()) } as usize;
        if !checked || key.size == 0 {
            clear_errors();
            return Err(Error::BadKey);
        }
        Ok(key)
    }

    /// The modulus's length in bytes: the length of every input and output block.
    pub fn size(&self) -> usize {
        self.size
    }

    /// `input^d mod n`, for an input of [`PrivateKey::size`] bytes below the modulus.
    pub fn raw(&self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.decrypt(input, sys::RSA_NO_PADDING, Error::BadInput)
    }

    /// RSAES-PKCS1-v1_5 decryption of a block of [`PrivateKey::size`] bytes.
    pub fn decrypt_pkcs1v15(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.decrypt(ciphertext, sys::RSA_PKCS1_PADDING, Error::BadPadding)
    }

    fn decrypt(
        &self,
        input: &[u8],
        padding: i32,
        failure: Error,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        if input.len() != self.size {
            return Err(Error::BadInput);
        }
        let mut out = Zeroizing::new(vec![0u8; self.size]);
        let mut written = 0usize;
        // SAFETY: `out` has room for `self.size` bytes, which aws-lc never exceeds for this
        // key (it checks against `max_out` too); `input` is `self.size` readable bytes; the key
        // is valid while `self` lives. RSA_decrypt does not keep any pointer.
        let ok = unsafe {
            sys::RSA_decrypt(
                self.rsa.as_ptr(),
                &mut written,
                out.as_mut_ptr(),
                out.len(),
                input.as_ptr(),
                input.len(),
                padding,
            )
        } == 1;
        if !ok {
            clear_errors();
            return Err(failure);
        }
        out.truncate(written.min(self.size));
        Ok(out)
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        // SAFETY: `rsa` was returned by aws-lc, is owned by this value alone, and is not used
        // after this. RSA_free wipes the private parts.
        unsafe { sys::RSA_free(self.rsa.as_ptr()) };
    }
}
