//! The 36-byte header and the request/response framing.
//!
//! A request is read in the stages upstream uses, and each stage has its own check so that a
//! front end can answer with exactly upstream's status at the point upstream would:
//!
//! 1. the 4-byte magic ([`check_magic`]),
//! 2. the 2-byte header size ([`check_header_size`]),
//! 3. the remaining 30 bytes ([`RawHeader::parse`], then [`RawHeader::check_framing`]: version,
//!    reserved bytes, body length limit),
//! 4. body and auth part (the caller reads [`RawHeader::body_len`] + [`RawHeader::auth_len`] bytes),
//! 5. [`RawHeader::validate`]: content type, accept type, auth type, opcode, provider id.
//!
//! [`Request::decode`] runs all stages over one buffer.

use crate::{Opcode, Status};

/// The magic number that starts every header (`10 a7 c0 5e` on the wire).
pub const MAGIC: u32 = 0x5EC0_A710;
/// The value of the header-size field: the header bytes that follow it.
pub const HEADER_SIZE: u16 = 30;
/// The whole fixed header, in bytes.
pub const HEADER_LEN: usize = 36;
/// Upstream's default limit on a request body (`core_settings.body_len_limit`).
pub const DEFAULT_BODY_LEN_LIMIT: usize = 1 << 20;
/// The largest auth part a header can announce.
pub const MAX_AUTH_LEN: usize = u16::MAX as usize;

/// Why a request header, or its framing, was refused. Each maps to one status
/// ([`HeaderError::status`]); the response to all of them uses the default header
/// ([`ResponseHeader::default_for_error`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The first four bytes are not the magic number.
    BadMagic(u32),
    /// The header-size field is not 30.
    BadHeaderSize(u16),
    /// A wire protocol version other than 1.0.
    UnsupportedVersion { major: u8, minor: u8 },
    /// A reserved byte is not zero.
    ReservedNotZero,
    /// The announced body is larger than the limit.
    BodyTooLarge { len: u32, limit: usize },
    /// The buffer or stream ended before the announced header, body or auth part.
    Truncated,
    /// Bytes follow a complete request in a buffer that should hold exactly one.
    TrailingBytes,
    /// A content type other than protobuf (0).
    ContentType(u8),
    /// An accept type other than protobuf (0).
    AcceptType(u8),
    /// An auth type outside 0..=4.
    AuthType(u8),
    /// An opcode that names no operation.
    Opcode(u32),
    /// A provider id outside 0..=5.
    ProviderId(u8),
}

impl HeaderError {
    /// The status upstream answers for this error.
    pub const fn status(self) -> Status {
        match self {
            HeaderError::BadMagic(_)
            | HeaderError::BadHeaderSize(_)
            | HeaderError::ReservedNotZero
            | HeaderError::TrailingBytes => Status::InvalidHeader,
            HeaderError::UnsupportedVersion { .. } => Status::WireProtocolVersionNotSupported,
            HeaderError::BodyTooLarge { .. } => Status::BodySizeExceedsLimit,
            HeaderError::Truncated => Status::ConnectionError,
            HeaderError::ContentType(_) => Status::ContentTypeNotSupported,
            HeaderError::AcceptType(_) => Status::AcceptTypeNotSupported,
            HeaderError::AuthType(_) => Status::AuthenticatorDoesNotExist,
            HeaderError::Opcode(_) => Status::OpcodeDoesNotExist,
            HeaderError::ProviderId(_) => Status::ProviderDoesNotExist,
        }
    }
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::BadMagic(m) => write!(f, "bad magic number {m:#010x}"),
            HeaderError::BadHeaderSize(s) => write!(f, "header size {s}, expected {HEADER_SIZE}"),
            HeaderError::UnsupportedVersion { major, minor } => {
                write!(f, "wire protocol version {major}.{minor} is not supported")
            }
            HeaderError::ReservedNotZero => f.write_str("reserved header bytes are not zero"),
            HeaderError::BodyTooLarge { len, limit } => {
                write!(f, "body of {len} bytes exceeds the limit of {limit}")
            }
            HeaderError::Truncated => f.write_str("request ended early"),
            HeaderError::TrailingBytes => f.write_str("bytes follow the request"),
            HeaderError::ContentType(t) => write!(f, "content type {t} is not supported"),
            HeaderError::AcceptType(t) => write!(f, "accept type {t} is not supported"),
            HeaderError::AuthType(t) => write!(f, "auth type {t} does not exist"),
            HeaderError::Opcode(o) => write!(f, "opcode {o:#x} does not exist"),
            HeaderError::ProviderId(p) => write!(f, "provider id {p} does not exist"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// Checks the first four bytes of a request.
pub fn check_magic(bytes: [u8; 4]) -> Result<(), HeaderError> {
    let magic = u32::from_le_bytes(bytes);
    if magic == MAGIC {
        Ok(())
    } else {
        Err(HeaderError::BadMagic(magic))
    }
}

/// Checks the two header-size bytes that follow the magic.
pub fn check_header_size(bytes: [u8; 2]) -> Result<(), HeaderError> {
    let size = u16::from_le_bytes(bytes);
    if size == HEADER_SIZE {
        Ok(())
    } else {
        Err(HeaderError::BadHeaderSize(size))
    }
}

/// Provider ids that exist in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ProviderId {
    Core = 0,
    MbedCrypto = 1,
    Pkcs11 = 2,
    Tpm = 3,
    TrustedService = 4,
    CryptoAuthLib = 5,
}

impl ProviderId {
    /// The provider id with this wire value, if any.
    pub const fn from_u8(value: u8) -> Option<ProviderId> {
        Some(match value {
            0 => ProviderId::Core,
            1 => ProviderId::MbedCrypto,
            2 => ProviderId::Pkcs11,
            3 => ProviderId::Tpm,
            4 => ProviderId::TrustedService,
            5 => ProviderId::CryptoAuthLib,
            _ => return None,
        })
    }
}

/// Auth types (header offset 21).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum AuthType {
    /// No authentication: the request carries no identity.
    NoAuth = 0,
    /// The application name, as UTF-8.
    Direct = 1,
    /// Reserved; never implemented upstream.
    Jwt = 2,
    /// The client's UID as a little-endian u32, checked against the socket's peer credentials.
    UnixPeerCredentials = 3,
    /// A JWT-SVID.
    JwtSvid = 4,
}

