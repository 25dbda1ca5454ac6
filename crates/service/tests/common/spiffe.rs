//! A stand-in for a SPIFFE agent (SPIRE is not packaged for Debian): the SPIFFE Workload API
//! over gRPC (HTTP/2, `application/grpc` framing, the `workload.proto` messages) on a Unix
//! socket. It serves `FetchJWTBundles` (a stream that stays open: each [`Agent::set_bundles`]
//! sends the new set to every client following it, as a rotation does) and `FetchJWTSVID`
//! (a JWT-SVID for the one workload it knows, minted for the audience asked). Like a real agent,
//! it refuses a call without the `workload.spiffe.io: true` metadata.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response};
use tokio::sync::watch;

use super::tokens::{claims, TestKey};

/// A running stand-in agent.
pub struct Agent {
    pub socket: PathBuf,
    bundles: watch::Sender<BTreeMap<String, String>>,
    /// The key and SPIFFE ID FetchJWTSVID mints for.
    svid: Arc<Mutex<Option<(TestKey, String)>>>,
    /// How many FetchJWTBundles streams were opened.
    pub streams: Arc<Mutex<usize>>,
    /// How many JWT-SVIDs FetchJWTSVID gave.
    pub svids_issued: Arc<Mutex<usize>>,
    _runtime: tokio::runtime::Runtime,
}

impl Agent {
    /// Starts serving at `socket`, with `bundles` (trust domain → JWK set).
    pub fn start(socket: &Path, bundles: BTreeMap<String, String>) -> Agent {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = watch::channel(bundles);
        let svid = Arc::new(Mutex::new(None));
        let streams = Arc::new(Mutex::new(0));
        let issued = Arc::new(Mutex::new(0));
        let listener = {
            let _guard = runtime.enter();
            tokio::net::UnixListener::bind(socket).unwrap()
        };
        let (svid2, streams2, issued2) = (svid.clone(), streams.clone(), issued.clone());
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (rx, svid, streams) = (rx.clone(), svid2.clone(), streams2.clone());
                let issued = issued2.clone();
                tokio::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(stream).await else {
                        return;
                    };
                    while let Some(Ok((request, respond))) = conn.accept().await {
                        let (rx, svid) = (rx.clone(), svid.clone());
                        let counts = (streams.clone(), issued.clone());
                        tokio::spawn(serve(request, respond, rx, svid, counts));
                    }
                });
            }
        });
        Agent {
            socket: socket.to_path_buf(),
            bundles: tx,
            svid,
            streams,
            svids_issued: issued,
            _runtime: runtime,
        }
    }

    /// Replaces the bundles and sends them to every open stream.
    pub fn set_bundles(&self, bundles: BTreeMap<String, String>) {
        self.bundles.send_replace(bundles);
    }

    /// FetchJWTSVID will answer with tokens for `spiffe_id` signed by `key`.
    pub fn issue_svids(&self, key: TestKey, spiffe_id: &str) {
        *self.svid.lock().unwrap() = Some((key, spiffe_id.to_string()));
    }

    /// The `unix://` address clients are given.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

async fn serve(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    mut bundles: watch::Receiver<BTreeMap<String, String>>,
    svid: Arc<Mutex<Option<(TestKey, String)>>>,
    (streams, issued): (Arc<Mutex<usize>>, Arc<Mutex<usize>>),
) {
    let path = request.uri().path().to_string();
    let has_metadata =
        request.headers().get("workload.spiffe.io") == Some(&HeaderValue::from_static("true"));
    let body = read_body(request.into_body()).await;
    let headers = Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let Ok(mut send) = respond.send_response(headers, false) else {
        return;
    };
    if !has_metadata {
        // INVALID_ARGUMENT, as SPIRE answers a call without the security header.
        let _ = send.send_trailers(status(3, "security header missing from request"));
        return;
    }
    match path.as_str() {
        "/SpiffeWorkloadAPI/FetchJWTBundles" => {
            *streams.lock().unwrap() += 1;
            loop {
                let message = bundles_response(&bundles.borrow_and_update());
                if send.send_data(frame(&message), false).is_err() {
                    return;
                }
                if bundles.changed().await.is_err() {
                    return;
                }
            }
        }
        "/SpiffeWorkloadAPI/FetchJWTSVID" => {
            let audience = strings_of_field(&body, 1);
            let minted = svid.lock().unwrap().as_ref().map(|(key, id)| {
                let aud = audience.first().cloned().unwrap_or_default();
                (id.clone(), key.token(&claims(id, None, &aud)))
            });
            match minted {
                Some((id, token)) => {
                    *issued.lock().unwrap() += 1;
                    let mut svid = Vec::new();
                    field(&mut svid, 1, id.as_bytes());
                    field(&mut svid, 2, token.as_bytes());
                    let mut message = Vec::new();
                    field(&mut message, 1, &svid);
                    let _ = send.send_data(frame(&message), false);
                    let _ = send.send_trailers(status(0, ""));
                }
                // PERMISSION_DENIED, as SPIRE answers a workload it has no entry for.
                None => {
                    let _ = send.send_trailers(status(7, "no identity issued"));
                }
            }
        }
        // UNIMPLEMENTED
        _ => {
            let _ = send.send_trailers(status(12, "not served by this stand-in"));
        }
    }
}

async fn read_body(mut body: h2::RecvStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    // Past the gRPC frame's 5-byte prefix (compression flag, length).
    bytes.get(5..).map(<[u8]>::to_vec).unwrap_or_default()
}

fn status(code: u32, message: &str) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", code.to_string().parse().unwrap());
    if !message.is_empty() {
        trailers.insert("grpc-message", message.parse().unwrap());
    }
    trailers
}

/// One gRPC message: uncompressed, its length big-endian, the protobuf bytes.
fn frame(message: &[u8]) -> Bytes {
    let mut out = vec![0];
    out.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    out.extend_from_slice(message);
    Bytes::from(out)
}

/// `JWTBundlesResponse { map<string, bytes> bundles = 1; }`
fn bundles_response(bundles: &BTreeMap<String, String>) -> Vec<u8> {
    let mut message = Vec::new();
    for (domain, jwks) in bundles {
        let mut entry = Vec::new();
        field(&mut entry, 1, domain.as_bytes());
        field(&mut entry, 2, jwks.as_bytes());
        field(&mut message, 1, &entry);
    }
    message
}

/// A length-delimited protobuf field.
fn field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    varint(out, u64::from(number << 3 | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The values of the length-delimited field `number` (the audience of a JWTSVIDRequest).
fn strings_of_field(mut message: &[u8], number: u32) -> Vec<String> {
    let mut out = Vec::new();
    let read_varint = |m: &mut &[u8]| -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = m.split_first()?;
            *m = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    };
    while let Some(key) = read_varint(&mut message) {
        if key & 7 != 2 {
            break;
        }
        let Some(len) = read_varint(&mut message) else {
            break;
        };
        let Some((value, rest)) = message.split_at_checked(len as usize) else {
            break;
        };
        message = rest;
        if key >> 3 == u64::from(number) {
            out.push(String::from_utf8_lossy(value).into_owned());
        }
    }
    out
}
