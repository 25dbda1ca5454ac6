//! Reading one request from a byte stream, without I/O.
//!
//! [`RequestReader`] says where the next bytes go ([`RequestReader::space`]) and checks each
//! part as soon as it is whole, in upstream's order: the magic number, then the header size,
//! then version, reserved bytes and body length (before any body byte is awaited), then body
//! and auth part. Body and auth part are allocated only once their lengths passed those checks
//! (the body's by the limit, the auth part's by its 16-bit field), and are wiped when dropped:
//! a body may carry key material or a plaintext.
//!
//! The service's socket front reads through it (straight into `space`, so a large body is
//! read in place); [`crate::Request::decode_prefix`] and the fuzz targets use it too.

use zeroize::Zeroizing;

use crate::header::{check_header_size, check_magic, HeaderError, RawHeader, HEADER_LEN};

/// The parts of a request, in the order they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Magic,
    HeaderSize,
    Header,
    Body,
    Auth,
    Ready,
    Refused(HeaderError),
}

/// What the bytes given so far amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More bytes are needed, into [`RequestReader::space`].
    More,
    /// The request cannot be framed: answer with the default header, then close.
    Refused(HeaderError),
    /// A whole request: take it with [`RequestReader::finish`].
    Ready,
}

/// A framed request: its header as sent (checked up to its framing; the rest of its fields
/// are checked by [`RawHeader::validate`]), body and auth part.
pub struct Framed {
    pub header: RawHeader,
    pub body: Zeroizing<Vec<u8>>,
    pub auth: Zeroizing<Vec<u8>>,
}

/// Reads one request; see the module documentation.
pub struct RequestReader {
    body_len_limit: usize,
    stage: Stage,
    fixed: [u8; HEADER_LEN],
    /// Bytes of the current part received so far.
    got: usize,
    header: RawHeader,
    body: Zeroizing<Vec<u8>>,
    auth: Zeroizing<Vec<u8>>,
}

impl RequestReader {
    /// A reader for one request whose body may be at most `body_len_limit` bytes.
    pub fn new(body_len_limit: usize) -> RequestReader {
        RequestReader {
            body_len_limit,
            stage: Stage::Magic,
            fixed: [0; HEADER_LEN],
            got: 0,
            header: RawHeader::default(),
            body: Zeroizing::new(Vec::new()),
            auth: Zeroizing::new(Vec::new()),
        }
    }

    /// Where the next bytes go: never more than the current part still needs, so bytes of a
    /// following request are never taken. Empty once the request is ready or refused.
    pub fn space(&mut self) -> &mut [u8] {
        let got = self.got;
        match self.stage {
            Stage::Magic => &mut self.fixed[got..4],
            Stage::HeaderSize => &mut self.fixed[4 + got..6],
            Stage::Header => &mut self.fixed[6 + got..],
            Stage::Body => &mut self.body[got..],
            Stage::Auth => &mut self.auth[got..],
            Stage::Ready | Stage::Refused(_) => &mut [],
        }
    }

    /// Records that `n` bytes were written at the start of [`RequestReader::space`], and
    /// checks every part they complete.
    ///
    /// # Panics
    /// When `n` is larger than the space was: a bug of the caller, not of the input.
    pub fn filled(&mut self, n: usize) -> Step {
        let room = self.space().len();
        assert!(n <= room, "filled {n} bytes into a space of {room}");
        self.got += n;
        while self.space().is_empty() {
            self.got = 0;
            self.stage = match self.stage {
                Stage::Magic => {
                    match check_magic([self.fixed[0], self.fixed[1], self.fixed[2], self.fixed[3]])
                    {
                        Ok(()) => Stage::HeaderSize,
                        Err(e) => Stage::Refused(e),
                    }
                }
                Stage::HeaderSize => match check_header_size([self.fixed[4], self.fixed[5]]) {
                    Ok(()) => Stage::Header,
                    Err(e) => Stage::Refused(e),
                },
                Stage::Header => {
                    let mut rest = [0u8; HEADER_LEN - 6];
                    rest.copy_from_slice(&self.fixed[6..]);
                    self.header = RawHeader::parse(&rest);
                    match self.header.check_framing(self.body_len_limit) {
                        // Both lengths are bounded: the body by the limit just checked, the
                        // auth part by its u16.
                        Ok(()) => {
                            self.body = Zeroizing::new(vec![0u8; self.header.body_len()]);
                            self.auth = Zeroizing::new(vec![0u8; self.header.auth_len()]);
                            Stage::Body
                        }
                        Err(e) => Stage::Refused(e),
                    }
                }
                Stage::Body => Stage::Auth,
                Stage::Auth => Stage::Ready,
                stage @ (Stage::Ready | Stage::Refused(_)) => {
                    self.stage = stage;
                    break;
                }
            };
        }
        self.step()
    }

