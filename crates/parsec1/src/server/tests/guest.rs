//! The guest commands: registration, proof of work, limits, service contracts, time.

use super::*;

#[test]
fn wrong_service_key_is_refused_by_the_server_and_an_impostor_by_the_client() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let other = key(3).public_key().long_address().unwrap();
    let (state, call) =
        client::create_tsk(&r.sck, &r.session_id, std::slice::from_ref(&other)).unwrap();
    let e = state.receive(&server.handle(&call, at(T0))).unwrap_err();
    assert!(e.is_unknown_service_key(), "{e:?}");
    // An impostor with another key: the client checks who signed the answer.
    let impostor = Server::new(settings(), key(3), MemorySessions::new(), Commands::new()).unwrap();
    let r = register(&impostor, key(1), false);
    let ours = [server.service_address().clone()];
    let (state, _) = client::create_tsk(&r.sck, &r.session_id, &ours).unwrap();
    let (_, to_impostor) =
        client::create_tsk(&r.sck, &r.session_id, std::slice::from_ref(&other)).unwrap();
    let answer = impostor.handle(&to_impostor, at(T0));
    match state.receive(&answer) {
        Err(ClientError::UntrustedServiceKey(a)) => assert_eq!(a, other),
        other => panic!("impostor accepted: {:?}", other.map(|t| t.service_address)),
    }
}

#[test]
fn registration_checks_context_signature_and_pow() {
    let server = server_with(settings());
    // A context is single use.
    let (state, call) = client::register(key(1), false).unwrap();
    let (_, register_call) = state.receive(&server.handle(&call, at(T0))).unwrap();
    let first = message::decode_answer(&server.handle(&register_call, at(T0))).unwrap();
    assert!(first.is_ok());
    let again = message::decode_answer(&server.handle(&register_call, at(T0))).unwrap();
    assert_eq!(again.unwrap_err().code, codes::UNKNOWN_CONTEXT);

    // Signed by a key other than the one requested.
    let (_, call) = client::register(key(1), false).unwrap();
    let answer = server.handle(&call, at(T0));
    let (state, _) = client::register(key(2), false).unwrap();
    let (_, register_call) = AwaitingPowTaskExt::receive_as(state, &answer);
    let e = message::decode_answer(&server.handle(&register_call, at(T0)))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::BAD_SIGNATURE);

    // Expired context.
    let (state, call) = client::register(key(1), false).unwrap();
    let (_, register_call) = state.receive(&server.handle(&call, at(T0))).unwrap();
    let e = message::decode_answer(&server.handle(&register_call, at(T0 + 301)))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::UNKNOWN_CONTEXT);
}

/// Solves the task of one answer but signs with the state's own key.
struct AwaitingPowTaskExt;
impl AwaitingPowTaskExt {
    fn receive_as(
        state: client::AwaitingPowTask,
        answer: &[u8],
    ) -> (client::AwaitingSessionId, Vec<u8>) {
        state.receive(answer).unwrap()
    }
}

#[test]
fn a_wrong_pow_is_refused() {
    let server = server_with(Settings {
        pow_length: 20,
        ..settings()
    });
    let (_, call) = client::register(key(1), false).unwrap();
    let answer = message::decode_answer(&server.handle(&call, at(T0)))
        .unwrap()
        .unwrap();
    let source = answer
        .get("POWTask")
        .unwrap()
        .get("source")
        .unwrap()
        .as_bytes()
        .unwrap()
        .to_vec();
    // Find an 8-byte value that does not solve it.
    let wrong = (0u64..)
        .map(u64::to_be_bytes)
        .find(|s| !pow::check(s, &source, 20))
        .unwrap();
    let record = SignedRecord::pack(
        &key(1),
        None,
        &Value::dict([("POWResult", Value::Bin(wrong.to_vec()))]),
    )
    .unwrap();
    let call = message::encode_call(
        "registerSCK",
        Value::dict([
            ("context", answer.get("context").unwrap().clone()),
            ("signedRecord", Value::Bin(record)),
        ]),
    );
    let e = message::decode_answer(&server.handle(&call, at(T0)))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::BAD_POW);
}

