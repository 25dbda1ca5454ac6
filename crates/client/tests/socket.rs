//! The Unix-socket transport against scripted services: one that keeps connections, one that
//! closes after each answer (as upstream does), and hostile ones (stalling, lying, sending
//! garbage or oversized answers). The real daemons are driven in crates/service/tests.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parsec_rs_client::{Auth, Client, Endpoint, Error, ProviderId};
use parsec_wire::{Request, Response, ResponseHeader, Status, DEFAULT_BODY_LEN_LIMIT};

/// How the scripted service answers.
#[derive(Clone, Copy)]
enum Script {
    /// Answers every request on a connection.
    Keep,
    /// Answers one request, then closes (upstream parsec-service).
    CloseAfterAnswer,
    /// Reads the request and never answers.
    Stall,
    /// Answers with another opcode than asked.
    WrongOpcode,
    /// Answers bytes that are no response header.
    Garbage,
    /// Announces a body far larger than any answer may be.
    HugeBody,
    /// Closes halfway through the answer.
    HalfAnswer,
    /// Answers the first request of a connection; reads the second and closes unanswered (a
    /// service that crashed while running it).
    ReadSecondThenClose,
    /// Sends its answer one byte every 50 ms.
    Trickle,
    /// Answers the first request of a connection; closes as soon as the second arrives,
    /// without reading it (as upstream's service closes after each answer, a little late).
    CloseUnreadOnSecond,
}

struct Service {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

fn read_request(stream: &mut UnixStream) -> Option<Request> {
    let mut head = [0u8; 36];
    stream.read_exact(&mut head).ok()?;
    let body_len = u32::from_le_bytes(head[22..26].try_into().unwrap()) as usize;
    let auth_len = u16::from_le_bytes(head[26..28].try_into().unwrap()) as usize;
    let mut rest = vec![0u8; body_len + auth_len];
    stream.read_exact(&mut rest).ok()?;
    let mut all = head.to_vec();
    all.extend(rest);
    Request::decode(&all, DEFAULT_BODY_LEN_LIMIT).ok()
}

fn ping_answer(request: &Request, opcode: u32) -> Vec<u8> {
    let mut header = ResponseHeader::echo(&request.header, Status::Success);
    header.opcode = opcode;
    // A PingResult: wire protocol 1.0 (fields 1 and 2, varints).
    Response {
        header,
        body: vec![0x08, 1, 0x10, 0],
    }
    .encode()
    .unwrap()
}

fn serve(script: Script) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (count, seen) = (accepted.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut on_this = 0;
                while let Some(request) = read_request(&mut stream) {
                    seen.fetch_add(1, Ordering::SeqCst);
                    on_this += 1;
                    let op = request.header.opcode.to_u32();
                    let answer = match script {
                        Script::Keep | Script::CloseAfterAnswer | Script::CloseUnreadOnSecond => {
                            ping_answer(&request, op)
                        }
                        Script::Stall => {
                            std::thread::sleep(Duration::from_secs(30));
                            return;
                        }
                        Script::WrongOpcode => ping_answer(&request, op + 1),
                        Script::Garbage => vec![0xAB; 64],
                        Script::HugeBody => {
                            let mut a = ping_answer(&request, op);
                            a[22..26].copy_from_slice(&u32::MAX.to_le_bytes());
                            a
                        }
                        Script::HalfAnswer => {
                            let a = ping_answer(&request, op);
                            let _ = stream.write_all(&a[..20]);
                            return;
                        }
                        Script::ReadSecondThenClose if on_this == 2 => return,
                        Script::ReadSecondThenClose => ping_answer(&request, op),
                        Script::Trickle => {
                            for b in ping_answer(&request, op) {
                                std::thread::sleep(Duration::from_millis(50));
                                if stream.write_all(&[b]).is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                    };
                    if stream.write_all(&answer).is_err() {
                        return;
                    }
                    if matches!(script, Script::CloseAfterAnswer) {
                        return;
                    }
                    if matches!(script, Script::CloseUnreadOnSecond) {
                        // Wait until the next request is there, then close with it unread.
                        let mut byte = [0u8; 1];
                        let _ = rustix::net::recv(&stream, &mut byte, rustix::net::RecvFlags::PEEK);
                        return;
                    }
                }
            });
        }
    });
    Service {
        _dir: dir,
        path,
        accepted,
        requests,
    }
}

fn client(service: &Service) -> Client {
    Client::builder()
        .endpoint(Endpoint::Unix(service.path.clone()))
        .auth(Auth::None)
        .provider(ProviderId::MbedCrypto)
        .timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap()
}

