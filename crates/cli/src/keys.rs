//! The subcommands.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use parsec_psa::{
    Algorithm, AsymmetricEncryption, AsymmetricSignature, Hash, KeyAttributes, KeyType, Policy,
    SignHash, UsageFlags,
};
use parsec_rs_client::easy::kinds;
use parsec_rs_client::{der, Client, Error, ProviderId};

use crate::args::{Command, ParsecToolApp};
use crate::output::{authenticator_name, provider_name, Json, Log};
use crate::x509;

pub fn run(app: &ParsecToolApp, client: &Client, log: &Log) -> Result<(), Error> {
    let json = app.json;
    match &app.command {
        Command::Ping => {
            let (maj, min) = client.ping()?;
            log.info("Service wire protocol version");
            if json {
                Json::Object(vec![(
                    "wire_protocol_version",
                    Json::str(format!("{maj}.{min}")),
                )])
                .print();
            } else {
                println!("{maj}.{min}");
            }
        }
        Command::ListProviders => {
            let providers = client.list_providers()?;
            log.info("Available providers:");
            if json {
                Json::List(
                    providers
                        .iter()
                        .map(|p| {
                            Json::Object(vec![
                                ("id", Json::Num(p.id.into())),
                                ("name", Json::str(provider_name(p.id))),
                                ("description", Json::str(&p.description)),
                                (
                                    "version",
                                    Json::str(format!(
                                        "{}.{}.{}",
                                        p.version_maj, p.version_min, p.version_rev
                                    )),
                                ),
                                ("vendor", Json::str(&p.vendor)),
                                ("uuid", Json::str(&p.uuid)),
                            ])
                        })
                        .collect(),
                )
                .print();
                return Ok(());
            }
            for p in providers {
                println!("ID: 0x{:02x} ({})", p.id, provider_name(p.id));
                println!("Description: {}", p.description);
                println!(
                    "Version: {}.{}.{}",
                    p.version_maj, p.version_min, p.version_rev
                );
                let vendor = if p.vendor.is_empty() {
                    "Unspecified"
                } else {
                    &p.vendor
                };
                println!("Vendor: {vendor}");
                println!("UUID: {}", p.uuid);
                println!();
            }
        }
        Command::ListAuthenticators => {
            let authenticators = client.list_authenticators()?;
            log.info("Available authenticators:");
            if json {
                Json::List(
                    authenticators
                        .iter()
                        .map(|a| {
                            Json::Object(vec![
                                ("id", Json::Num(a.id.into())),
                                ("name", Json::str(authenticator_name(a.id))),
                                ("description", Json::str(&a.description)),
                                (
                                    "version",
                                    Json::str(format!(
                                        "{}.{}.{}",
                                        a.version_maj, a.version_min, a.version_rev
                                    )),
                                ),
                            ])
                        })
                        .collect(),
                )
                .print();
                return Ok(());
            }
            for a in authenticators {
                println!("ID: 0x{:02x} ({})", a.id, authenticator_name(a.id));
                println!("Description: {}", a.description);
                println!(
                    "Version: {}.{}.{}",
                    a.version_maj, a.version_min, a.version_rev
                );
                println!();
            }
        }
        Command::ListOpcodes { provider } => {
            // As upstream: the provider named here, else the one named before the command,
            // else the core provider.
            let provider = match provider.or(app.provider) {
                Some(id) => ProviderId::from_u8(id)
                    .ok_or_else(|| Error::InvalidInput(format!("there is no provider {id}")))?,
                None => ProviderId::Core,
            };
            let opcodes = client.list_opcodes(provider)?;
            log.info(&format!(
                "Available opcodes for {}:",
                provider_name(provider as u8)
            ));
            if json {
                Json::List(
                    opcodes
                        .iter()
                        .map(|o| Json::str(format!("{o:?}")))
                        .collect(),
                )
                .print();
                return Ok(());
            }
            for opcode in opcodes {
                println!("0x{:02x} ({opcode:?})", opcode.to_u32());
            }
        }
        Command::ListKeys { pattern } => {
            let keys = client.list_keys_matching(pattern.as_deref())?;
            if json {
                Json::List(
                    keys.iter()
                        .map(|k| {
                            Json::Object(vec![
                                ("name", Json::str(&k.name)),
                                ("provider_id", Json::Num(k.provider_id.into())),
                                (
                                    "key_type",
                                    Json::str(format!("{:?}", k.attributes.key_type)),
                                ),
                                ("bits", Json::Num(k.attributes.bits.into())),
                                (
                                    "permitted_algorithm",
                                    Json::str(format!(
                                        "{:?}",
                                        k.attributes.policy.permitted_algorithms
                                    )),
                                ),
                            ])
                        })
                        .collect(),
                )
                .print();
                return Ok(());
            }
            if keys.is_empty() {
                log.info("No keys currently available.");
                return Ok(());
            }
            log.info("Available keys:");
            for k in keys {
                println!(
                    "* {} ({}, {:?}, {} bits, permitted algorithm: {:?})",
                    k.name,
                    provider_name(k.provider_id),
                    k.attributes.key_type,
                    k.attributes.bits,
                    k.attributes.policy.permitted_algorithms
                );
            }
        }
        Command::ListClients => {
            let clients = client.list_clients()?;
            if json {
                Json::List(clients.into_iter().map(Json::Str).collect()).print();
                return Ok(());
            }
            if clients.is_empty() {
                log.info("No clients in the service.");
                return Ok(());
            }
            log.info("Parsec clients:");
            for c in clients {
                println!("{c}");
            }
        }
        Command::DeleteClient { client: name } => {
            client.delete_client(name)?;
            log.info(&format!("Client \"{name}\" deleted."));
        }
        Command::GenerateRandom { nbytes } => {
            log.info(&format!("Generating {nbytes} random bytes..."));
            let bytes = client.psa_generate_random(*nbytes)?;
            if json {
                Json::Object(vec![("random", Json::str(BASE64.encode(bytes.expose())))]).print();
                return Ok(());
            }
            log.info("Random bytes:");
            let mut line = String::with_capacity(bytes.len() * 3);
            for b in bytes.expose() {
                line.push_str(&format!("{b:02X} "));
            }
            println!("{line}");
        }
        Command::ExportPublicKey { key, pkcs1 } => {
            let public = client.public_key(&key.key_name)?;
            let is_rsa = matches!(
                public.attributes.key_type,
                KeyType::RsaKeyPair | KeyType::RsaPublicKey
            );
            let pem = if *pkcs1 {
                if !is_rsa {
                    return Err(Error::UnsuitableKey {
                        key: key.key_name.clone(),
                        why: "PKCS1 format doesn't support ECC keys".into(),
                    });
                }
                der::pem("RSA PUBLIC KEY", &public.psa)
            } else {
                public.pem()
            };
            if json {
                Json::Object(vec![("pem", Json::str(pem))]).print();
            } else {
                print!("{pem}");
            }
        }
        Command::CreateRsaKey {
            key,
            for_signing,
            for_signing_pss,
            bits,
            oaep,
        } => {
            let policy = rsa_policy(*for_signing, *for_signing_pss, *oaep);
            let mut attributes = kinds::rsa(policy.usage_flags, policy.permitted_algorithms);
            // As upstream: no check of the size here; the service and its device decide.
            attributes.bits = bits.unwrap_or(2048);
            if *for_signing {
                log.info("Creating RSA signing key with PKCS1 v1.5 scheme...");
            } else if *for_signing_pss {
                log.info("Creating RSA signing key with PSS scheme...");
            } else {
                log.info("Creating RSA encryption key...");
            }
            client.psa_generate_key(&key.key_name, attributes)?;
            log.info(&format!("Key \"{}\" created.", key.key_name));
        }
        Command::CreateEccKey { key } => {
            log.info("Creating ECC signing key...");
            client.create_signing_key(&key.key_name)?;
            log.info(&format!("Key \"{}\" created.", key.key_name));
        }
        Command::Sign { key, input_data } => {
            let signature = sign(client, &key.key_name, input_data.as_bytes(), log)?;
            let text = BASE64.encode(signature);
            if json {
                Json::Object(vec![("signature", Json::str(text))]).print();
            } else {
                println!("{text}");
            }
        }
        Command::Verify {
            key,
            signature,
            input_data,
        } => {
            let signature = base64(signature)?;
            let (alg, hash) = client.signature_alg(&key.key_name, Hash::Sha256)?;
            let signature = if alg.is_ecc() {
                der::ecdsa_raw(&signature, client.key_info(&key.key_name)?.attributes.bits)
                    .ok_or_else(|| Error::InvalidInput("not a DER ECDSA signature".into()))?
            } else {
                signature
            };
            let digest = parsec_rs_client::easy::digest_of(hash, input_data.as_bytes())?;
            client.psa_verify_hash(&key.key_name, &digest, alg, &signature)?;
            if json {
                Json::Object(vec![("valid", Json::Bool(true))]).print();
            } else {
                println!("Signature verified");
            }
        }
        Command::Encrypt { key, input_data } => {
            let ciphertext = match permitted(client, &key.key_name)? {
                Algorithm::AsymmetricEncryption(alg) => {
                    log.info(&format!("Encrypting data with {alg:?}..."));
                    client.psa_asymmetric_encrypt(
                        &key.key_name,
                        alg,
                        input_data.as_bytes(),
                        None,
                    )?
                }
                Algorithm::Aead(alg) => {
                    log.info(&format!("Encrypting data with {alg:?} (nonce first)..."));
                    client.encrypt(&key.key_name, input_data.as_bytes())?
                }
                other => return Err(wrong_algorithm(&key.key_name, other, "encryption")),
            };
            let text = BASE64.encode(ciphertext);
            if json {
                Json::Object(vec![("ciphertext", Json::str(text))]).print();
            } else {
                println!("{text}");
            }
        }
        Command::Decrypt { key, input_data } => {
            let input = base64(input_data)?;
            let plaintext = match permitted(client, &key.key_name)? {
                Algorithm::AsymmetricEncryption(alg) => {
                    log.info(&format!("Decrypting data with {alg:?}..."));
                    client.psa_asymmetric_decrypt(&key.key_name, alg, &input, None)?
                }
                Algorithm::Aead(alg) => {
                    log.info(&format!("Decrypting data with {alg:?}..."));
                    client.decrypt(&key.key_name, &input)?
                }
                other => return Err(wrong_algorithm(&key.key_name, other, "decryption")),
            };
            let text = String::from_utf8_lossy(plaintext.expose()).to_string();
            if json {
                Json::Object(vec![("plaintext", Json::str(text))]).print();
            } else {
                println!("{text}");
            }
        }
        Command::DeleteKey { key } => {
            log.info("Deleting a key...");
            client.psa_destroy_key(&key.key_name)?;
            log.info(&format!("Key \"{}\" deleted.", key.key_name));
        }
        Command::CreateCsr { key, subject } => {
            let pem = x509::create_csr(client, &key.key_name, subject)?;
            if json {
                Json::Object(vec![("pem", Json::str(pem))]).print();
            } else {
                println!("{pem}");
            }
        }
        Command::CreateCertificate { key, subject, days } => {
            let pem = x509::create_certificate(client, &key.key_name, subject, *days)?;
            if json {
                Json::Object(vec![("pem", Json::str(pem))]).print();
            } else {
                print!("{pem}");
            }
        }
        Command::ImportKey {
            key,
            file,
            for_signing,
            for_signing_pss,
            oaep,
        } => {
            let bytes = read_key_file(file)?;
            let parsed = parsec_rs_client::keyfile::parse(&bytes)?;
            let policy = match parsed.key_type {
                KeyType::RsaKeyPair | KeyType::RsaPublicKey => {
                    rsa_policy(*for_signing, *for_signing_pss, *oaep)
                }
                _ => kinds::ecc_signing().policy,
            };
            let attributes = KeyAttributes {
                key_type: parsed.key_type,
                bits: parsed.bits,
                policy,
            };
            client.psa_import_key(&key.key_name, parsed.data.expose(), attributes)?;
            log.info(&format!("Key \"{}\" imported.", key.key_name));
        }
        Command::Completions { .. } | Command::Parsec1(_) => {}
    }
    Ok(())
}

