//! serde deserializer: BOSS bytes straight to Rust values, borrowing text and binary from the
//! input (references included: a cached item is read again from its place in the input).
//!
//! Tolerances for what real writers send: a BIN field accepts TEXT (the JavaScript writer
//! turns bytes into a reference to an equal text, spec §3.7), and a sequence of `u8` accepts
//! BIN. A time is offered to `deserialize_any` visitors as a newtype struct holding a one-entry
//! map `{"$__boss_time": seconds}`, and a big integer likewise as `{"$__boss_bigint": [sign,
//! magnitude...]}`: that is how [`crate::Value`] recognises them, and no dictionary ever
//! arrives as a newtype, so a dictionary using those keys stays a dictionary.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::decode::{Item, Limits, Reader};
use crate::error::{Error, ErrorKind, Result};
use crate::{BIGINT_KEY, TIME_KEY, TIME_TOKEN};

/// Deserializes from BOSS bytes.
pub struct Deserializer<'de> {
    r: Reader<'de>,
}

impl<'de> Deserializer<'de> {
    pub fn new(input: &'de [u8]) -> Result<Self> {
        Self::with_limits(input, Limits::default())
    }
    pub fn with_limits(input: &'de [u8], limits: Limits) -> Result<Self> {
        Ok(Deserializer {
            r: Reader::new(input, limits)?,
        })
    }
    /// Fails unless the whole input has been read.
    pub fn end(&self) -> Result<()> {
        self.r.end()
    }
    pub(crate) fn reader(&self) -> &Reader<'de> {
        &self.r
    }
    pub(crate) fn reader_mut(&mut self) -> &mut Reader<'de> {
        &mut self.r
    }

    /// Reads the next item, resolving a reference by reading the cached item again, and hands
    /// it to `f`; errors get the item's offset.
    fn with_item<T>(&mut self, f: impl FnOnce(&mut Self, Item<'de>) -> Result<T>) -> Result<T> {
        let start = self.r.pos();
        let result = match self.r.next_item() {
            Ok(Item::Ref { offset }) => {
                let saved = self.r.begin_replay(offset);
                let result = self.r.next_item().and_then(|item| f(self, item));
                self.r.end_replay(saved);
                result
            }
            Ok(item) => f(self, item),
            Err(e) => Err(e),
        };
        result.map_err(|e| e.with_offset(start))
    }

    fn visit<V: Visitor<'de>>(&mut self, item: Item<'de>, visitor: V) -> Result<V::Value> {
        match item {
            Item::Null => visitor.visit_unit(),
            Item::Bool(b) => visitor.visit_bool(b),
            Item::Int(i) => {
                if let Ok(x) = i64::try_from(i) {
                    visitor.visit_i64(x)
                } else if let Ok(x) = u64::try_from(i) {
                    visitor.visit_u64(x)
                } else {
                    visitor.visit_i128(i)
                }
            }
            Item::Big(b) => {
                let mut bytes = vec![u8::from(b.is_negative())];
                bytes.extend_from_slice(b.magnitude_le());
                visitor.visit_newtype_struct(de::value::MapAccessDeserializer::new(OneEntry {
                    key: Some(BIGINT_KEY),
                    value: Some(Special::Bytes(bytes)),
                }))
            }
            Item::Float(x) => visitor.visit_f64(x),
            Item::Time(t) => {
                visitor.visit_newtype_struct(de::value::MapAccessDeserializer::new(OneEntry {
                    key: Some(TIME_KEY),
                    value: Some(Special::U64(t)),
                }))
            }
            Item::Text(s) => visitor.visit_borrowed_str(s),
            Item::Bin(b) => visitor.visit_borrowed_bytes(b),
            Item::List { len, slot } => {
                self.r.enter()?;
                let mut access = Seq {
                    de: self,
                    left: len,
                };
                let v = visitor.visit_seq(&mut access)?;
                if access.left != 0 {
                    return Err(de::Error::invalid_length(len, &"fewer list items"));
                }
                self.r.leave();
                self.r.finish(slot);
                Ok(v)
            }
            Item::Dict { len, slot } => {
                self.r.enter()?;
                let mut access = Map {
                    de: self,
                    left: len,
                };
                let v = visitor.visit_map(&mut access)?;
                if access.left != 0 {
                    return Err(de::Error::invalid_length(len, &"fewer dict pairs"));
                }
                self.r.leave();
                self.r.finish(slot);
                Ok(v)
            }
            Item::Ref { .. } => unreachable!("with_item resolves references"),
        }
    }
}

macro_rules! forward_to_any {
    ($($name:ident)*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.deserialize_any(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.with_item(|de, item| de.visit(item, visitor))
    }

    forward_to_any!(deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_unit deserialize_identifier deserialize_ignored_any
        deserialize_map);

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.with_item(|de, item| match item {
            Item::Text(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
            item => de.visit(item, visitor),
        })
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.r.peek() == Some(crate::NULL) {
            self.r.next_item()?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == TIME_TOKEN {
            return self.with_item(|_, item| match item {
                Item::Time(t) => visitor.visit_newtype_struct(t.into_deserializer()),
                _ => Err(de::Error::custom("expected a BOSS time")),
            });
        }
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.with_item(|de, item| match item {
            Item::Bin(b) => visitor.visit_seq(de::value::SeqDeserializer::<_, Error>::new(
                b.iter().copied(),
            )),
            item => de.visit(item, visitor),
        })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_any(visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.with_item(|de, item| match item {
            Item::Text(s) => visitor.visit_enum(s.into_deserializer()),
            Item::Dict { len: 1, slot } => {
                de.r.enter()?;
                let v = visitor.visit_enum(Enum { de: &mut *de })?;
                de.r.leave();
                de.r.finish(slot);
                Ok(v)
            }
            _ => Err(de::Error::custom(
                "expected an enum: a text or a one-pair dict",
            )),
        })
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

struct Seq<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Map<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: usize,
}

impl<'de> de::MapAccess<'de> for Map<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Enum<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for Enum<'_, 'de> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_, 'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(&mut *self.de)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }
}

/// The content of the one-entry map that stands for a time or a big integer.
enum Special {
    U64(u64),
    Bytes(Vec<u8>),
}

struct OneEntry {
    key: Option<&'static str>,
    value: Option<Special>,
}

impl<'de> de::MapAccess<'de> for OneEntry {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.key.take() {
            Some(k) => seed.deserialize(k.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        match self.value.take() {
            Some(Special::U64(t)) => seed.deserialize(t.into_deserializer()),
            Some(Special::Bytes(b)) => {
                seed.deserialize(de::value::BytesDeserializer::<Error>::new(&b))
            }
            None => Err(Error::new(ErrorKind::Message("value asked twice".into()))),
        }
    }
}
