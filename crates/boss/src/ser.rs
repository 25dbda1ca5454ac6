//! serde serializer: Rust values straight to BOSS bytes.
//!
//! Mapping: structs and maps are dicts (struct fields are text keys), sequences and tuples are
//! lists, `Option::None` and `()` are null, byte slices (`serde_bytes`, [`crate::Bytes`]) are
//! BIN, unit variants are their name as text, other variants are `{name: content}`.
//! [`crate::Time`] is a BOSS time.

use serde::ser::{self, Serialize};

use crate::encode::{EncodeOptions, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::{BIGINT_TOKEN, DICT, LIST, TIME_TOKEN};

/// Serializes to BOSS bytes.
pub struct Serializer {
    w: Writer,
    depth: usize,
    /// Set by the newtype wrappers of [`crate::Time`] and [`crate::BigInt`]: the next scalar
    /// is a time, or a big integer.
    special: Option<&'static str>,
}

impl Serializer {
    pub fn new(opts: EncodeOptions) -> Self {
        Serializer {
            w: Writer::new(opts),
            depth: 0,
            special: None,
        }
    }
    /// The bytes written so far.
    pub fn into_inner(self) -> Vec<u8> {
        self.w.out.into_vec()
    }

    fn scalar(&mut self) -> Result<()> {
        match self.special.take() {
            None => Ok(()),
            Some(_) => Err(Error::new(ErrorKind::Message(
                "BOSS special type given an unexpected content".into(),
            ))),
        }
    }

    fn open(&mut self, code: u8, len: Option<usize>) -> Result<Compound<'_>> {
        self.scalar()?;
        self.depth = self.w.enter(self.depth)?;
        let header_at = self.w.out.len();
        if let Some(len) = len {
            self.w.len_header(code, len);
        }
        Ok(Compound {
            ser: self,
            code,
            expected: len,
            header_at,
            count: 0,
            close_outer: false,
        })
    }

    /// `{variant: ...}`: a one-pair dict, its value opened as `code`.
    fn variant(&mut self, variant: &str, code: u8, len: usize) -> Result<Compound<'_>> {
        self.scalar()?;
        self.depth = self.w.enter(self.depth)?;
        self.w.len_header(DICT, 1);
        self.w.text(variant);
        let mut c = self.open(code, Some(len))?;
        c.close_outer = true;
        Ok(c)
    }
}

/// A list or dict being written. With an unknown length, the items are written first and the
/// header is inserted in front of them at the end.
pub struct Compound<'a> {
    ser: &'a mut Serializer,
    code: u8,
    expected: Option<usize>,
    header_at: usize,
    count: usize,
    close_outer: bool,
}

impl Compound<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.count += 1;
        v.serialize(&mut *self.ser)
    }

    fn close(self) -> Result<()> {
        let count = if self.code == DICT {
            self.count / 2
        } else {
            self.count
        };
        match self.expected {
            Some(n) if n != count => return Err(Error::new(ErrorKind::LengthMismatch)),
            Some(_) => {}
            None => {
                let mut header = Writer::new(self.ser.w.opts);
                header.len_header(self.code, count);
                let at = self.header_at;
                self.ser.w.out.insert_at(at, &header.out.into_vec());
            }
        }
        self.ser.depth -= 1 + usize::from(self.close_outer);
        Ok(())
    }
}

macro_rules! int_methods {
    ($($name:ident: $t:ty),*) => {$(
        fn $name(self, v: $t) -> Result<()> {
            self.scalar()?;
            self.w.int(i128::from(v))
        }
    )*};
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    int_methods!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
                 serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_i128: i128);

    fn serialize_u64(self, v: u64) -> Result<()> {
        if self.special.take() == Some(TIME_TOKEN) {
            self.w.time(v);
            return Ok(());
        }
        self.scalar()?;
        self.w.int(i128::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<()> {
        self.scalar()?;
        self.w.u128(v)
    }
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.scalar()?;
        self.w.bool(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.scalar()?;
        self.w.float(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.scalar()?;
        self.w.text(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        if self.special.take() == Some(BIGINT_TOKEN) {
            // [sign (0 or 1), magnitude little-endian...]
            let (&sign, magnitude) = v
                .split_first()
                .ok_or_else(|| Error::new(ErrorKind::Message("empty big integer".into())))?;
            return match crate::BigInt::from_magnitude(sign != 0, magnitude) {
                Some(big) => self.w.bigint(&big),
                None => {
                    let mut buf = [0u8; 16];
                    buf[..magnitude.len().min(16)]
                        .copy_from_slice(&magnitude[..magnitude.len().min(16)]);
                    let m = u128::from_le_bytes(buf);
                    let i = if sign != 0 {
                        0i128.wrapping_sub_unsigned(m)
                    } else {
                        m as i128
                    };
                    self.w.int(i)
                }
            };
        }
        self.scalar()?;
        self.w.bin(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<()> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.scalar()?;
        self.w.null();
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<()> {
        if name == TIME_TOKEN || name == BIGINT_TOKEN {
            self.scalar()?;
            self.special = Some(name);
        }
        v.serialize(&mut *self)?;
        self.scalar()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<()> {
        self.scalar()?;
        self.depth = self.w.enter(self.depth)?;
        self.w.len_header(DICT, 1);
        self.w.text(variant);
        v.serialize(&mut *self)?;
        self.depth -= 1;
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>> {
        self.open(LIST, len)
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.open(LIST, Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.open(LIST, Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>> {
        self.variant(variant, LIST, len)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>> {
        self.open(DICT, len)
    }
    fn serialize_struct(self, _: &'static str, _len: usize) -> Result<Compound<'a>> {
        // Fields skipped at run time (skip_serializing_if) are counted by serde in `len`, but
        // a hand-written Serialize may not: count what is written.
        self.open(DICT, None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>> {
        self.variant(variant, DICT, len)
    }
}

/// Lists: every element is one item.
macro_rules! list_like {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
                self.item(v)
            }
            fn end(self) -> Result<()> {
                self.close()
            }
        }
    )*};
}
list_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<()> {
        self.item(k)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.item(v)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}
/// Structs: every field is a text key and its value.
macro_rules! struct_like {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
                self.item(key)?;
                self.item(v)
            }
            fn end(self) -> Result<()> {
                self.close()
            }
        }
    )*};
}
struct_like!(SerializeStruct, SerializeStructVariant);