#[test]
fn a_kept_connection_serves_every_call() {
    let service = serve(Script::Keep);
    let c = client(&service);
    for _ in 0..50 {
        assert_eq!(c.ping().unwrap(), (1, 0));
    }
    assert_eq!(service.accepted.load(Ordering::SeqCst), 1);
    assert!(c.keeps_connections());
}

#[test]
fn a_service_that_closes_after_each_answer_gets_one_connection_per_call() {
    let service = serve(Script::CloseAfterAnswer);
    let c = client(&service);
    for _ in 0..50 {
        assert_eq!(c.ping().unwrap(), (1, 0));
    }
    // Every call was answered, each on its own connection, and the client stopped keeping
    // them.
    assert_eq!(service.accepted.load(Ordering::SeqCst), 50);
    assert!(!c.keeps_connections());
}

#[test]
fn concurrent_callers_take_a_connection_each_and_the_pool_stays_bounded() {
    let service = serve(Script::Keep);
    let c = Arc::new(client(&service));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    assert_eq!(c.ping().unwrap(), (1, 0));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let opened = service.accepted.load(Ordering::SeqCst);
    assert!((1..=16).contains(&opened), "{opened} connections");
    // After the burst, at most MAX_IDLE are kept: sequential calls open nothing new.
    let before = service.accepted.load(Ordering::SeqCst);
    for _ in 0..20 {
        c.ping().unwrap();
    }
    assert_eq!(service.accepted.load(Ordering::SeqCst), before);
}

#[test]
fn a_stalled_service_times_out() {
    let service = serve(Script::Stall);
    let e = client(&service).ping().unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
}

#[test]
fn lying_or_broken_answers_are_protocol_errors() {
    for script in [Script::WrongOpcode, Script::Garbage, Script::HugeBody] {
        let service = serve(script);
        let e = client(&service).ping().unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    }
    let service = serve(Script::HalfAnswer);
    let e = client(&service).ping().unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[test]
fn nothing_listening_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.sock");
    let c = Client::builder()
        .endpoint(Endpoint::Unix(path.clone()))
        .build()
        .unwrap();
    let e = c.ping().unwrap_err();
    assert!(matches!(e, Error::NotRunning { .. }), "{e:?}");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert!(e.hint().unwrap().contains("PARSEC_SERVICE_ENDPOINT"));
}

#[test]
fn a_request_the_service_read_is_never_sent_again() {
    let service = serve(Script::ReadSecondThenClose);
    let c = client(&service);
    c.ping().unwrap();
    // The service read the second request and closed without answering: it may have run it,
    // so the client reports the failure instead of sending it again.
    let e = c.ping().unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert_eq!(service.requests.load(Ordering::SeqCst), 2);
}

#[test]
fn a_trickled_answer_is_bounded_by_one_deadline_per_call() {
    let service = serve(Script::Trickle);
    let c = client(&service);
    let start = std::time::Instant::now();
    // 40 bytes at 50 ms each would take 2 s; every single read is within 500 ms.
    let e = c.ping().unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_full_listen_backlog_times_out_instead_of_blocking() {
    use rustix::net::{bind, listen, socket, AddressFamily, SocketAddrUnix, SocketType};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("never-accepts.sock");
    let listener = socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
    bind(&listener, &SocketAddrUnix::new(&path).unwrap()).unwrap();
    listen(&listener, 0).unwrap();
    let c = Client::builder()
        .endpoint(Endpoint::Unix(path))
        .auth(Auth::None)
        .timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    // The first calls fill the backlog (connected, never answered); the later ones cannot
    // even connect. Every one ends by its deadline.
    for _ in 0..4 {
        let start = std::time::Instant::now();
        let e = c.ping().unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
}

#[test]
fn a_request_closed_unread_is_sent_again_even_while_polling() {
    // The service closes with the request unread while the client polls for the answer: the
    // poll sees the connection reset, and must report it rather than clear it (a later read
    // would see only the end of the stream and take the request for one the service read).
    let service = serve(Script::CloseUnreadOnSecond);
    let c = Client::builder()
        .endpoint(Endpoint::Unix(service.path.clone()))
        .auth(Auth::None)
        .provider(ProviderId::MbedCrypto)
        .spin(Duration::from_millis(200))
        .build()
        .unwrap();
    for _ in 0..20 {
        assert_eq!(c.ping().unwrap(), (1, 0));
    }
}