#[test]
fn sessions_per_key_are_limited() {
    let server = server_with(settings());
    register(&server, key(2), false);
    register(&server, key(2), false);
    let (state, call) = client::register(key(2), false).unwrap();
    let (state, call) = state.receive(&server.handle(&call, at(T0))).unwrap();
    let e = state.receive(&server.handle(&call, at(T0))).unwrap_err();
    assert_eq!(remote(e).code, codes::TOO_MANY_SESSIONS);
}

#[test]
fn guest_requests_are_rate_limited_per_peer_but_tunnel_traffic_is_not() {
    let server = server_with(Settings {
        guest_rate: 1,
        guest_burst: 4,
        ..settings()
    });
    let r = register(&server, key(1), false); // 2 guest requests
    let t = tsk(&server, &r, T0).unwrap(); // 3
    let info = message::encode_call("info", empty());
    assert!(message::decode_answer(&server.handle(&info, at(T0)))
        .unwrap()
        .is_ok()); // 4
    let e = message::decode_answer(&server.handle(&info, at(T0)))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::TOO_MANY_REQUESTS);
    let other = RequestInfo {
        peer: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8)),
        ..at(T0)
    };
    assert!(message::decode_answer(&server.handle(&info, other))
        .unwrap()
        .is_ok());
    // Tunnel requests for unknown sessions read the store: they count as guest requests.
    let ghost = Registered {
        sck: key(1),
        session_id: "no-such-session".into(),
    };
    let e = call(&server, &ghost, &t, "whoami", empty(), T0).unwrap_err();
    assert_eq!(remote(e).code, codes::TOO_MANY_REQUESTS);
    for _ in 0..10 {
        call(&server, &r, &t, "whoami", empty(), T0)
            .unwrap()
            .unwrap();
    }
}

#[test]
fn oversized_and_malformed_requests_get_boss_errors() {
    let server = server_with(Settings {
        max_message_size: 1024,
        ..settings()
    });
    let big = message::encode_call("info", Value::dict([("pad", Value::Bin(vec![0; 2000]))]));
    let e = message::decode_answer(&server.handle(&big, at(T0)))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::MESSAGE_TOO_LARGE);
    for junk in [
        &b""[..],
        b"\xff\xff",
        b"\x1b",
        &message::encode_call("info", Value::Null)[..3],
    ] {
        let e = message::decode_answer(&server.handle(junk, at(T0)))
            .unwrap()
            .unwrap_err();
        assert_eq!(e.code, codes::BAD_REQUEST, "{junk:?}");
        assert!(!e.text.is_empty());
    }
    // A large answer inside the tunnel becomes an error, still encrypted.
    let mut commands = Commands::new();
    commands.register("big", |_c, _: Value| Ok(parsec_boss::Bytes(vec![7; 4000])));
    let server = Server::new(
        Settings {
            max_message_size: 2048,
            ..settings()
        },
        key(0),
        MemorySessions::new(),
        commands,
    )
    .unwrap();
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    let e = call(&server, &r, &t, "big", empty(), T0)
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::MESSAGE_TOO_LARGE);
}

/// A sealed contract listing `service` (and, for UNS2, holding `name`).
fn service_contract(service: &KeyAddress, uns2: Option<&str>) -> Vec<u8> {
    let issuer = key(3);
    let now = Time(T0);
    let spec = crate::universa::NewContract {
        parsec: crate::universa::ParsecSection {
            service_name: "test service".into(),
            short_service_name: None,
            service_description: None,
            service_key_addresses: vec![(service.clone(), false)],
            http: vec!["http://127.0.0.1:1/api/p1".into()],
            https: Vec::new(),
        },
        owner: issuer.public_key().long_address().unwrap(),
        uns2_name: uns2.map(|n| (n.to_string(), None)),
        created_at: now,
        expires_at: now.plus_seconds(86400),
    };
    crate::universa::create(&spec, &issuer).unwrap()
}