/// Upstream's RSA policies: PKCS#1 v1.5 signing (`-s`, first), PSS signing (`-r`), or
/// encryption with PKCS#1 v1.5 or OAEP (`-o`), each with SHA-256.
fn rsa_policy(for_signing: bool, for_signing_pss: bool, oaep: bool) -> Policy {
    let signing = UsageFlags {
        sign_hash: true,
        verify_hash: true,
        sign_message: true,
        verify_message: true,
        ..UsageFlags::default()
    };
    let sha256 = SignHash::Specific(Hash::Sha256);
    if for_signing {
        Policy {
            usage_flags: signing,
            permitted_algorithms: AsymmetricSignature::RsaPkcs1v15Sign { hash_alg: sha256 }.into(),
        }
    } else if for_signing_pss {
        Policy {
            usage_flags: signing,
            permitted_algorithms: AsymmetricSignature::RsaPss { hash_alg: sha256 }.into(),
        }
    } else {
        Policy {
            usage_flags: UsageFlags {
                encrypt: true,
                decrypt: true,
                ..UsageFlags::default()
            },
            permitted_algorithms: if oaep {
                AsymmetricEncryption::RsaOaep {
                    hash_alg: Hash::Sha256,
                }
                .into()
            } else {
                AsymmetricEncryption::RsaPkcs1v15Crypt.into()
            },
        }
    }
}

