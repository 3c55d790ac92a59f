//! The ORM-independent half of the dead-letter toolkits: the SQL that looks at a
//! dead-letter queue without consuming it, and the plan for moving messages back.
//!
//! Listing reads the queue's table (`pgmq.q_<name>`) directly rather than through
//! `pgmq.read`, so looking neither hides messages nor bumps their `read_ct`. The table
//! name comes from a validated [`QueueName`] (pgmq lowercases it) and is quoted; every value is a bound `$n`
//! parameter.

use serde_json::Value;

use crate::sql::columns;
use crate::{Error, IntoQueueName, QueueName, RawMessage};

use super::{DeadLetterInfo, requeue_headers};

fn select_from(dlq: &QueueName) -> String {
    format!(
        "SELECT {} FROM {}",
        columns::MESSAGE.join(", "),
        dlq.quoted_table_name()
    )
}

/// A page of a dead-letter queue: messages with `msg_id > $1`, oldest first, at most
/// `$2` (a `bigint`) of them.
///
/// ```
/// use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
/// let sql = dead_letter_sql::list(&QueueName::new("jobs_dlq").unwrap());
/// assert!(sql.contains(r#"FROM pgmq."q_jobs_dlq" WHERE msg_id > $1 ORDER BY msg_id LIMIT $2"#));
/// ```
pub mod dead_letter_sql {
    use super::{QueueName, select_from};

    /// See the [module](self): `msg_id > $1`, `LIMIT $2`.
    ///
    /// ```
    /// # use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
    /// assert!(dead_letter_sql::list(&QueueName::new("d").unwrap()).starts_with("SELECT msg_id, read_ct"));
    /// ```
    pub fn list(dlq: &QueueName) -> String {
        format!(
            "{} WHERE msg_id > $1 ORDER BY msg_id LIMIT $2",
            select_from(dlq)
        )
    }

    /// One message by id (`$1`).
    ///
    /// ```
    /// # use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
    /// assert!(dead_letter_sql::get(&QueueName::new("d").unwrap()).ends_with("WHERE msg_id = $1"));
    /// ```
    pub fn get(dlq: &QueueName) -> String {
        format!("{} WHERE msg_id = $1", select_from(dlq))
    }

    /// The messages whose ids are in `$1` (a `bigint[]`), oldest first, locked for the
    /// move (`FOR UPDATE`).
    ///
    /// ```
    /// # use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
    /// assert!(dead_letter_sql::lock_ids(&QueueName::new("d").unwrap()).contains("msg_id = ANY($1)"));
    /// ```
    pub fn lock_ids(dlq: &QueueName) -> String {
        format!(
            "{} WHERE msg_id = ANY($1) ORDER BY msg_id FOR UPDATE",
            select_from(dlq)
        )
    }

    /// Every message, oldest first, locked for the move; no parameters.
    ///
    /// ```
    /// # use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
    /// assert!(dead_letter_sql::lock_all(&QueueName::new("d").unwrap()).ends_with("ORDER BY msg_id FOR UPDATE"));
    /// ```
    pub fn lock_all(dlq: &QueueName) -> String {
        format!("{} ORDER BY msg_id FOR UPDATE", select_from(dlq))
    }
}

/// One dead-letter queue, and where its messages go back to: the recorded source queue
/// of each, or one named queue. The ORM crates' `DeadLetterOps` traits run the toolkit
/// (list, inspect, requeue) on it.
///
/// ```
/// use pgmq_orm_core::consumer::DeadLetters;
/// let dlq = DeadLetters::new("jobs_dlq")?.requeue_to("jobs_retry")?;
/// assert_eq!((dlq.queue().as_str(), dlq.target().unwrap().as_str()), ("jobs_dlq", "jobs_retry"));
/// assert!(DeadLetters::new("Bad Name").is_err());
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetters {
    dlq: QueueName,
    target: Option<QueueName>,
}

impl DeadLetters {
    /// The dead-letter queue `dlq`; messages go back to the queue recorded in their
    /// failure record.
    ///
    /// ```
    /// assert!(pgmq_orm_core::consumer::DeadLetters::new("jobs_dlq")?.target().is_none());
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn new(dlq: impl IntoQueueName) -> Result<Self, Error> {
        Ok(Self {
            dlq: dlq.into_queue_name()?,
            target: None,
        })
    }

    /// Sends moved messages to `queue` instead of their recorded source queue (also the
    /// way to move messages that carry no failure record).
    ///
    /// ```
    /// let d = pgmq_orm_core::consumer::DeadLetters::new("jobs_dlq")?.requeue_to("jobs")?;
    /// assert_eq!(d.target().unwrap().as_str(), "jobs");
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn requeue_to(mut self, queue: impl IntoQueueName) -> Result<Self, Error> {
        self.target = Some(queue.into_queue_name()?);
        Ok(self)
    }

