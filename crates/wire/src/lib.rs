//! The Parsec wire protocol 1.0: the 36-byte header, request and response framing, status codes
//! and opcodes. No I/O: a front end reads a request through [`RequestReader`], which checks each part
//! as it completes, in upstream's order, so that every malformed request gets the status
//! upstream `parsec-service` gives.
//!
//! Imports nothing of the workspace: every other crate may import it.

pub mod header;
mod opcode;
mod reader;
mod status;

pub use header::{
    check_header_size, check_magic, AuthType, BodyType, HeaderError, ProviderId, RawHeader,
    Request, RequestHeader, Response, ResponseError, ResponseHeader, TooLong,
    DEFAULT_BODY_LEN_LIMIT, HEADER_LEN, HEADER_SIZE, MAGIC, MAX_AUTH_LEN,
};
pub use opcode::Opcode;
pub use reader::{Framed, RequestReader, Step};
pub use status::Status;
