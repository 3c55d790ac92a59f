//! Validated queue names.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// The longest queue name pgmq accepts: its tables are `q_<name>` and `a_<name>`, and
/// Postgres identifiers stop at 63 bytes, leaving room for pgmq's index suffixes.
pub const MAX_QUEUE_NAME_LEN: usize = 47;

/// A validated queue name. Two constructors, two rules:
///
/// - [`QueueName::new`] (and `from_static`, `FromStr`, `TryFrom`, serde, and every
///   `&str` passed to a crate method): 1 to 47 characters of `[a-z0-9_]`, the rule for
///   **creating** queues. pgmq lowercases table names, so `Orders` and `orders` would
///   share one table, and before pgmq 1.13.1 its insert notifications never fire for
///   mixed-case names (pgmq/pgmq#593). Upper case is therefore rejected, with the
///   lowercase spelling in the error.
/// - [`QueueName::existing`]: whatever pgmq itself accepts, for queues that other
///   clients already created (`MixedCase`, `with-dash`, `dot.name`, `ümlaut`): 1 to 47
///   characters without `$`, `;`, `--` or `'`. Pass the result wherever a queue is taken.
///
/// Either way the name goes to Postgres only as a bound parameter; where SQL must name a
/// queue's table or notification channel (the dead-letter toolkit's reads, `LISTEN`), it
/// is quoted as an identifier. Every API in `diesel-pgmq` and `sea-orm-pgmq` takes a
/// `QueueName`, so an invalid name is a typed error before any SQL is built.
///
/// ```
/// use pgmq_orm_core::{QueueName, QueueNameError};
///
/// let orders = QueueName::new("orders")?;
/// assert_eq!(orders.as_str(), "orders");
/// assert_eq!(orders.table_name(), "q_orders");
///
/// let err = QueueName::new("Orders").unwrap_err();
/// assert_eq!(err, QueueNameError::UpperCase { lowercase: "orders".into() });
///
/// // Known at compile time: checked by a const fn, so a bad literal fails the build.
/// const EVENTS: QueueName = QueueName::from_static("order_events");
/// assert_eq!(EVENTS.notify_channel(), "pgmq.q_order_events.INSERT");
/// # Ok::<(), QueueNameError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct QueueName(Cow<'static, str>);

/// Why a string is not a valid [`QueueName`].
///
/// ```
/// use pgmq_orm_core::{QueueName, QueueNameError};
///
/// assert_eq!(QueueName::new(""), Err(QueueNameError::Empty));
/// assert!(matches!(QueueName::new("a;b"), Err(QueueNameError::InvalidCharacter { ch: ';', index: 1 })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueNameError {
    /// The name is empty.
    #[error("queue name is empty")]
    Empty,
    /// The name is longer than [`MAX_QUEUE_NAME_LEN`].
    #[error("queue name is {len} characters long; pgmq allows at most {max}")]
    TooLong {
        /// Length of the rejected name, in characters.
        len: usize,
        /// The limit, [`MAX_QUEUE_NAME_LEN`].
        max: usize,
    },
    /// The name contains upper-case letters, which pgmq silently lowercases.
    #[error(
        "queue name has upper-case letters, which pgmq lowercases (so names collide and insert notifications never fire); use `{lowercase}`"
    )]
    UpperCase {
        /// The same name in lower case, which would be accepted.
        lowercase: String,
    },
    /// The name contains what pgmq refuses in every queue name (checked by
    /// [`QueueName::existing`]): `$`, `;`, `--` or `'`, or a NUL, which Postgres text
    /// cannot hold.
    #[error(
        "queue name has {found:?} at position {index}; pgmq refuses $, ;, -- and ' in queue names"
    )]
    RefusedByPgmq {
        /// The refused character or sequence.
        found: String,
        /// Its position, counted in characters.
        index: usize,
    },
    /// The name contains a character outside `[a-z0-9_]`.
    #[error(
        "queue name has the character {ch:?} at position {index}; only a-z, 0-9 and _ are allowed"
    )]
    InvalidCharacter {
        /// The first offending character.
        ch: char,
        /// Its position, counted in characters.
        index: usize,
    },
}

/// What a single character means for a queue name.
const fn class(b: u8) -> Option<bool> {
    match b {
        b'a'..=b'z' | b'0'..=b'9' | b'_' => Some(true),
        b'A'..=b'Z' => Some(false),
        _ => None,
    }
}

