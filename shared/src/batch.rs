//! What a read returns: every message that decoded, and every one that did not, kept
//! apart so one bad message never hides the others.

use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{DecodeError, Error};
use crate::message::{Message, RawJsonMessage, decode_parts};

/// The result of a read or pop: the messages that decoded into their types, in the order
/// pgmq returned them, and apart from them the ones that did not ([`Batch::undecodable`]).
///
/// A message that does not decode (another service's shape, a SQL `NULL` payload, a
/// number no `f64` holds read as a [`Value`]) never fails the read and never hides the
/// rest of its batch. It comes back as a [`DecodeError`] carrying its msg_id, read count
/// and the exact JSON text pgmq stored, and the caller decides: delete, archive, move it
/// to a dead-letter queue, or leave it to reappear after its visibility timeout.
///
/// The simple path stays simple: a `Batch` derefs to the decoded messages and iterates
/// over them. A batch dropped with undecodable messages nobody looked at logs each at
/// `warn` level (msg_id and error, not the payload), so they are never silent.
///
/// ```
/// use pgmq_orm_core::{Batch, Message, RawJson, RawJsonMessage};
/// # use chrono::Utc;
/// # let raw = |id, text: &str| RawJsonMessage { msg_id: id, read_ct: 1, enqueued_at: Utc::now(),
/// #     last_read_at: None, vt: Utc::now(), message: RawJson::from_text(text.into()), headers: None };
/// let mut batch: Batch<Message<u32>> = Batch::decode(vec![raw(1, "7"), raw(2, r#""seven""#), raw(3, "8")]);
/// assert_eq!(batch.iter().map(|m| m.message).collect::<Vec<_>>(), [7, 8]);
/// let bad = batch.take_undecodable();
/// assert_eq!((bad[0].msg_id, bad[0].message.as_bytes()), (2, &br#""seven""#[..]));
/// for msg in batch {
///     assert!(msg.message >= 7);
/// }
/// ```
#[derive(Debug)]
#[must_use = "a batch may hold undecodable messages; see `undecodable()`"]
pub struct Batch<I> {
    decoded: Vec<I>,
    undecodable: Vec<DecodeError>,
}

/// A [`Batch`] of [`Message`]s: what the typed reads of both ORM crates return.
pub type Messages<T = Value, H = Value> = Batch<Message<T, H>>;

impl<I> Batch<I> {
    /// A batch from already separated parts.
    ///
    /// ```
    /// # use pgmq_orm_core::Batch;
    /// let b = Batch::from_parts(vec![1, 2], vec![]);
    /// assert_eq!(b.len(), 2);
    /// ```
    pub fn from_parts(decoded: Vec<I>, undecodable: Vec<DecodeError>) -> Self {
        Self {
            decoded,
            undecodable,
        }
    }

    /// The messages that did not decode, with their raw text and the reason.
    ///
    /// ```
    /// # use pgmq_orm_core::Batch;
    /// assert!(Batch::<u8>::from_parts(vec![1], vec![]).undecodable().is_empty());
    /// ```
    pub fn undecodable(&self) -> &[DecodeError] {
        &self.undecodable
    }

    /// Takes the undecodable messages out (the batch then drops without a warning).
    ///
    /// ```
    /// # use pgmq_orm_core::Batch;
    /// let mut b = Batch::<u8>::from_parts(vec![], vec![]);
    /// assert!(b.take_undecodable().is_empty());
    /// ```
    pub fn take_undecodable(&mut self) -> Vec<DecodeError> {
        std::mem::take(&mut self.undecodable)
    }

    /// Both halves: the decoded messages and the undecodable ones.
    ///
    /// ```
    /// # use pgmq_orm_core::Batch;
    /// let (ok, bad) = Batch::from_parts(vec![1u8], vec![]).into_parts();
    /// assert_eq!((ok, bad.len()), (vec![1], 0));
    /// ```
    pub fn into_parts(mut self) -> (Vec<I>, Vec<DecodeError>) {
        let undecodable = self.take_undecodable();
        (std::mem::take(&mut self.decoded), undecodable)
    }

