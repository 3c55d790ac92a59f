//! `jsonb` on the wire as the core's [`RawJson`] text: payloads are serialized straight
//! into the parameter and decoded straight from the column, with no `serde_json::Value`
//! tree in between (Diesel's own `jsonb` impls go through one).

use std::io::Write;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types;
use pgmq_orm_core::RawJson;

/// The binary `jsonb` format: this version byte, then the JSON text.
const JSONB_VERSION: u8 = 1;

/// A local wrapper, so Diesel's traits can be implemented for the core's [`RawJson`].
///
/// `pub` in a private module: [`MessageRow`](crate::query::MessageRow)'s public
/// `Queryable` impl names it in its row type, yet users never need to.
#[allow(unreachable_pub)]
#[derive(Debug, Clone, FromSqlRow)]
pub struct Jsonb(pub(crate) RawJson);

impl ToSql<sql_types::Jsonb, Pg> for Jsonb {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&[JSONB_VERSION])?;
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<sql_types::Jsonb, Pg> for Jsonb {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        match value.as_bytes().split_first() {
            Some((&JSONB_VERSION, text)) => Ok(Self(RawJson::from_text(text.to_vec()))),
            Some(_) => Err("unsupported jsonb encoding version".into()),
            None => Err("empty jsonb value from the server".into()),
        }
    }
}

/// Wraps each text for binding as a `jsonb[]` element.
pub(crate) fn wrap_all(texts: Vec<RawJson>) -> Vec<Jsonb> {
    texts.into_iter().map(Jsonb).collect()
}