fn versions(server: &Server<MemorySessions>) -> Vec<Value> {
    let info =
        message::decode_answer(&server.handle(&message::encode_call("info", Value::Null), at(T0)))
            .unwrap()
            .unwrap();
    info.get("parsecVersions")
        .unwrap()
        .as_list()
        .unwrap()
        .to_vec()
}

#[test]
fn info_and_service_contract() {
    let service = key(0).public_key().long_address().unwrap();
    let contract = service_contract(&service, None);
    let server = server_with(Settings {
        service_contract: Some(contract.clone()),
        ..settings()
    });
    let info =
        message::decode_answer(&server.handle(&message::encode_call("info", Value::Null), at(T0)))
            .unwrap()
            .unwrap();
    let text = |v: &[&str]| {
        v.iter()
            .map(|t| Value::Text(t.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&server), text(&["1.1", "1.2"]));
    assert_eq!(
        info.get("localTime").and_then(Value::as_time),
        Some(Time(T0))
    );
    assert_eq!(
        info.get("serviceName").and_then(Value::as_str),
        Some("parsec-rs")
    );

    let get = |server: &Server<MemorySessions>, args: Value| {
        message::decode_answer(
            &server.handle(&message::encode_call("getServiceContract", args), at(T0)),
        )
        .unwrap()
    };
    let full = get(&server, empty()).unwrap();
    assert_eq!(
        full.get("serviceContract").and_then(Value::as_bytes),
        Some(&contract[..])
    );
    let id = crate::hash_id::to_base64(&crate::hash_id::hash_id(&contract));
    let same = get(
        &server,
        Value::dict([("knownHashId", Value::Text(id.clone()))]),
    )
    .unwrap();
    assert_eq!(same, empty());
    let stale = crate::hash_id::to_base64(&crate::hash_id::hash_id(b"older"));
    let newer = get(&server, Value::dict([("knownHashId", Value::Text(stale))])).unwrap();
    assert!(newer.get("serviceContract").is_some());

    // A UNS2 contract set at run time: 1.3 is offered, and the old HashId is stale.
    let uns2 = service_contract(&service, Some("test-service"));
    server.set_service_contract(Some(ServiceContract::read(uns2.clone()).unwrap()));
    assert_eq!(versions(&server), text(&["1.1", "1.2", "1.3"]));
    let newer = get(&server, Value::dict([("knownHashId", Value::Text(id))])).unwrap();
    assert_eq!(
        newer.get("serviceContract").and_then(Value::as_bytes),
        Some(&uns2[..])
    );
    server.set_service_contract(None);
    assert_eq!(versions(&server), text(&["1.1"]));

    let none = server_with(settings());
    assert_eq!(versions(&none), text(&["1.1"]));
    let e = get(&none, Value::Null).unwrap_err();
    assert_eq!(e.code, codes::UNKNOWN_COMMAND);
}

#[test]
fn a_bad_service_contract_is_refused_with_the_reason() {
    let e = ServiceContract::read(b"a sealed contract".to_vec()).unwrap_err();
    assert!(e.to_string().contains("Universa contract"), "{e}");
    let mut contract = service_contract(&key(0).public_key().long_address().unwrap(), None);
    let at = contract.len() - 20;
    contract[at] ^= 1;
    assert!(ServiceContract::read(contract.clone()).is_err());
    let settings = Settings {
        service_contract: Some(contract),
        ..settings()
    };
    assert!(Server::new(settings, key(0), MemorySessions::new(), Commands::new()).is_err());
    // Our own key listed, or not.
    let other = key(1).public_key().long_address().unwrap();
    let c = ServiceContract::read(service_contract(&other, None)).unwrap();
    assert!(c.lists(&other));
    assert!(!c.lists(&key(0).public_key().long_address().unwrap()));
    assert!(c.role_problem.is_none());
}

#[test]
fn heavy_work_goes_through_the_offload_hook() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let mut commands = Commands::new();
    commands.register_raw_with("slow", true, |_c, _| Ok(Value::Int(1)));
    commands.register_raw("fast", |_c, _| Ok(Value::Int(2)));
    let mut server = Server::new(settings(), key(0), MemorySessions::new(), commands).unwrap();
    let offloaded = Arc::new(AtomicUsize::new(0));
    let counter = offloaded.clone();
    server.set_offload(Box::new(move |work| {
        counter.fetch_add(1, Ordering::SeqCst);
        work()
    }));
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    assert_eq!(
        offloaded.load(Ordering::SeqCst),
        1,
        "createTSK signs offloaded"
    );
    assert_eq!(
        call(&server, &r, &t, "fast", empty(), T0).unwrap(),
        Ok(Value::Int(2))
    );
    assert_eq!(offloaded.load(Ordering::SeqCst), 1);
    assert_eq!(
        call(&server, &r, &t, "slow", empty(), T0).unwrap(),
        Ok(Value::Int(1))
    );
    assert_eq!(offloaded.load(Ordering::SeqCst), 2);
}