impl QueueName {
    /// Validates `name` and wraps it.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert!(QueueName::new("orders_v2").is_ok());
    /// assert!(QueueName::new("orders-v2").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Self, QueueNameError> {
        let name = name.into();
        validate(&name)?;
        Ok(Self(Cow::Owned(name)))
    }

    /// The name of a queue that already exists, under any name pgmq accepts: 1 to 47
    /// characters, none of `$`, `;`, `--`, `'` (pgmq's own rules in
    /// `pgmq.format_table_name` and `pgmq.validate_queue_name`). Upper case, `-`, `.`,
    /// spaces and non-ASCII letters are kept as they are, for queues other clients
    /// created; create new queues with names [`QueueName::new`] accepts.
    ///
    /// pgmq stores the name as given and its tables in lower case (`q_mixedcase`); see
    /// [`table_name`](Self::table_name) and [`notify_channel`](Self::notify_channel).
    ///
    /// ```
    /// use pgmq_orm_core::{QueueName, QueueNameError};
    /// let q = QueueName::existing("MixedCase")?;
    /// assert_eq!(q.as_str(), "MixedCase");
    /// assert_eq!(q.table_name(), "q_mixedcase");
    /// assert!(QueueName::existing("with-dash").is_ok());
    /// assert!(QueueName::existing("ümlaut").is_ok());
    /// assert!(matches!(QueueName::existing("a--b"), Err(QueueNameError::RefusedByPgmq { index: 1, .. })));
    /// assert!(QueueName::existing("it's").is_err());
    /// assert!(QueueName::existing("x".repeat(48)).is_err());
    /// # Ok::<(), QueueNameError>(())
    /// ```
    pub fn existing(name: impl Into<String>) -> Result<Self, QueueNameError> {
        let name = name.into();
        validate_existing(&name)?;
        Ok(Self(Cow::Owned(name)))
    }

    /// Wraps a name known at compile time; panics (at compile time, in a `const`) when it
    /// is invalid.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// const ORDERS: QueueName = QueueName::from_static("orders");
    /// assert_eq!(ORDERS.as_str(), "orders");
    /// ```
    ///
    /// ```compile_fail
    /// # use pgmq_orm_core::QueueName;
    /// const BAD: QueueName = QueueName::from_static("Bad-Name");
    /// ```
    pub const fn from_static(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty(), "queue name is empty");
        assert!(
            bytes.len() <= MAX_QUEUE_NAME_LEN,
            "queue name is longer than 47 characters"
        );
        let mut i = 0;
        while i < bytes.len() {
            match class(bytes[i]) {
                Some(true) => {}
                Some(false) => panic!("queue name has upper-case letters; pgmq lowercases them"),
                None => panic!("queue name may only contain a-z, 0-9 and _"),
            }
            i += 1;
        }
        Self(Cow::Borrowed(name))
    }

    /// The name as given.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert_eq!(QueueName::from_static("jobs").as_str(), "jobs");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The queue's table in the `pgmq` schema, `q_<name>` in lower case, as pgmq names
    /// it (`lower('q_' || name)`). Not quoted: put it in SQL with
    /// [`quoted_table_name`](Self::quoted_table_name). For names with non-ASCII capitals
    /// (only from [`QueueName::existing`]) the lower case is Unicode's, which is the
    /// server's in UTF-8 locales.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert_eq!(QueueName::from_static("jobs").table_name(), "q_jobs");
    /// assert_eq!(QueueName::existing("Big-Jobs").unwrap().table_name(), "q_big-jobs");
    /// ```
    pub fn table_name(&self) -> String {
        format!("q_{}", self.0.to_lowercase())
    }

    /// The queue's archive table in the `pgmq` schema, `a_<name>` in lower case (see
    /// [`table_name`](Self::table_name)).
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert_eq!(QueueName::from_static("jobs").archive_table_name(), "a_jobs");
    /// ```
    pub fn archive_table_name(&self) -> String {
        format!("a_{}", self.0.to_lowercase())
    }

    /// `pgmq."q_<name>"`: the queue's table as a quoted, schema-qualified identifier,
    /// safe to put in SQL whatever the name holds.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert_eq!(QueueName::existing("Dot.Name").unwrap().quoted_table_name(), r#"pgmq."q_dot.name""#);
    /// ```
    pub fn quoted_table_name(&self) -> String {
        format!("pgmq.{}", quote_identifier(&self.table_name()))
    }

    /// The channel pgmq notifies after an insert once `pgmq.enable_notify_insert` is on:
    /// `pgmq.q_<name>.INSERT` with the name **as given**, case kept. That is pgmq
    /// 1.13.1's channel for every name; pgmq 1.13.0 and older notify on the lower-cased
    /// table's name, which is the same for every name without capitals (and never notify
    /// for names with capitals, pgmq/pgmq#593). `LISTEN` must quote it exactly (see
    /// `consumer::listen_sql`).
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert_eq!(QueueName::from_static("jobs").notify_channel(), "pgmq.q_jobs.INSERT");
    /// assert_eq!(QueueName::existing("MixedCase").unwrap().notify_channel(), "pgmq.q_MixedCase.INSERT");
    /// ```
    pub fn notify_channel(&self) -> String {
        format!("pgmq.q_{}.INSERT", self.0)
    }
}