    /// The dead-letter queue.
    ///
    /// ```
    /// assert_eq!(pgmq_orm_core::consumer::DeadLetters::new("d")?.queue().as_str(), "d");
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn queue(&self) -> &QueueName {
        &self.dlq
    }

    /// The queue every message goes back to, if one was named.
    ///
    /// ```
    /// assert!(pgmq_orm_core::consumer::DeadLetters::new("d")?.target().is_none());
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn target(&self) -> Option<&QueueName> {
        self.target.as_ref()
    }

    /// [`plan_requeue`] with this toolkit's target.
    ///
    /// ```
    /// # use pgmq_orm_core::{RawMessage, consumer::DeadLetters};
    /// let raw = RawMessage { msg_id: 1, read_ct: 0, enqueued_at: chrono::Utc::now(), last_read_at: None,
    ///     vt: chrono::Utc::now(), message: serde_json::json!(1), headers: None };
    /// let plan = DeadLetters::new("d")?.requeue_to("jobs")?.plan(vec![raw])?;
    /// assert_eq!(plan[0].queue.as_str(), "jobs");
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn plan(&self, rows: Vec<RawMessage>) -> Result<Vec<RequeueBatch>, Error> {
        plan_requeue(rows, self.target.as_ref())
    }
}

/// Consecutive dead letters going back to the same queue with the same header shape: one
/// `pgmq.send_batch` (with headers, or without when none of them had any) and one
/// `pgmq.delete` of their ids in the dead-letter queue.
///
/// ```
/// # use pgmq_orm_core::consumer::RequeueBatch;
/// fn sends(b: &RequeueBatch) -> usize { b.messages.len() }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RequeueBatch {
    /// Where the messages go.
    pub queue: QueueName,
    /// Their payloads, in dead-letter order.
    pub messages: Vec<Value>,
    /// Their original headers (the failure record removed); `None` when none had any.
    pub headers: Option<Vec<Value>>,
    /// Their ids in the dead-letter queue, to delete once sent.
    pub dead_ids: Vec<i64>,
}

/// A message moved back: its id in the dead-letter queue, and where it is now.
///
/// ```
/// # use pgmq_orm_core::consumer::Requeued;
/// fn new_id(r: &Requeued) -> i64 { r.msg_id }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeued {
    /// Its id in the dead-letter queue (now deleted).
    pub dead_msg_id: i64,
    /// The queue it was sent to.
    pub queue: QueueName,
    /// Its new id there.
    pub msg_id: i64,
}

/// Plans moving `rows` (read from a dead-letter queue) back: each to `target` if given,
/// else to the source queue named in its failure record, with the failure record
/// stripped from its headers. Order is kept. A message without a usable source queue
/// and no `target` is an [`Error::InvalidArgument`], so the whole move is refused and
/// nothing is lost.
///
/// ```
/// use pgmq_orm_core::{QueueName, RawMessage};
/// use pgmq_orm_core::consumer::{dead_letter_headers, plan_requeue};
/// let jobs = QueueName::new("jobs").unwrap();
/// let failed = RawMessage { msg_id: 7, read_ct: 3, enqueued_at: chrono::Utc::now(), last_read_at: None,
///     vt: chrono::Utc::now(), message: serde_json::json!(1), headers: None };
/// let dead = RawMessage { msg_id: 1, headers: Some(dead_letter_headers(&failed, &jobs, "boom")), ..failed };
/// let plan = plan_requeue(vec![dead], None)?;
/// assert_eq!((plan[0].queue.as_str(), plan[0].dead_ids.as_slice(), plan[0].headers.is_none()), ("jobs", &[1][..], true));
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
pub fn plan_requeue(
    rows: Vec<RawMessage>,
    target: Option<&QueueName>,
) -> Result<Vec<RequeueBatch>, Error> {
    let mut batches: Vec<RequeueBatch> = Vec::new();
    for row in rows {
        let queue = match target {
            Some(q) => q.clone(),
            None => source_queue(&row)?,
        };
        let headers = requeue_headers(row.headers.as_ref());
        let fits = batches
            .last()
            .is_some_and(|b| b.queue == queue && b.headers.is_some() == headers.is_some());
        if !fits {
            batches.push(RequeueBatch {
                queue,
                messages: Vec::new(),
                headers: headers.is_some().then(Vec::new),
                dead_ids: Vec::new(),
            });
        }
        let batch = batches.last_mut().expect("just ensured");
        batch.messages.push(row.message);
        if let (Some(all), Some(h)) = (batch.headers.as_mut(), headers) {
            all.push(h);
        }
        batch.dead_ids.push(row.msg_id);
    }
    Ok(batches)
}