/// Signs a message as upstream does: hashed by the key's policy (SHA-256 where it allows
/// any), ECDSA signatures in DER.
pub fn sign(client: &Client, name: &str, message: &[u8], log: &Log) -> Result<Vec<u8>, Error> {
    let (alg, hash) = client.signature_alg(name, Hash::Sha256)?;
    log.info(&format!("Hashing data with {hash:?}..."));
    let digest = parsec_rs_client::easy::digest_of(hash, message)?;
    log.info(&format!("Signing data with {alg:?}..."));
    let signature = client.psa_sign_hash(name, &digest, alg)?;
    Ok(if alg.is_ecc() {
        der::ecdsa_signature(&signature)
    } else {
        signature
    })
}

fn permitted(client: &Client, name: &str) -> Result<Algorithm, Error> {
    Ok(client
        .key_info(name)?
        .attributes
        .policy
        .permitted_algorithms)
}

fn wrong_algorithm(name: &str, alg: Algorithm, what: &str) -> Error {
    Error::UnsuitableKey {
        key: name.to_string(),
        why: format!("its algorithm is {alg:?}, which cannot be used for {what}"),
    }
}

/// Largest key file read (a 16384-bit RSA private key in PEM is under 13 KiB).
const MAX_KEY_FILE: u64 = 1 << 20;

/// A key file's bytes (wiped after use), at most [`MAX_KEY_FILE`].
fn read_key_file(path: &std::path::Path) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    use std::io::Read;
    let cannot =
        |e: std::io::Error| Error::InvalidInput(format!("cannot read {}: {e}", path.display()));
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(Error::InvalidInput(format!(
            "{} is larger than any key file ({MAX_KEY_FILE} bytes)",
            path.display()
        )));
    }
    Ok(bytes)
}

fn base64(text: &str) -> Result<Vec<u8>, Error> {
    BASE64
        .decode(text.trim())
        .map_err(|e| Error::InvalidInput(format!("not Base64: {e}")))
}