/// `ident` as a quoted SQL identifier: in double quotes, inner double quotes doubled.
pub(crate) fn quote_identifier(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// pgmq's own rules (`pgmq.validate_queue_name`, `pgmq.format_table_name`): 1 to 47
/// characters, none of `$`, `;`, `--`, `'`; and no NUL, which Postgres text cannot hold.
fn validate_existing(name: &str) -> Result<(), QueueNameError> {
    if name.is_empty() {
        return Err(QueueNameError::Empty);
    }
    let chars: Vec<char> = name.chars().collect();
    for (index, &ch) in chars.iter().enumerate() {
        let found = match ch {
            '$' | ';' | '\'' | '\0' => ch.to_string(),
            '-' if chars.get(index + 1) == Some(&'-') => "--".to_owned(),
            _ => continue,
        };
        return Err(QueueNameError::RefusedByPgmq { found, index });
    }
    if chars.len() > MAX_QUEUE_NAME_LEN {
        return Err(QueueNameError::TooLong {
            len: chars.len(),
            max: MAX_QUEUE_NAME_LEN,
        });
    }
    Ok(())
}

fn validate(name: &str) -> Result<(), QueueNameError> {
    if name.is_empty() {
        return Err(QueueNameError::Empty);
    }
    let mut upper = false;
    for (index, ch) in name.chars().enumerate() {
        match u8::try_from(ch).ok().and_then(class) {
            Some(true) => {}
            Some(false) => upper = true,
            None => return Err(QueueNameError::InvalidCharacter { ch, index }),
        }
    }
    if upper {
        return Err(QueueNameError::UpperCase {
            lowercase: name.to_ascii_lowercase(),
        });
    }
    if name.len() > MAX_QUEUE_NAME_LEN {
        return Err(QueueNameError::TooLong {
            len: name.len(),
            max: MAX_QUEUE_NAME_LEN,
        });
    }
    Ok(())
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for QueueName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for QueueName {
    type Err = QueueNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for QueueName {
    type Error = QueueNameError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for QueueName {
    type Error = QueueNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<&String> for QueueName {
    type Error = QueueNameError;
    fn try_from(s: &String) -> Result<Self, Self::Error> {
        Self::new(s.as_str())
    }
}

impl From<&Self> for QueueName {
    fn from(q: &Self) -> Self {
        q.clone()
    }
}

/// Anything that names a queue: a [`QueueName`] (already valid) or a string (validated
/// on conversion). The connection-level methods of both ORM crates take this, so
/// `conn.send("orders", &event)` works and a bad name fails before any SQL is built.
///
/// ```
/// use pgmq_orm_core::{IntoQueueName, QueueName, QueueNameError};
///
/// fn table(q: impl IntoQueueName) -> Result<String, QueueNameError> {
///     Ok(q.into_queue_name()?.table_name())
/// }
/// assert_eq!(table("orders")?, "q_orders");
/// assert_eq!(table(&QueueName::from_static("jobs"))?, "q_jobs");
/// assert!(table("Bad").is_err());
/// # Ok::<(), QueueNameError>(())
/// ```
pub trait IntoQueueName {
    /// Validates (if needed) and returns the queue name.
    fn into_queue_name(self) -> Result<QueueName, QueueNameError>;
}

impl IntoQueueName for QueueName {
    fn into_queue_name(self) -> Result<QueueName, QueueNameError> {
        Ok(self)
    }
}

impl IntoQueueName for &QueueName {
    fn into_queue_name(self) -> Result<QueueName, QueueNameError> {
        Ok(self.clone())
    }
}

impl IntoQueueName for &str {
    fn into_queue_name(self) -> Result<QueueName, QueueNameError> {
        QueueName::new(self)
    }
}

impl IntoQueueName for String {
    fn into_queue_name(self) -> Result<QueueName, QueueNameError> {
        QueueName::new(self)
    }
}

impl IntoQueueName for &String {
    fn into_queue_name(self) -> Result<QueueName, QueueNameError> {
        QueueName::new(self.as_str())
    }
}

impl<'de> Deserialize<'de> for QueueName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// `true` when `table` is `prefix` followed by `queue`. A `const fn`, so that the table
/// macros of `diesel-pgmq` (`pgmq_tables!`) and `sea-orm-pgmq` (`pgmq_entities!`) can check
/// the table names their user spells out against the queue name at compile time.
#[doc(hidden)]
pub const fn __table_matches(table: &str, prefix: &str, queue: &str) -> bool {
    let (t, p, q) = (table.as_bytes(), prefix.as_bytes(), queue.as_bytes());
    if t.len() != p.len() + q.len() {
        return false;
    }
    let mut i = 0;
    while i < t.len() {
        let expected = if i < p.len() { p[i] } else { q[i - p.len()] };
        if t[i] != expected {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_matches_needs_prefix_then_queue() {
        assert!(super::__table_matches("q_orders", "q_", "orders"));
        assert!(!super::__table_matches("q_order", "q_", "orders"));
        assert!(!super::__table_matches("a_orders", "q_", "orders"));
        assert!(!super::__table_matches("q_ordersx", "q_", "orders"));
    }

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_name_of_allowed_characters_and_length_is_accepted(name in "[a-z0-9_]{1,47}") {
            let q = QueueName::new(name.clone()).unwrap();
            prop_assert_eq!(q.as_str(), name.as_str());
        }

        #[test]
        fn names_over_the_limit_are_too_long(name in "[a-z0-9_]{48,200}") {
            prop_assert_eq!(
                QueueName::new(name.clone()),
                Err(QueueNameError::TooLong { len: name.len(), max: MAX_QUEUE_NAME_LEN })
            );
        }

        #[test]
        fn upper_case_is_rejected_with_the_lowercase_form(name in "[a-z0-9_]{0,20}[A-Z][a-zA-Z0-9_]{0,20}") {
            prop_assert_eq!(
                QueueName::new(name.clone()),
                Err(QueueNameError::UpperCase { lowercase: name.to_ascii_lowercase() })
            );
        }

        #[test]
        fn any_other_character_is_rejected_and_located(
            prefix in "[a-z0-9_]{0,10}",
            bad in any::<char>().prop_filter("not allowed", |c| !(c.is_ascii_alphanumeric() || *c == '_')),
            suffix in ".{0,10}",
        ) {
            let name = format!("{prefix}{bad}{suffix}");
            prop_assert_eq!(
                QueueName::new(name),
                Err(QueueNameError::InvalidCharacter { ch: bad, index: prefix.chars().count() })
            );
        }

        #[test]
        fn validation_never_panics_and_accepts_only_the_documented_set(name in ".{0,60}") {
            let ok = !name.is_empty()
                && name.len() <= MAX_QUEUE_NAME_LEN
                && name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
            prop_assert_eq!(QueueName::new(name).is_ok(), ok);
        }
    }

    #[test]
    fn sql_looking_names_are_rejected() {
        for name in [
            "orders'; drop table x; --",
            "q\"x",
            "a b",
            "queue;",
            "ordérs",
            "日本",
        ] {
            assert!(
                matches!(
                    QueueName::new(name),
                    Err(QueueNameError::InvalidCharacter { .. })
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn existing_accepts_what_pgmq_accepts_and_refuses_the_rest() {
        for name in [
            "MixedCase",
            "with-dash",
            "dot.name",
            "ümlaut",
            "a b",
            "q\"x",
            "orders",
        ] {
            let q = QueueName::existing(name).unwrap();
            assert_eq!(q.as_str(), name);
        }
        for (name, found, index) in [
            ("a$b", "$", 1),
            ("x;", ";", 1),
            ("it's", "'", 2),
            ("a--b", "--", 1),
            ("nul\0", "\0", 3),
        ] {
            assert_eq!(
                QueueName::existing(name),
                Err(QueueNameError::RefusedByPgmq {
                    found: found.into(),
                    index
                }),
                "{name}"
            );
        }
        assert_eq!(QueueName::existing(""), Err(QueueNameError::Empty));
        // Characters, not bytes, as pgmq's `length()`.
        assert!(QueueName::existing("ü".repeat(47)).is_ok());
        assert!(matches!(
            QueueName::existing("ü".repeat(48)),
            Err(QueueNameError::TooLong { len: 48, .. })
        ));
        let q = QueueName::existing("We\"ird").unwrap();
        assert_eq!(q.quoted_table_name(), "pgmq.\"q_we\"\"ird\"");
    }

    #[test]
    fn deserializing_validates() {
        let ok: QueueName = serde_json::from_str("\"orders\"").unwrap();
        assert_eq!(ok.as_str(), "orders");
        let err = serde_json::from_str::<QueueName>("\"Orders\"").unwrap_err();
        assert!(err.to_string().contains("use `orders`"), "{err}");
    }
}
