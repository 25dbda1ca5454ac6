use super::*;

/// The Ping request of the spec (§3.3), byte for byte.
const PING_REQUEST: &str =
    "10a7c05e 1e00 01 00 0000 00 0000000000000000 00 00 00 00000000 0000 01000000 0000 0000";
/// Upstream's answer: body `08 01` (wire_protocol_version_maj = 1).
const PING_RESPONSE: &str =
    "10a7c05e 1e00 01 00 0000 00 0000000000000000 00 00 00 02000000 0000 01000000 0000 0000 0801";

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ping_header() -> RequestHeader {
    RequestHeader {
        provider: ProviderId::Core,
        session: 0,
        auth_type: AuthType::NoAuth,
        opcode: Opcode::Ping,
    }
}

#[test]
fn ping_request_vector() {
    let bytes = hex(PING_REQUEST);
    assert_eq!(bytes.len(), HEADER_LEN);
    let request = Request::decode(&bytes, DEFAULT_BODY_LEN_LIMIT).unwrap();
    assert_eq!(request.header, ping_header());
    assert!(request.body.is_empty() && request.auth.is_empty());
    assert_eq!(request.encode().unwrap(), bytes);
}

#[test]
fn ping_response_vector() {
    let response = Response {
        header: ResponseHeader::echo(&ping_header(), Status::Success),
        body: vec![0x08, 0x01],
    };
    let bytes = response.encode().unwrap();
    assert_eq!(bytes, hex(PING_RESPONSE));
    assert_eq!(Response::decode(&bytes, 16).unwrap(), response);
    assert_eq!(
        Response::decode(&bytes, 1),
        Err(ResponseError::BodyTooLarge(2))
    );
}

/// Sets one header byte range of the ping request to `value` (little-endian).
fn patched(offset: usize, value: &[u8]) -> Vec<u8> {
    let mut bytes = hex(PING_REQUEST);
    bytes[offset..offset + value.len()].copy_from_slice(value);
    bytes
}

#[test]
fn each_malformed_field_gets_upstreams_status() {
    let cases: &[(&str, Vec<u8>, Status)] = &[
        ("magic", patched(0, &[0, 0, 0, 0]), Status::InvalidHeader),
        ("header size", patched(4, &[29, 0]), Status::InvalidHeader),
        (
            "major 2",
            patched(6, &[2]),
            Status::WireProtocolVersionNotSupported,
        ),
        (
            "minor 1",
            patched(7, &[1]),
            Status::WireProtocolVersionNotSupported,
        ),
        ("reserved1", patched(34, &[1]), Status::InvalidHeader),
        ("reserved2", patched(35, &[1]), Status::InvalidHeader),
        (
            "body len",
            patched(22, &[1, 0, 0x10, 0]),
            Status::BodySizeExceedsLimit,
        ),
        (
            "body short",
            patched(22, &[4, 0, 0, 0]),
            Status::ConnectionError,
        ),
        ("auth short", patched(26, &[4, 0]), Status::ConnectionError),
        (
            "content",
            patched(19, &[1]),
            Status::ContentTypeNotSupported,
        ),
        ("accept", patched(20, &[1]), Status::AcceptTypeNotSupported),
        (
            "auth type",
            patched(21, &[5]),
            Status::AuthenticatorDoesNotExist,
        ),
        (
            "opcode 0",
            patched(28, &[0, 0, 0, 0]),
            Status::OpcodeDoesNotExist,
        ),
        (
            "opcode 0x1d",
            patched(28, &[0x1d, 0, 0, 0]),
            Status::OpcodeDoesNotExist,
        ),
        (
            "provider 6",
            patched(10, &[6]),
            Status::ProviderDoesNotExist,
        ),
    ];
    for (name, bytes, status) in cases {
        let err = Request::decode(bytes, DEFAULT_BODY_LEN_LIMIT).unwrap_err();
        assert_eq!(err.status(), *status, "{name}: {err}");
    }
}