impl AuthType {
    /// The auth type with this wire value, if any.
    pub const fn from_u8(value: u8) -> Option<AuthType> {
        Some(match value {
            0 => AuthType::NoAuth,
            1 => AuthType::Direct,
            2 => AuthType::Jwt,
            3 => AuthType::UnixPeerCredentials,
            4 => AuthType::JwtSvid,
            _ => return None,
        })
    }
}

/// Body encodings; protobuf (0) is the only one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BodyType {
    Protobuf = 0,
}

/// The 30 header bytes after the size field, as read, before any value check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RawHeader {
    pub version_maj: u8,
    pub version_min: u8,
    pub flags: u16,
    pub provider: u8,
    pub session: u64,
    pub content_type: u8,
    pub accept_type: u8,
    pub auth_type: u8,
    pub body_len: u32,
    pub auth_len: u16,
    pub opcode: u32,
    pub status: u16,
    pub reserved1: u8,
    pub reserved2: u8,
}

/// Little-endian reader over a fixed array; indices are compile-time bounded by the callers.
struct Fields<'a> {
    bytes: &'a [u8; 30],
    at: usize,
}

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.at..self.at + N]);
        self.at += N;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

impl RawHeader {
    /// Reads the 30 bytes that follow the header-size field. Every byte pattern is a raw header.
    pub fn parse(bytes: &[u8; 30]) -> RawHeader {
        let mut r = Fields { bytes, at: 0 };
        RawHeader {
            version_maj: r.u8(),
            version_min: r.u8(),
            flags: r.u16(),
            provider: r.u8(),
            session: r.u64(),
            content_type: r.u8(),
            accept_type: r.u8(),
            auth_type: r.u8(),
            body_len: r.u32(),
            auth_len: r.u16(),
            opcode: r.u32(),
            status: r.u16(),
            reserved1: r.u8(),
            reserved2: r.u8(),
        }
    }