    /// Where reading stands.
    pub fn step(&self) -> Step {
        match self.stage {
            Stage::Ready => Step::Ready,
            Stage::Refused(e) => Step::Refused(e),
            _ => Step::More,
        }
    }

    /// Whether no byte of the request has arrived yet.
    pub fn is_empty(&self) -> bool {
        self.stage == Stage::Magic && self.got == 0
    }

    /// Gives as many of `bytes` as the request takes; returns how many it took and where
    /// reading stands.
    pub fn feed(&mut self, bytes: &[u8]) -> (usize, Step) {
        let mut used = 0;
        loop {
            let space = self.space();
            let n = space.len().min(bytes.len() - used);
            if n == 0 {
                return (used, self.step());
            }
            space[..n].copy_from_slice(&bytes[used..used + n]);
            used += n;
            if let Step::Refused(_) | Step::Ready = self.filled(n) {
                return (used, self.step());
            }
        }
    }

    /// The whole request, once [`Step::Ready`]; `None` before, or after a refusal.
    pub fn finish(self) -> Option<Framed> {
        (self.stage == Stage::Ready).then_some(Framed {
            header: self.header,
            body: self.body,
            auth: self.auth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{DEFAULT_BODY_LEN_LIMIT, MAGIC};

    fn request(body: &[u8], auth: &[u8]) -> Vec<u8> {
        let raw = RawHeader {
            version_maj: 1,
            body_len: body.len() as u32,
            auth_len: auth.len() as u16,
            ..RawHeader::default()
        };
        let mut out = raw.encode().to_vec();
        out.extend_from_slice(body);
        out.extend_from_slice(auth);
        out
    }

    #[test]
    fn a_request_in_pieces_of_every_size_reads_the_same() {
        let bytes = request(b"body bytes", b"app");
        for piece in 1..=bytes.len() {
            let mut reader = RequestReader::new(DEFAULT_BODY_LEN_LIMIT);
            for chunk in bytes.chunks(piece) {
                let (used, _) = reader.feed(chunk);
                assert_eq!(used, chunk.len());
            }
            assert_eq!(reader.step(), Step::Ready);
            let framed = reader.finish().unwrap();
            assert_eq!(&framed.body[..], b"body bytes");
            assert_eq!(&framed.auth[..], b"app");
        }
    }

    #[test]
    fn bytes_of_the_next_request_are_left_alone() {
        let mut bytes = request(b"", b"");
        bytes.extend_from_slice(&MAGIC.to_le_bytes());
        let mut reader = RequestReader::new(DEFAULT_BODY_LEN_LIMIT);
        assert_eq!(reader.feed(&bytes), (HEADER_LEN, Step::Ready));
        assert!(reader.space().is_empty());
    }

    #[test]
    fn each_part_is_refused_as_soon_as_it_is_whole() {
        // A wrong magic is refused after 4 bytes, before the rest is awaited.
        let mut reader = RequestReader::new(DEFAULT_BODY_LEN_LIMIT);
        assert_eq!(
            reader.feed(&[1, 2, 3, 4, 5]),
            (4, Step::Refused(HeaderError::BadMagic(0x0403_0201)))
        );
        assert!(reader.finish().is_none());
        let good = request(b"", b"");
        let mut reader = RequestReader::new(DEFAULT_BODY_LEN_LIMIT);
        let mut bad_size = good.clone();
        bad_size[4] = 31;
        assert_eq!(
            reader.feed(&bad_size[..6]),
            (6, Step::Refused(HeaderError::BadHeaderSize(31)))
        );
        // A body over the limit is refused before any of it is awaited or allocated.
        let mut reader = RequestReader::new(4);
        let big = request(b"12345", b"");
        assert_eq!(
            reader.feed(&big[..HEADER_LEN]),
            (
                HEADER_LEN,
                Step::Refused(HeaderError::BodyTooLarge { len: 5, limit: 4 })
            )
        );
        assert!(reader.space().is_empty());
    }

    #[test]
    fn nothing_given_is_nothing_read() {
        let mut reader = RequestReader::new(DEFAULT_BODY_LEN_LIMIT);
        assert!(reader.is_empty());
        assert_eq!(reader.feed(&[]), (0, Step::More));
        assert_eq!(reader.filled(0), Step::More);
        reader.feed(&MAGIC.to_le_bytes()[..1]);
        assert!(!reader.is_empty());
    }
}
