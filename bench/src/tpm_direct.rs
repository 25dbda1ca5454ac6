//! Direct use of a TPM in process, for the hardware bench: one loaded ECDSA P-256 key, signed
//! with in a loop (the best case: no load and flush per signature). The ESAPI context is not
//! thread-safe, so one thread owns it and client threads queue on it.

use std::str::FromStr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Digest, EccPoint, EccScheme, HashScheme, HashcheckTicket, PublicBuilder,
    PublicEccParametersBuilder, SignatureScheme, SymmetricDefinitionObject,
};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;
use tss_esapi::{Context, TctiNameConf};

use super::Signer;

type Reply = mpsc::Sender<Result<()>>;

pub fn signer(tcti: &str, _clients: usize) -> Result<Signer> {
    let (jobs, queue) = mpsc::channel::<Reply>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
    let tcti = TctiNameConf::from_str(tcti)?;
    std::thread::spawn(move || {
        let run = || -> Result<()> {
            let mut ctx = Context::new(tcti)?;
            ctx.set_sessions((Some(AuthSession::Password), None, None));
            let storage = PublicBuilder::new()
                .with_public_algorithm(PublicAlgorithm::Ecc)
                .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
                .with_object_attributes(
                    ObjectAttributesBuilder::new()
                        .with_fixed_tpm(true)
                        .with_fixed_parent(true)
                        .with_sensitive_data_origin(true)
                        .with_user_with_auth(true)
                        .with_decrypt(true)
                        .with_restricted(true)
                        .build()?,
                )
                .with_ecc_parameters(
                    PublicEccParametersBuilder::new_restricted_decryption_key(
                        SymmetricDefinitionObject::AES_128_CFB,
                        EccCurve::NistP256,
                    )
                    .build()?,
                )
                .with_ecc_unique_identifier(EccPoint::default())
                .build()?;
            let primary = ctx
                .create_primary(Hierarchy::Owner, storage, None, None, None, None)?
                .key_handle;
            let scheme = EccScheme::EcDsa(HashScheme::new(HashingAlgorithm::Sha256));
            let template = PublicBuilder::new()
                .with_public_algorithm(PublicAlgorithm::Ecc)
                .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
                .with_object_attributes(
                    ObjectAttributesBuilder::new()
                        .with_fixed_tpm(true)
                        .with_fixed_parent(true)
                        .with_sensitive_data_origin(true)
                        .with_user_with_auth(true)
                        .with_sign_encrypt(true)
                        .build()?,
                )
                .with_ecc_parameters(
                    PublicEccParametersBuilder::new_unrestricted_signing_key(
                        scheme,
                        EccCurve::NistP256,
                    )
                    .build()?,
                )
                .with_ecc_unique_identifier(EccPoint::default())
                .build()?;
            let key = ctx.create(primary, template, None, None, None, None)?;
            let handle = ctx.load(primary, key.out_private, key.out_public)?;
            let _ = ready_tx.send(Ok(()));
            for reply in queue {
                let signed = (|| -> Result<()> {
                    let ticket = HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
                        tag: TPM2_ST_HASHCHECK,
                        hierarchy: TPM2_RH_NULL,
                        digest: Default::default(),
                    })?;
                    ctx.sign(
                        handle,
                        Digest::try_from(vec![7u8; 32])?,
                        SignatureScheme::EcDsa {
                            hash_scheme: HashScheme::new(HashingAlgorithm::Sha256),
                        },
                        ticket,
                    )?;
                    Ok(())
                })();
                let _ = reply.send(signed);
            }
            Ok(())
        };
        if let Err(e) = run() {
            let _ = ready_tx.send(Err(e));
        }
    });
    ready_rx.recv().context("the TPM thread ended")??;
    let jobs = Arc::new(Mutex::new(jobs));
    Ok(Arc::new(move |_| {
        let (tx, rx) = mpsc::channel();
        jobs.lock().unwrap().send(tx)?;
        rx.recv()?
    }))
}