    /// Writes the whole 36-byte header, magic and size included.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&MAGIC.to_le_bytes());
        put(&HEADER_SIZE.to_le_bytes());
        put(&[self.version_maj, self.version_min]);
        put(&self.flags.to_le_bytes());
        put(&[self.provider]);
        put(&self.session.to_le_bytes());
        put(&[self.content_type, self.accept_type, self.auth_type]);
        put(&self.body_len.to_le_bytes());
        put(&self.auth_len.to_le_bytes());
        put(&self.opcode.to_le_bytes());
        put(&self.status.to_le_bytes());
        put(&[self.reserved1, self.reserved2]);
        out
    }

    /// The checks made before the body is read: version, reserved bytes, body length limit
    /// (in that order, as upstream). The request's flags and status fields are ignored.
    pub fn check_framing(&self, body_len_limit: usize) -> Result<(), HeaderError> {
        if (self.version_maj, self.version_min) != (1, 0) {
            return Err(HeaderError::UnsupportedVersion {
                major: self.version_maj,
                minor: self.version_min,
            });
        }
        if self.reserved1 != 0 || self.reserved2 != 0 {
            return Err(HeaderError::ReservedNotZero);
        }
        if usize::try_from(self.body_len).map_or(true, |len| len > body_len_limit) {
            return Err(HeaderError::BodyTooLarge {
                len: self.body_len,
                limit: body_len_limit,
            });
        }
        Ok(())
    }

    /// The announced body length.
    pub fn body_len(&self) -> usize {
        self.body_len as usize
    }

    /// The announced auth part length.
    pub fn auth_len(&self) -> usize {
        usize::from(self.auth_len)
    }

    /// The checks made once body and auth part are read: content type, accept type, auth type,
    /// opcode, provider id (in that order, as upstream).
    pub fn validate(&self) -> Result<RequestHeader, HeaderError> {
        if self.content_type != BodyType::Protobuf as u8 {
            return Err(HeaderError::ContentType(self.content_type));
        }
        if self.accept_type != BodyType::Protobuf as u8 {
            return Err(HeaderError::AcceptType(self.accept_type));
        }
        let auth_type =
            AuthType::from_u8(self.auth_type).ok_or(HeaderError::AuthType(self.auth_type))?;
        let opcode = Opcode::from_u32(self.opcode).ok_or(HeaderError::Opcode(self.opcode))?;
        let provider =
            ProviderId::from_u8(self.provider).ok_or(HeaderError::ProviderId(self.provider))?;
        Ok(RequestHeader {
            provider,
            session: self.session,
            auth_type,
            opcode,
        })
    }
}

/// A request header whose every field names something that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    pub provider: ProviderId,
    pub session: u64,
    pub auth_type: AuthType,
    pub opcode: Opcode,
}

/// A whole request: header, body, auth part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub header: RequestHeader,
    pub body: Vec<u8>,
    pub auth: Vec<u8>,
}

/// A length that does not fit its header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong;

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("length does not fit its header field")
    }
}

impl std::error::Error for TooLong {}

impl Request {
    /// Decodes exactly one request from `bytes`, applying every header check in upstream's order.
    pub fn decode(bytes: &[u8], body_len_limit: usize) -> Result<Request, HeaderError> {
        let (request, used) = Request::decode_prefix(bytes, body_len_limit)?;
        if used == bytes.len() {
            Ok(request)
        } else {
            Err(HeaderError::TrailingBytes)
        }
    }

    /// Decodes the request at the start of `bytes`; returns it and the number of bytes it used.
    /// The same reader as the service's socket front ([`crate::RequestReader`]).
    pub fn decode_prefix(
        bytes: &[u8],
        body_len_limit: usize,
    ) -> Result<(Request, usize), HeaderError> {
        let mut reader = crate::RequestReader::new(body_len_limit);
        let (used, step) = reader.feed(bytes);
        match step {
            crate::Step::Refused(e) => return Err(e),
            crate::Step::More => return Err(HeaderError::Truncated),
            crate::Step::Ready => {}
        }
        let framed = reader.finish().ok_or(HeaderError::Truncated)?;
        let header = framed.header.validate()?;
        let request = Request {
            header,
            body: framed.body.to_vec(),
            auth: framed.auth.to_vec(),
        };
        Ok((request, used))
    }

    /// Encodes the request (version 1.0, protobuf content and accept types).
    pub fn encode(&self) -> Result<Vec<u8>, TooLong> {
        let raw = RawHeader {
            version_maj: 1,
            provider: self.header.provider as u8,
            session: self.header.session,
            auth_type: self.header.auth_type as u8,
            body_len: u32::try_from(self.body.len()).map_err(|_| TooLong)?,
            auth_len: u16::try_from(self.auth.len()).map_err(|_| TooLong)?,
            opcode: self.header.opcode.to_u32(),
            ..RawHeader::default()
        };
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len() + self.auth.len());
        out.extend_from_slice(&raw.encode());
        out.extend_from_slice(&self.body);
        out.extend_from_slice(&self.auth);
        Ok(out)
    }
}

fn take<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], HeaderError> {
    let slice = bytes.get(at..at + N).ok_or(HeaderError::Truncated)?;
    let mut out = [0u8; N];
    out.copy_from_slice(slice);
    Ok(out)
}

