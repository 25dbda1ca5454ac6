//! A key's objects on the token: the templates they are made from, generating, importing,
//! finding and destroying them, and reading a fresh key's public part.

use cryptoki::error::Error;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use parsec_psa::{KeyAttributes, KeyType};
use parsec_wire::Status;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};

use super::mechanisms::{der_octet_string, ec_params, ec_point};
use super::{P11Key, Pkcs11Backend, ID_LEN};
use crate::providers::hardware::Created;

impl Pkcs11Backend {
    /// The usage attributes of a key's two objects.
    fn usage(&self, attributes: &KeyAttributes) -> (Vec<Attribute>, Vec<Attribute>) {
        let f = attributes.policy.usage_flags;
        let rsa = attributes.key_type == KeyType::RsaKeyPair;
        let mut private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(self.allow_export && f.export),
            Attribute::Sign(f.sign_hash || f.sign_message),
        ];
        let mut public = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(f.verify_hash || f.verify_message),
        ];
        if rsa {
            private.push(Attribute::Decrypt(f.decrypt));
            public.push(Attribute::Encrypt(f.encrypt));
        } else {
            private.push(Attribute::Derive(f.derive));
        }
        (private, public)
    }

    /// The attributes of a secret key object (AES or HMAC) with this policy.
    fn secret_template(&self, attributes: &KeyAttributes) -> Result<Vec<Attribute>, Status> {
        let f = attributes.policy.usage_flags;
        let key_type = match attributes.key_type {
            KeyType::Aes => CkKeyType::AES,
            KeyType::Hmac => CkKeyType::GENERIC_SECRET,
            _ => return Err(Status::PsaErrorNotSupported),
        };
        Ok(vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(self.allow_export && f.export),
            Attribute::Encrypt(f.encrypt),
            Attribute::Decrypt(f.decrypt),
            Attribute::Sign(f.sign_message || f.sign_hash),
            Attribute::Verify(f.verify_message || f.verify_hash),
        ])
    }

    /// Makes a secret key object with `make` under a fresh id.
    fn create_secret(
        &self,
        make: impl FnOnce(&Session, Vec<u8>) -> Result<ObjectHandle, Error>,
    ) -> Result<Created, Status> {
        let mut id = vec![0u8; ID_LEN];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
        self.token.with_session(|s| make(s, id.clone()))?;
        Ok(Created {
            handle: id,
            public: Vec::new(),
        })
    }

    /// The public key of a freshly made key, in PSA export format.
    fn read_public(
        session: &Session,
        public: ObjectHandle,
        attributes: &KeyAttributes,
    ) -> Result<Result<Vec<u8>, Status>, Error> {
        Ok(match attributes.key_type {
            KeyType::RsaKeyPair | KeyType::RsaPublicKey => {
                let values = session.get_attributes(
                    public,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )?;
                let (mut n, mut e) = (None, None);
                for v in values {
                    match v {
                        Attribute::Modulus(m) => n = Some(m),
                        Attribute::PublicExponent(x) => e = Some(x),
                        _ => {}
                    }
                }
                let (Some(n), Some(e)) = (n, e) else {
                    return Ok(Err(Status::PsaErrorHardwareFailure));
                };
                rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(&n),
                    rsa::BigUint::from_bytes_be(&e),
                )
                .ok()
                // 0 bits: an imported public key recorded without its size.
                .filter(|k| {
                    attributes.bits == 0
                        || k.n().bits() == usize::try_from(attributes.bits).unwrap_or(0)
                })
                .and_then(|k| k.to_pkcs1_der().ok())
                .map(|der| der.as_bytes().to_vec())
                .ok_or(Status::PsaErrorHardwareFailure)
            }
            _ => {
                let values = session.get_attributes(public, &[AttributeType::EcPoint])?;
                values
                    .into_iter()
                    .find_map(|v| match v {
                        Attribute::EcPoint(p) if attributes.bits == 0 => [192, 224, 256, 384, 521]
                            .into_iter()
                            .find_map(|bits| ec_point(&p, bits)),
                        Attribute::EcPoint(p) => ec_point(&p, attributes.bits),
                        _ => None,
                    })
                    .ok_or(Status::PsaErrorHardwareFailure)
            }
        })
    }

    /// A key pair another installation made on this token (upstream's, found by the `CKA_ID`
    /// it gave both objects), or a public key it imported: its public key, read from the
    /// token, which is left as it is.
    pub(super) fn adopt_on_token(
        &self,
        attributes: &KeyAttributes,
        id: &[u8],
    ) -> Result<Created, Status> {
        if attributes.key_type.is_public_key() {
            // An imported public key: recorded as ours are, apart from the token.
            let public = self.token.with_session(|s| {
                match Self::find(s, id, ObjectClass::PUBLIC_KEY)?.as_slice() {
                    [public] => Self::read_public(s, *public, attributes),
                    [] => Ok(Err(Status::PsaErrorDoesNotExist)),
                    _ => Ok(Err(Status::PsaErrorInvalidHandle)),
                }
            })??;
            return Ok(Created {
                handle: Vec::new(),
                public,
            });
        }
        if !matches!(
            attributes.key_type,
            KeyType::RsaKeyPair | KeyType::EccKeyPair { .. }
        ) {
            return Err(Status::PsaErrorNotSupported);
        }
        let public = self.token.with_session(|s| {
            let private = Self::find(s, id, ObjectClass::PRIVATE_KEY)?;
            let public = Self::find(s, id, ObjectClass::PUBLIC_KEY)?;
            match (private.as_slice(), public.as_slice()) {
                ([_], [public]) => Self::read_public(s, *public, attributes),
                ([], _) | (_, []) => Ok(Err(Status::PsaErrorDoesNotExist)),
                // Several objects under one CKA_ID: which is the key cannot be told.
                _ => Ok(Err(Status::PsaErrorInvalidHandle)),
            }
        })??;
        Ok(Created {
            handle: id.to_vec(),
            public,
        })
    }

    fn find(session: &Session, id: &[u8], class: ObjectClass) -> Result<Vec<ObjectHandle>, Error> {
        session.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])
    }

    /// Makes both objects with `make`, reads the public key, and removes the objects again if
    /// anything after their creation fails.
    fn create(
        &self,
        attributes: &KeyAttributes,
        make: impl FnOnce(&Session, Vec<u8>) -> Result<(ObjectHandle, ObjectHandle), Error>,
    ) -> Result<Created, Status> {
        let mut id = vec![0u8; ID_LEN];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| Status::PsaErrorInsufficientEntropy)?;
        let public = self.token.with_session(|s| {
            let (public, private) = make(s, id.clone())?;
            let read = Self::read_public(s, public, attributes);
            if !matches!(read, Ok(Ok(_))) {
                let _ = s.destroy_object(private);
                let _ = s.destroy_object(public);
            }
            read
        })??;
        Ok(Created { handle: id, public })
    }

    pub(super) fn generate_on_token(&self, attributes: &KeyAttributes) -> Result<Created, Status> {
        if matches!(attributes.key_type, KeyType::Aes | KeyType::Hmac) {
            let mut template = self.secret_template(attributes)?;
            let bytes = u64::from(attributes.bits / 8);
            template.push(Attribute::ValueLen(bytes.into()));
            let mechanism = if attributes.key_type == KeyType::Aes {
                Mechanism::AesKeyGen
            } else {
                Mechanism::GenericSecretKeyGen
            };
            return self.create_secret(|s, id| {
                template.push(Attribute::Id(id));
                s.generate_key(&mechanism, &template)
            });
        }
        let (mut private, mut public) = self.usage(attributes);
        let mechanism = match attributes.key_type {
            KeyType::RsaKeyPair => {
                public.push(Attribute::ModulusBits(u64::from(attributes.bits).into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            }
            KeyType::EccKeyPair { curve_family } => {
                let params =
                    ec_params(curve_family, attributes.bits).ok_or(Status::PsaErrorNotSupported)?;
                public.push(Attribute::EcParams(params.to_vec()));
                Mechanism::EccKeyPairGen
            }
            _ => return Err(Status::PsaErrorNotSupported),
        };
        self.create(attributes, |s, id| {
            private.push(Attribute::Id(id.clone()));
            public.push(Attribute::Id(id));
            s.generate_key_pair(&mechanism, &public, &private)
        })
    }

    pub(super) fn import_on_token(
        &self,
        attributes: &KeyAttributes,
        material: &[u8],
    ) -> Result<Created, Status> {
        if matches!(attributes.key_type, KeyType::Aes | KeyType::Hmac) {
            let mut template = self.secret_template(attributes)?;
            template.push(Attribute::Value(material.to_vec()));
            let created = self.create_secret(|s, id| {
                template.push(Attribute::Id(id));
                s.create_object(&template)
            });
            for attribute in template.iter_mut() {
                if let Attribute::Value(v) = attribute {
                    zeroize::Zeroize::zeroize(v);
                }
            }
            return created;
        }
        let (mut private, mut public) = self.usage(attributes);
        match attributes.key_type {
            KeyType::RsaKeyPair => {
                let key = rsa::RsaPrivateKey::from_pkcs1_der(material)
                    .map_err(|_| Status::PsaErrorInvalidArgument)?;
                let [p, q] = key.primes() else {
                    return Err(Status::PsaErrorNotSupported);
                };
                let (Some(dp), Some(dq)) = (key.dp(), key.dq()) else {
                    return Err(Status::PsaErrorInvalidArgument);
                };
                let qinv = key
                    .crt_coefficient()
                    .ok_or(Status::PsaErrorInvalidArgument)?;
                let n = key.n().to_bytes_be();
                let e = key.e().to_bytes_be();
                let common = [
                    Attribute::KeyType(CkKeyType::RSA),
                    Attribute::Modulus(n),
                    Attribute::PublicExponent(e),
                ];
                public.extend(common.iter().cloned());
                public.push(Attribute::Class(ObjectClass::PUBLIC_KEY));
                private.extend(common);
                private.extend([
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::PrivateExponent(key.d().to_bytes_be()),
                    Attribute::Prime1(p.to_bytes_be()),
                    Attribute::Prime2(q.to_bytes_be()),
                    Attribute::Exponent1(dp.to_bytes_be()),
                    Attribute::Exponent2(dq.to_bytes_be()),
                    Attribute::Coefficient(qinv.to_bytes_be()),
                ]);
            }
            KeyType::EccKeyPair { curve_family } => {
                let params = ec_params(curve_family, attributes.bits)
                    .ok_or(Status::PsaErrorNotSupported)?
                    .to_vec();
                let key = crate::engine::asym::load(attributes, material)?;
                let point = crate::engine::asym::export_public(&key)?;
                public.extend([
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(CkKeyType::EC),
                    Attribute::EcParams(params.clone()),
                    Attribute::EcPoint(der_octet_string(&point)),
                ]);
                private.extend([
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(CkKeyType::EC),
                    Attribute::EcParams(params),
                    Attribute::Value(material.to_vec()),
                ]);
            }
            _ => return Err(Status::PsaErrorNotSupported),
        }
        let created = self.create(attributes, |s, id| {
            private.push(Attribute::Id(id.clone()));
            public.push(Attribute::Id(id));
            let public = s.create_object(&public)?;
            match s.create_object(&private) {
                Ok(private) => Ok((public, private)),
                Err(e) => {
                    let _ = s.destroy_object(public);
                    Err(e)
                }
            }
        });
        // The templates held the private key: wipe them.
        for attribute in private.iter_mut() {
            if let Attribute::PrivateExponent(v)
            | Attribute::Prime1(v)
            | Attribute::Prime2(v)
            | Attribute::Exponent1(v)
            | Attribute::Exponent2(v)
            | Attribute::Coefficient(v)
            | Attribute::Value(v) = attribute
            {
                zeroize::Zeroize::zeroize(v);
            }
        }
        created
    }

    pub(super) fn load_on_token(
        &self,
        attributes: &KeyAttributes,
        handle: &[u8],
    ) -> Result<P11Key, Status> {
        let class = if attributes.key_type.is_key_pair() {
            ObjectClass::PRIVATE_KEY
        } else {
            ObjectClass::SECRET_KEY
        };
        let (private, public) = self.token.with_session(|s| {
            Ok((
                Self::find(s, handle, class)?,
                Self::find(s, handle, ObjectClass::PUBLIC_KEY)?,
            ))
        })?;
        match private.as_slice() {
            [private] => Ok(P11Key {
                private: *private,
                public: public.first().copied(),
            }),
            _ => {
                tracing::error!(
                    "{} has {} private keys with the recorded id: it was changed outside this service",
                    self.token.description,
                    private.len()
                );
                Err(Status::PsaErrorDataCorrupt)
            }
        }
    }

    pub(super) fn destroy_on_token(
        &self,
        _attributes: &KeyAttributes,
        handle: &[u8],
    ) -> Result<(), Status> {
        self.token.with_session(|s| {
            for class in [
                ObjectClass::PRIVATE_KEY,
                ObjectClass::PUBLIC_KEY,
                ObjectClass::SECRET_KEY,
            ] {
                for object in Self::find(s, handle, class)? {
                    s.destroy_object(object)?;
                }
            }
            Ok(())
        })
    }
}