    /// The decoded messages, or the first undecodable one as [`Error::Decode`]: for a
    /// caller that treats any foreign message as a failure. The other undecodable
    /// messages are logged, as when a batch is dropped.
    ///
    /// ```
    /// # use pgmq_orm_core::{Batch, Error};
    /// assert_eq!(Batch::<u8>::from_parts(vec![3], vec![]).strict()?, vec![3]);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn strict(mut self) -> Result<Vec<I>, Error> {
        let mut bad = self.take_undecodable().into_iter();
        match bad.next() {
            None => Ok(std::mem::take(&mut self.decoded)),
            Some(first) => {
                warn_unexamined(bad.as_slice());
                Err(Error::Decode(Box::new(first)))
            }
        }
    }

    /// The decoded messages as a `Vec`, leaving undecodable ones to the drop warning.
    ///
    /// ```
    /// # use pgmq_orm_core::Batch;
    /// assert_eq!(Batch::from_parts(vec!['a'], vec![]).into_vec(), vec!['a']);
    /// ```
    pub fn into_vec(mut self) -> Vec<I> {
        std::mem::take(&mut self.decoded)
    }

    /// A batch of the same messages with `f` applied to each decoded one.
    ///
    /// ```
    /// # use pgmq_orm_core::Batch;
    /// assert_eq!(Batch::from_parts(vec![1, 2], vec![]).map(|n| n * 10).into_vec(), [10, 20]);
    /// ```
    pub fn map<J>(mut self, f: impl FnMut(I) -> J) -> Batch<J> {
        let undecodable = self.take_undecodable();
        Batch {
            decoded: std::mem::take(&mut self.decoded)
                .into_iter()
                .map(f)
                .collect(),
            undecodable,
        }
    }
}

impl<T: DeserializeOwned, H: DeserializeOwned> Messages<T, H> {
    /// Decodes every row on its own: the ones that decode go in order to the batch, the
    /// others to [`undecodable`](Batch::undecodable). What every ORM read path calls.
    ///
    /// ```
    /// # use pgmq_orm_core::{Messages, RawJson, RawJsonMessage};
    /// # use chrono::Utc;
    /// let sql_null = RawJsonMessage { msg_id: 4, read_ct: 1, enqueued_at: Utc::now(), last_read_at: None,
    ///     vt: Utc::now(), message: RawJson::sql_null(), headers: None };
    /// let batch: Messages = Messages::decode(vec![sql_null]);
    /// assert!(batch.is_empty());
    /// assert_eq!(batch.undecodable()[0].msg_id, 4);
    /// # let _ = batch.into_parts();
    /// ```
    pub fn decode(rows: Vec<RawJsonMessage>) -> Self {
        rows.into_iter().map(|row| decode_parts(&row)).collect()
    }
}

/// A batch from per-message decode results, in order: what every decode routine of a
/// batch (messages, dead letters) collects into.
impl<I> FromIterator<Result<I, Box<DecodeError>>> for Batch<I> {
    fn from_iter<R: IntoIterator<Item = Result<I, Box<DecodeError>>>>(results: R) -> Self {
        let mut decoded = Vec::new();
        let mut undecodable = Vec::new();
        for result in results {
            match result {
                Ok(item) => decoded.push(item),
                Err(e) => undecodable.push(*e),
            }
        }
        Self {
            decoded,
            undecodable,
        }
    }
}

/// Equal when the decoded messages are equal and the undecodable ones are the same
/// messages with the same text (serde's errors are not compared).
impl<I: PartialEq> PartialEq for Batch<I> {
    fn eq(&self, other: &Self) -> bool {
        let key = |e: &DecodeError| (e.msg_id, e.part, e.message.clone(), e.headers.clone());
        self.decoded == other.decoded
            && self
                .undecodable
                .iter()
                .map(key)
                .eq(other.undecodable.iter().map(key))
    }
}

impl<I> Deref for Batch<I> {
    type Target = [I];

    fn deref(&self) -> &[I] {
        &self.decoded
    }
}

impl<I> std::ops::DerefMut for Batch<I> {
    fn deref_mut(&mut self) -> &mut [I] {
        &mut self.decoded
    }
}

impl<I> IntoIterator for Batch<I> {
    type Item = I;
    type IntoIter = std::vec::IntoIter<I>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<'a, I> IntoIterator for &'a Batch<I> {
    type Item = &'a I;
    type IntoIter = std::slice::Iter<'a, I>;

    fn into_iter(self) -> Self::IntoIter {
        self.decoded.iter()
    }
}

impl<I> Drop for Batch<I> {
    fn drop(&mut self) {
        warn_unexamined(&self.undecodable);
    }
}

fn warn_unexamined(undecodable: &[DecodeError]) {
    for e in undecodable {
        tracing::warn!(
            msg_id = e.msg_id,
            read_ct = e.read_ct,
            error = %e,
            "an undecodable pgmq message was dropped unexamined; it stays in its queue unless it was popped"
        );
    }
}