/// The fields of a response header that vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHeader {
    pub provider: u8,
    pub session: u64,
    pub content_type: u8,
    pub opcode: u32,
    pub status: Status,
}

impl ResponseHeader {
    /// The header upstream sends for errors found while the request header is parsed:
    /// provider 0, session 0, opcode 1 (Ping), protobuf.
    pub const fn default_for_error(status: Status) -> ResponseHeader {
        ResponseHeader {
            provider: 0,
            session: 0,
            content_type: BodyType::Protobuf as u8,
            opcode: Opcode::Ping.to_u32(),
            status,
        }
    }

    /// The header that answers `request`: provider, session and opcode echoed.
    pub const fn echo(request: &RequestHeader, status: Status) -> ResponseHeader {
        ResponseHeader {
            provider: request.provider as u8,
            session: request.session,
            content_type: BodyType::Protobuf as u8,
            opcode: request.opcode.to_u32(),
            status,
        }
    }
}

/// A whole response: header and body (responses carry no auth part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub header: ResponseHeader,
    pub body: Vec<u8>,
}

/// Why a response could not be decoded (client side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Magic, size, version or reserved bytes are wrong.
    Header(HeaderError),
    /// The status is not one of the known values.
    UnknownStatus(u16),
    /// The response announces an auth part.
    AuthPart,
    /// The body is larger than the caller allows.
    BodyTooLarge(u32),
}

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResponseError::Header(e) => e.fmt(f),
            ResponseError::UnknownStatus(s) => write!(f, "unknown status {s}"),
            ResponseError::AuthPart => f.write_str("a response must not carry an auth part"),
            ResponseError::BodyTooLarge(n) => write!(f, "response body of {n} bytes is too large"),
        }
    }
}

impl std::error::Error for ResponseError {}

impl Response {
    /// A response with an empty body and the default header (errors found in the header).
    pub fn header_error(error: HeaderError) -> Response {
        Response {
            header: ResponseHeader::default_for_error(error.status()),
            body: Vec::new(),
        }
    }

    /// Encodes header and body.
    pub fn encode(&self) -> Result<Vec<u8>, TooLong> {
        let raw = RawHeader {
            version_maj: 1,
            provider: self.header.provider,
            session: self.header.session,
            content_type: self.header.content_type,
            body_len: u32::try_from(self.body.len()).map_err(|_| TooLong)?,
            opcode: self.header.opcode,
            status: self.header.status.to_u16(),
            ..RawHeader::default()
        };
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(&raw.encode());
        out.extend_from_slice(&self.body);
        Ok(out)
    }

    /// Checks a response's 36-byte header; returns it and the body length to read next.
    pub fn decode_header(
        bytes: &[u8; HEADER_LEN],
        body_len_limit: usize,
    ) -> Result<(ResponseHeader, usize), ResponseError> {
        let head: [u8; 4] = take(bytes, 0).map_err(ResponseError::Header)?;
        check_magic(head).map_err(ResponseError::Header)?;
        check_header_size(take(bytes, 4).map_err(ResponseError::Header)?)
            .map_err(ResponseError::Header)?;
        let raw = RawHeader::parse(&take(bytes, 6).map_err(ResponseError::Header)?);
        raw.check_framing(usize::MAX)
            .map_err(ResponseError::Header)?;
        let status =
            Status::from_u16(raw.status).ok_or(ResponseError::UnknownStatus(raw.status))?;
        if raw.auth_len != 0 {
            return Err(ResponseError::AuthPart);
        }
        if raw.body_len() > body_len_limit {
            return Err(ResponseError::BodyTooLarge(raw.body_len));
        }
        let header = ResponseHeader {
            provider: raw.provider,
            session: raw.session,
            content_type: raw.content_type,
            opcode: raw.opcode,
            status,
        };
        Ok((header, raw.body_len()))
    }

    /// Decodes exactly one response from `bytes`.
    pub fn decode(bytes: &[u8], body_len_limit: usize) -> Result<Response, ResponseError> {
        let head: [u8; HEADER_LEN] =
            take(bytes, 0).map_err(|_| ResponseError::Header(HeaderError::Truncated))?;
        let (header, body_len) = Response::decode_header(&head, body_len_limit)?;
        let body = &bytes[HEADER_LEN..];
        match body.len().cmp(&body_len) {
            std::cmp::Ordering::Less => Err(ResponseError::Header(HeaderError::Truncated)),
            std::cmp::Ordering::Greater => Err(ResponseError::Header(HeaderError::TrailingBytes)),
            std::cmp::Ordering::Equal => Ok(Response {
                header,
                body: body.to_vec(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
