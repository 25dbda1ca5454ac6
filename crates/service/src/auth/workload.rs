//! The SPIFFE Workload API, followed for JWT bundles: the `spiffe` crate's `JwtSource` keeps a
//! stream of `FetchJWTBundles` open (reconnecting with backoff when the agent goes away), and
//! each bundle set it receives replaces the keys the JwtSvid authenticator holds.

use std::time::Duration;

use spiffe::JwtSource;

use super::keys::{bundle_set, BundleSink};
use super::token::KeySets;

/// Backoff between reconnections to the agent.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(10));

/// Follows the bundles of the Workload API at `endpoint` into `sink`, until the authenticator
/// is gone.
pub async fn follow_bundles(endpoint: String, sink: BundleSink) {
    loop {
        let built = JwtSource::builder()
            .endpoint(&endpoint)
            .reconnect_backoff(BACKOFF.0, BACKOFF.1)
            .build()
            .await;
        let source = match built {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("the SPIFFE Workload API at {endpoint}: {e}");
                tokio::time::sleep(BACKOFF.1).await;
                continue;
            }
        };
        tracing::info!("following the JWT bundles of the SPIFFE Workload API at {endpoint}");
        let mut updates = source.updated();
        loop {
            match source.bundle_set() {
                Ok(set) => {
                    let mut sets = KeySets::new();
                    for (td, bundle) in set.iter() {
                        let keys: Vec<serde_json::Value> = bundle
                            .jwt_authorities()
                            .filter_map(|a| serde_json::from_slice(a.jwk_json()).ok())
                            .collect();
                        let jwks = serde_json::json!({ "keys": keys }).to_string();
                        match bundle_set(td.as_str(), jwks.as_bytes()) {
                            Ok(keys) => {
                                sets.insert(td.as_str().to_string(), keys);
                            }
                            Err(e) => tracing::warn!("the Workload API's bundle: {e}"),
                        }
                    }
                    tracing::debug!("JWT bundles of {} trust domains received", sets.len());
                    if !sink.put(sets) {
                        return;
                    }
                }
                Err(e) => {
                    // Withdrawn (or closed): no bundle is trusted until the agent sends one.
                    tracing::warn!("the SPIFFE Workload API at {endpoint}: {e}");
                    if !sink.put(KeySets::new()) {
                        return;
                    }
                }
            }
            if updates.changed().await.is_err() {
                break;
            }
        }
        tokio::time::sleep(BACKOFF.0).await;
    }
}