#[test]
fn checks_run_in_upstreams_order() {
    // Bad version and bad reserved byte: the version is checked first.
    let mut bytes = patched(6, &[2]);
    bytes[34] = 1;
    assert_eq!(
        Request::decode(&bytes, DEFAULT_BODY_LEN_LIMIT)
            .unwrap_err()
            .status(),
        Status::WireProtocolVersionNotSupported
    );
    // Unknown content type and unknown opcode: content type first.
    let mut bytes = patched(19, &[7]);
    bytes[28] = 0;
    assert_eq!(
        Request::decode(&bytes, DEFAULT_BODY_LEN_LIMIT)
            .unwrap_err()
            .status(),
        Status::ContentTypeNotSupported
    );
    // Unknown opcode and unknown provider: opcode first.
    let mut bytes = patched(28, &[0x1d]);
    bytes[10] = 9;
    assert_eq!(
        Request::decode(&bytes, DEFAULT_BODY_LEN_LIMIT)
            .unwrap_err()
            .status(),
        Status::OpcodeDoesNotExist
    );
}

#[test]
fn flags_and_status_are_ignored() {
    let mut bytes = patched(8, &[0xff, 0xff]);
    bytes[32] = 0x22;
    bytes[33] = 0x11;
    assert_eq!(
        Request::decode(&bytes, DEFAULT_BODY_LEN_LIMIT)
            .unwrap()
            .header,
        ping_header()
    );
}

#[test]
fn body_and_auth_are_framed_and_trailing_bytes_refused() {
    let request = Request {
        header: RequestHeader {
            provider: ProviderId::MbedCrypto,
            session: 0x0102_0304_0506_0708,
            auth_type: AuthType::Direct,
            opcode: Opcode::PsaSignHash,
        },
        body: vec![1, 2, 3],
        auth: b"app".to_vec(),
    };
    let mut bytes = request.encode().unwrap();
    assert_eq!(Request::decode(&bytes, 3).unwrap(), request);
    assert_eq!(
        Request::decode(&bytes, 2).unwrap_err(),
        HeaderError::BodyTooLarge { len: 3, limit: 2 }
    );
    bytes.push(0);
    assert_eq!(
        Request::decode(&bytes, 3).unwrap_err(),
        HeaderError::TrailingBytes
    );
    let (decoded, used) = Request::decode_prefix(&bytes, 3).unwrap();
    assert_eq!((decoded, used), (request, bytes.len() - 1));
}

#[test]
fn every_prefix_of_a_request_is_truncated_not_a_panic() {
    let request = Request {
        header: ping_header(),
        body: vec![9; 5],
        auth: vec![7; 3],
    };
    let bytes = request.encode().unwrap();
    for len in 0..bytes.len() {
        assert_eq!(
            Request::decode(&bytes[..len], 1024).unwrap_err(),
            HeaderError::Truncated,
            "prefix {len}"
        );
    }
}

#[test]
fn default_error_header() {
    let bytes = Response::header_error(HeaderError::BadMagic(0))
        .encode()
        .unwrap();
    let response = Response::decode(&bytes, 0).unwrap();
    assert_eq!(response.header.opcode, 1);
    assert_eq!(response.header.provider, 0);
    assert_eq!(response.header.status, Status::InvalidHeader);
    // The response header carries status 17 at offset 32.
    assert_eq!(&bytes[32..34], &[17, 0]);
}

#[test]
fn responses_with_unknown_status_or_auth_part_are_refused() {
    let mut bytes = Response::header_error(HeaderError::Truncated)
        .encode()
        .unwrap();
    bytes[32] = 23;
    assert_eq!(
        Response::decode(&bytes, 0),
        Err(ResponseError::UnknownStatus(23))
    );
    bytes[32] = 0;
    bytes[26] = 1;
    assert_eq!(Response::decode(&bytes, 0), Err(ResponseError::AuthPart));
}
