//! A check that a value holds no NaN or infinite float before it is serialized.
//!
//! serde_json writes a non-finite `f32`/`f64` as `null`, so a sender's number would reach
//! the queue as `null` with no error. JSON has no spelling for these values, so the encode
//! functions refuse them instead. The check walks the value through serde without writing
//! anything; the encoders run it only when the JSON they produced contains `null`, the
//! one place a non-finite float can hide.

use std::fmt;

use serde::Serialize;
use serde::ser;

/// Why [`check`] refused a value.
#[derive(Debug)]
pub(crate) struct NonFinite(String);

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NonFinite {}

impl ser::Error for NonFinite {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// `Err` with a message naming the float if `value` holds a NaN or an infinity anywhere;
/// errors of the value's own `Serialize` impl pass through as its message.
pub(crate) fn check<T: Serialize + ?Sized>(value: &T) -> Result<(), NonFinite> {
    value.serialize(Probe)
}

fn finite(v: f64) -> Result<(), NonFinite> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(NonFinite(format!(
            "{v} is not a JSON number (JSON has no NaN or infinity); it would be stored as null"
        )))
    }
}

/// Walks a value, writing nothing, failing on the first non-finite float.
struct Probe;

macro_rules! accept {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<(), NonFinite> { Ok(()) })*
    };
}

impl ser::Serializer for Probe {
    type Ok = ();
    type Error = NonFinite;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    accept!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_f32(self, v: f32) -> Result<(), NonFinite> {
        finite(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), NonFinite> {
        finite(v)
    }

    fn serialize_none(self) -> Result<(), NonFinite> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), NonFinite> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), NonFinite> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), NonFinite> {
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), NonFinite> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), NonFinite> {
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self, NonFinite> {
        Ok(self)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self, NonFinite> {
        Ok(self)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, NonFinite> {
        Ok(self)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, NonFinite> {
        Ok(self)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self, NonFinite> {
        Ok(self)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, NonFinite> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, NonFinite> {
        Ok(self)
    }
}

/// The element, field and entry methods of every compound serializer: each checks its
/// value and ends with nothing to write.
macro_rules! compound {
    ($($trait:ident { $($method:ident($($name:ident),*)),* }),* $(,)?) => {
        $(impl ser::$trait for Probe {
            type Ok = ();
            type Error = NonFinite;
            $(fn $method<T: Serialize + ?Sized>(&mut self, $(_: $name,)* value: &T) -> Result<(), NonFinite> {
                value.serialize(Probe)
            })*
            fn end(self) -> Result<(), NonFinite> {
                Ok(())
            }
        })*
    };
}

type Key = &'static str;

compound!(
    SerializeSeq { serialize_element() },
    SerializeTuple { serialize_element() },
    SerializeTupleStruct { serialize_field() },
    SerializeTupleVariant { serialize_field() },
    SerializeStruct { serialize_field(Key) },
    SerializeStructVariant { serialize_field(Key) },
);

impl ser::SerializeMap for Probe {
    type Ok = ();
    type Error = NonFinite;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), NonFinite> {
        key.serialize(Self)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NonFinite> {
        value.serialize(Self)
    }

    fn end(self) -> Result<(), NonFinite> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Serialize)]
    struct Reading {
        name: &'static str,
        values: Vec<f64>,
        nested: Option<BTreeMap<String, (u8, f32)>>,
    }

    #[test]
    fn finite_values_pass_and_every_non_finite_float_is_found() {
        let ok = Reading {
            name: "n",
            values: vec![1.5, -0.0, f64::MAX],
            nested: Some(BTreeMap::from([("k".into(), (1, 2.5))])),
        };
        assert!(check(&ok).is_ok());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(
                check(&Reading {
                    values: vec![1.0, bad],
                    ..ok_copy()
                })
                .is_err()
            );
        }
        let deep = Reading {
            nested: Some(BTreeMap::from([("k".into(), (1, f32::NAN))])),
            ..ok_copy()
        };
        assert!(check(&deep).unwrap_err().to_string().contains("NaN"));
        assert!(check(&serde_json::json!({"a": [null, 1.0]})).is_ok());
    }

    fn ok_copy() -> Reading {
        Reading {
            name: "n",
            values: vec![],
            nested: None,
        }
    }
}