#[test]
fn time_service_answers_time_only() {
    let call = message::encode_call("time", empty());
    let answer = message::decode_answer(&time_service(&call, T0))
        .unwrap()
        .unwrap();
    assert_eq!(answer.get("time"), Some(&Value::Int(T0.into())));
    let other = message::encode_call("info", empty());
    let e = message::decode_answer(&time_service(&other, T0))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::UNKNOWN_COMMAND);
    let e = message::decode_answer(&time_service(b"\xff", T0))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::BAD_REQUEST);
}

fn request_sck(server: &Server<MemorySessions>, peer: &str) -> Result<Value, RemoteError> {
    let address = key(1).public_key().long_address().unwrap();
    let call = message::encode_call(
        "requestSCK",
        Value::dict([("SCKAddress", Value::Bin(address.as_bytes().to_vec()))]),
    );
    let info = RequestInfo {
        peer: peer.parse().unwrap(),
        ..at(T0)
    };
    message::decode_answer(&server.handle(&call, info)).unwrap()
}

/// One address (or IPv6 /64) filling the pending table used to lock every other client out
/// of registration for the contexts' lifetime.
#[test]
fn pending_registrations_are_bounded_per_address() {
    let server = server_with(Settings {
        max_pending: 8,
        max_pending_per_address: 3,
        ..settings()
    });
    for _ in 0..3 {
        request_sck(&server, "192.0.2.50").unwrap();
    }
    let e = request_sck(&server, "192.0.2.50").unwrap_err();
    assert_eq!(e.code, codes::TOO_MANY_REQUESTS);
    assert!(e.text.contains("from this address"), "{}", e.text);
    for i in 0..3 {
        request_sck(&server, &format!("2001:db8:7::{i}")).unwrap();
    }
    let e = request_sck(&server, "2001:db8:7::ffff").unwrap_err();
    assert_eq!(e.code, codes::TOO_MANY_REQUESTS, "the same /64");
    // Others still register, end to end.
    register(&server, key(2), false);
}