/// Pairs a batch with the ids its send returned, checking that every message was sent
/// and every dead letter deleted (`deleted`), so a partial move is an error (and rolled
/// back by the caller's transaction) rather than a silent loss or duplicate.
///
/// ```
/// # use pgmq_orm_core::{QueueName, consumer::{RequeueBatch, requeued}};
/// let b = RequeueBatch { queue: QueueName::new("jobs").unwrap(), messages: vec![1.into()], headers: None, dead_ids: vec![4] };
/// assert_eq!(requeued(&b, &[9], &[4])?[0].msg_id, 9);
/// assert!(requeued(&b, &[9], &[]).is_err());
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
pub fn requeued(
    batch: &RequeueBatch,
    sent: &[i64],
    deleted: &[i64],
) -> Result<Vec<Requeued>, Error> {
    let mut gone = deleted.to_vec();
    gone.sort_unstable();
    let mut wanted = batch.dead_ids.clone();
    wanted.sort_unstable();
    if sent.len() != batch.dead_ids.len() || gone != wanted {
        return Err(Error::InvalidArgument(format!(
            "moving {} dead letters to {}: {} sent, {} deleted; rolled back",
            batch.dead_ids.len(),
            batch.queue,
            sent.len(),
            deleted.len()
        )));
    }
    Ok(batch
        .dead_ids
        .iter()
        .zip(sent)
        .map(|(&dead_msg_id, &msg_id)| Requeued {
            dead_msg_id,
            queue: batch.queue.clone(),
            msg_id,
        })
        .collect())
}

fn source_queue(row: &RawMessage) -> Result<QueueName, Error> {
    let info = DeadLetterInfo::from_headers(row.headers.as_ref()).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "dead letter {} has no failure record naming its source queue; requeue it to a named queue",
            row.msg_id
        ))
    })?;
    // The source may be a queue another client created: pgmq's rules, not ours.
    Ok(QueueName::existing(info.source_queue)?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::consumer::dead_letter_headers;

    fn failed(id: i64, headers: Option<Value>) -> RawMessage {
        RawMessage {
            msg_id: id,
            read_ct: 3,
            enqueued_at: chrono::Utc::now(),
            last_read_at: None,
            vt: chrono::Utc::now(),
            message: json!(id),
            headers,
        }
    }

    fn dead(id: i64, source: &str, original: Option<Value>) -> RawMessage {
        let q = QueueName::new(source).unwrap();
        let h = dead_letter_headers(&failed(100 + id, original), &q, "e");
        failed(id, Some(h))
    }

    #[test]
    fn runs_split_on_queue_and_header_shape_and_keep_order() {
        let rows = vec![
            dead(1, "a", None),
            dead(2, "a", None),
            dead(3, "a", Some(json!({"k": 1}))),
            dead(4, "b", Some(json!({"k": 2}))),
            dead(5, "a", None),
        ];
        let plan = plan_requeue(rows, None).unwrap();
        let shape: Vec<_> = plan
            .iter()
            .map(|b| (b.queue.as_str(), b.dead_ids.clone(), b.headers.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a", vec![1, 2], None),
                ("a", vec![3], Some(vec![json!({"k": 1})])),
                ("b", vec![4], Some(vec![json!({"k": 2})])),
                ("a", vec![5], None),
            ]
        );
        assert_eq!(plan[0].messages, vec![json!(1), json!(2)]);
    }

    #[test]
    fn a_target_overrides_the_recorded_source() {
        let t = QueueName::new("elsewhere").unwrap();
        let plan = plan_requeue(vec![dead(1, "a", None), dead(2, "b", None)], Some(&t)).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].queue, t);
    }

    #[test]
    fn a_message_without_a_record_needs_a_target() {
        let e = plan_requeue(vec![dead(1, "a", None), failed(2, None)], None).unwrap_err();
        assert!(e.to_string().contains("dead letter 2"), "{e}");
        let t = QueueName::new("t").unwrap();
        assert_eq!(
            plan_requeue(vec![failed(2, None)], Some(&t)).unwrap().len(),
            1
        );
    }

    #[test]
    fn an_invalid_recorded_source_is_refused() {
        let mut row = dead(1, "a", None);
        row.headers.as_mut().unwrap()["x-pgmq-dead-letter"]["source_queue"] = json!("A; DROP");
        assert!(plan_requeue(vec![row], None).is_err());
    }
}
