//! The one error type of the crate: what went wrong and, for decoding, where.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended inside an item.
    UnexpectedEnd,
    /// Bytes follow the one object that was asked for.
    TrailingBytes,
    /// A TEXT item is not UTF-8.
    InvalidUtf8,
    /// An EXTRA sub-code this format does not define or that no implementation accepts
    /// (legacy references 8–11, "compressed" 14).
    UnsupportedExtra(u8),
    /// A length, count or reference index that does not fit in memory addressing.
    LengthOverflow,
    /// A back-reference to an index that the cache does not hold.
    BadReference(u64),
    /// A back-reference to a container that is still being read: only cyclic data does that.
    CyclicReference(u64),
    /// Containers nested deeper than the limit.
    DepthLimit,
    /// More bytes (input, or text and binary produced through references) than the limit.
    SizeLimit,
    /// More items than the limit (references count the items they copy).
    ElementLimit,
    /// An integer the JavaScript reader would misread (|v| ≥ 2^31), and large integers were
    /// not allowed in the encoder options.
    IntegerUnsafeForJavaScript,
    /// A time before the Unix epoch, which BOSS cannot carry.
    NegativeTime,
    /// A serializer was told one length and given another.
    LengthMismatch,
    /// A BOSS value that does not have the shape the Rust type asked for.
    Message(String),
}

/// A BOSS error. For decoding errors, `offset` is the position in the input where the
/// offending item starts (or where the input ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    offset: Option<usize>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error { kind, offset: None }
    }
    pub(crate) fn at(kind: ErrorKind, offset: usize) -> Self {
        Error {
            kind,
            offset: Some(offset),
        }
    }
    pub(crate) fn with_offset(mut self, offset: usize) -> Self {
        self.offset.get_or_insert(offset);
        self
    }
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
    /// Byte offset in the input, for decoding errors.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnexpectedEnd => f.write_str("input ends inside an item"),
            ErrorKind::TrailingBytes => f.write_str("trailing bytes after the object"),
            ErrorKind::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            ErrorKind::UnsupportedExtra(sub) => write!(f, "unsupported EXTRA sub-code {sub}"),
            ErrorKind::LengthOverflow => f.write_str("length or index too large"),
            ErrorKind::BadReference(i) => {
                write!(f, "reference to cache entry {i}, which does not exist")
            }
            ErrorKind::CyclicReference(i) => {
                write!(
                    f,
                    "reference to cache entry {i}, a container still being read"
                )
            }
            ErrorKind::DepthLimit => f.write_str("nesting deeper than the limit"),
            ErrorKind::SizeLimit => f.write_str("more bytes than the limit"),
            ErrorKind::ElementLimit => f.write_str("more items than the limit"),
            ErrorKind::IntegerUnsafeForJavaScript => f.write_str(
                "integer with magnitude of 2^31 or more, which JavaScript BOSS readers misread",
            ),
            ErrorKind::NegativeTime => f.write_str("time before the Unix epoch"),
            ErrorKind::LengthMismatch => {
                f.write_str("container length differs from the one announced")
            }
            ErrorKind::Message(m) => f.write_str(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "BOSS: {} (at byte {o})", self.kind),
            None => write!(f, "BOSS: {}", self.kind),
        }
    }
}

impl std::error::Error for Error {}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Message(msg.to_string()))
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(ErrorKind::Message(msg.to_string()))
    }
}

/// Result with the crate's error.
pub type Result<T> = std::result::Result<T, Error>;