/// A `createTSK` travels in the clear; sent again by whoever saw it, it used to replace the
/// session's live TSK, and the owner's next call failed its HMAC check.
#[test]
fn a_replayed_create_tsk_is_refused_and_the_live_tsk_keeps_working() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let trusted = [server.service_address().clone()];
    let (state, create) = client::create_tsk(&r.sck, &r.session_id, &trusted).unwrap();
    let t = state.receive(&server.handle(&create, at(T0))).unwrap();
    let replay = message::decode_answer(&server.handle(&create, at(T0 + 1))).unwrap();
    assert_eq!(replay.unwrap_err().code, codes::REPLAYED_MESSAGE);
    call(&server, &r, &t, "whoami", empty(), T0 + 2)
        .unwrap()
        .unwrap();
    // The owner still makes new TSKs (fresh nonces) whenever it wants.
    let t2 = tsk(&server, &r, T0 + 3).unwrap();
    call(&server, &r, &t2, "whoami", empty(), T0 + 3)
        .unwrap()
        .unwrap();
}

/// A message of a few bytes whose back-references double at every level (2^n items from 4n
/// bytes) decoded to about a million items before anything checked who sent it.
#[test]
fn nested_references_cannot_expand_a_short_message() {
    fn header(code: u8, v: usize) -> Vec<u8> {
        if v < 23 {
            vec![(v as u8) << 3 | code]
        } else {
            vec![23 << 3 | code, v as u8]
        }
    }
    // {"cmd": "info", "args": {"x": [0, [0, 0], [#8, #8], [#9, #9], ...]}}: 17 doublings,
    // about half a million items from 80 bytes. The
    // cache numbers from 1: the call #1, "cmd" #2, "info" #3, "args" #4, its dict #5, "x" #6,
    // the chain's list #7, its first sublist #8.
    let mut call = vec![0x17]; // a dict of 2
    for text in ["cmd", "info", "args"] {
        call.extend(header(3, text.len()));
        call.extend(text.as_bytes());
    }
    call.push(0x0f); // a dict of 1
    call.extend(header(3, 1));
    call.extend(b"x");
    call.extend(header(6, 18));
    call.push(0x00);
    call.extend_from_slice(&[0x16, 0x00, 0x00]);
    for k in 1..17 {
        call.push(0x16);
        call.extend(header(5, k + 7));
        call.extend(header(5, k + 7));
    }
    assert!(call.len() < 200, "{} bytes", call.len());
    let server = server_with(settings());
    let unlimited = parsec_boss::decode_with(&call, parsec_boss::Limits::default());
    let e = message::decode_answer(&server.handle(&call, at(T0)))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::BAD_REQUEST, "{}", e.text);
    assert!(e.text.contains("limit"), "{}", e.text);
    // The same message decodes under the general limits (so it is the guest budget that
    // refuses it), and a normal info still works.
    assert!(unlimited.is_ok(), "{unlimited:?}");
    let info = message::encode_call("info", empty());
    assert!(message::decode_answer(&server.handle(&info, at(T0)))
        .unwrap()
        .is_ok());
}

/// One address registering sessions as fast as the guest rate allows would fill max_sessions
/// for everyone in hours; it may register `registrations_per_hour` an hour.
#[test]
fn registrations_are_bounded_per_address_and_hour() {
    let server = server_with(Settings {
        registrations_per_hour: 2,
        max_sessions_per_key: 10,
        ..settings()
    });
    let register_from = |peer: &str, now: u64| {
        let info = RequestInfo {
            peer: peer.parse().unwrap(),
            now,
            now_ms: now * 1000,
        };
        let (state, call) = client::register(key(3), true).unwrap();
        let (state, call) = state.receive(&server.handle(&call, info)).unwrap();
        state.receive(&server.handle(&call, info))
    };
    register_from("192.0.2.60", T0).unwrap();
    register_from("192.0.2.60", T0).unwrap();
    let e = remote(register_from("192.0.2.60", T0).unwrap_err());
    assert_eq!(e.code, codes::TOO_MANY_REQUESTS);
    assert!(e.text.contains("in the last hour"), "{}", e.text);
    register_from("192.0.2.61", T0).unwrap();
    // Half an hour gives back one registration.
    register_from("192.0.2.60", T0 + 1800).unwrap();
    assert!(register_from("192.0.2.60", T0 + 1800).is_err());
}
