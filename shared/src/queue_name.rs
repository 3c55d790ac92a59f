//! Validated queue names.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// The longest queue name pgmq accepts: its tables are `q_<name>` and `a_<name>`, and
/// Postgres identifiers stop at 63 bytes, leaving room for pgmq's index suffixes.
pub const MAX_QUEUE_NAME_LEN: usize = 47;

/// A queue name that pgmq will accept unchanged: 1 to 47 characters of `[a-z0-9_]`.
///
/// pgmq lowercases table names, so `Orders` and `orders` would share one table, and its
/// insert notifications never fire for mixed-case names (pgmq/pgmq#593). Upper case is
/// therefore rejected, with the lowercase spelling in the error. Every API in
/// `diesel-pgmq` and `sea-orm-pgmq` takes a `QueueName`, so an invalid name is a typed
/// error before any SQL is built.
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

    /// The queue's table in the `pgmq` schema, `q_<name>`.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert_eq!(QueueName::from_static("jobs").table_name(), "q_jobs");
    /// ```
    pub fn table_name(&self) -> String {
        format!("q_{}", self.0)
    }

    /// The queue's archive table in the `pgmq` schema, `a_<name>`.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert_eq!(QueueName::from_static("jobs").archive_table_name(), "a_jobs");
    /// ```
    pub fn archive_table_name(&self) -> String {
        format!("a_{}", self.0)
    }

    /// The channel pgmq notifies after an insert once `pgmq.enable_notify_insert` is on.
    ///
    /// ```
    /// # use pgmq_orm_core::QueueName;
    /// assert_eq!(QueueName::from_static("jobs").notify_channel(), "pgmq.q_jobs.INSERT");
    /// ```
    pub fn notify_channel(&self) -> String {
        format!("pgmq.q_{}.INSERT", self.0)
    }
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
    fn deserializing_validates() {
        let ok: QueueName = serde_json::from_str("\"orders\"").unwrap();
        assert_eq!(ok.as_str(), "orders");
        let err = serde_json::from_str::<QueueName>("\"Orders\"").unwrap_err();
        assert!(err.to_string().contains("use `orders`"), "{err}");
    }
}
