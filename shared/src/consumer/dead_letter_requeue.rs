//! The ORM-independent half of the dead-letter toolkits and of the consumer's move: the
//! SQL that looks at a dead-letter queue without consuming it, the statements that move
//! messages there and back, and the plan for moving them back.
//!
//! Listing reads the queue's table (`pgmq.q_<name>`) directly rather than through
//! `pgmq.read`, so looking neither hides messages nor bumps their `read_ct`. Moves copy
//! payload and headers inside the server (`DELETE ... RETURNING` feeding `pgmq.send`), so
//! a payload is never parsed on the way and arrives byte for byte as it was stored: big
//! integers, numbers beyond `f64` and any depth included. The table name comes from a
//! validated [`QueueName`] (lower-cased, as pgmq names tables) and is quoted; every value is
//! a bound `$n` parameter.

use crate::sql::columns;
use crate::{Error, IntoQueueName, QueueName};

use super::DEAD_LETTER_HEADER;

fn sources_from(dlq: &QueueName) -> String {
    format!(
        "SELECT msg_id, headers->'{DEAD_LETTER_HEADER}'->>'source_queue' AS source_queue FROM {}",
        dlq.quoted_table_name()
    )
}

/// The message columns of `dlq`'s table, payload and headers as JSON text (`::text`), so
/// a row loads whatever its JSON holds and is decoded on its own.
fn select_from(dlq: &QueueName) -> String {
    let cols: Vec<String> = columns::MESSAGE
        .iter()
        .map(|c| match *c {
            "message" | "headers" => format!("{c}::text AS {c}"),
            c => c.to_owned(),
        })
        .collect();
    format!(
        "SELECT {} FROM {}",
        cols.join(", "),
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
    use super::{QueueName, select_from, sources_from};

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

    /// The consumer's dead-letter move out of `source`: deletes message `$1` (a
    /// `bigint`) and, if it was still there, sends its payload to queue `$2` (`text`) with
    /// its original headers' keys plus the failure record `$3` (`jsonb`, from
    /// [`failure_record`](crate::consumer::failure_record)) under
    /// [`DEAD_LETTER_HEADER`](crate::consumer::DEAD_LETTER_HEADER), which also keeps the
    /// original headers exactly. One statement: atomic, and nothing is parsed on the way.
    /// Returns the copy's msg_id, or no row when the message was gone.
    ///
    /// ```
    /// # use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
    /// let sql = dead_letter_sql::move_to_queue(&QueueName::new("jobs").unwrap());
    /// assert!(sql.contains(r#"DELETE FROM pgmq."q_jobs" WHERE msg_id = $1::bigint"#));
    /// ```
    pub fn move_to_queue(source: &QueueName) -> String {
        format!(
            "WITH moved AS (DELETE FROM {table} WHERE msg_id = $1::bigint \
             RETURNING message, headers) \
             SELECT pgmq.send($2::text, moved.message, \
             (CASE WHEN jsonb_typeof(moved.headers) = 'object' THEN moved.headers ELSE '{{}}'::jsonb END) \
             || jsonb_build_object('{header}', $3::jsonb || jsonb_build_object('headers', moved.headers)), \
             0) AS msg_id FROM moved",
            table = source.quoted_table_name(),
            header = super::DEAD_LETTER_HEADER,
        )
    }

    /// The messages of `dlq` whose ids are in `$1` (a `bigint[]`), locked for a move back
    /// (`FOR UPDATE`), oldest first: only `msg_id` and the recorded `source_queue` (text,
    /// `NULL` without a record), so no payload is parsed to plan the move.
    ///
    /// ```
    /// # use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
    /// assert!(dead_letter_sql::lock_sources(&QueueName::new("d").unwrap()).contains("msg_id = ANY($1)"));
    /// ```
    pub fn lock_sources(dlq: &QueueName) -> String {
        format!(
            "{} WHERE msg_id = ANY($1) ORDER BY msg_id FOR UPDATE",
            sources_from(dlq)
        )
    }

    /// [`lock_sources`] for every message of `dlq`; no parameters.
    ///
    /// ```
    /// # use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
    /// assert!(dead_letter_sql::lock_all_sources(&QueueName::new("d").unwrap()).ends_with("FOR UPDATE"));
    /// ```
    pub fn lock_all_sources(dlq: &QueueName) -> String {
        format!("{} ORDER BY msg_id FOR UPDATE", sources_from(dlq))
    }

    /// Moves the messages `$1` (a `bigint[]`) of `dlq` to queue `$2` (`text`) in one
    /// statement, in msg_id order: payloads copied as stored, headers restored to exactly
    /// what they were before the dead-letter move (the record's `"headers"`; for an older
    /// record without it, the headers less the record; unchanged without a record).
    /// Returns one row, `dead` (the ids deleted) and `sent` (the new ids, in the same
    /// order), or no row if none was there.
    ///
    /// ```
    /// # use pgmq_orm_core::{QueueName, consumer::dead_letter_sql};
    /// assert!(dead_letter_sql::move_back(&QueueName::new("d").unwrap()).contains("pgmq.send_batch($2::text"));
    /// ```
    pub fn move_back(dlq: &QueueName) -> String {
        let h = "moved.headers";
        let rec = format!("{h}->'{}'", super::DEAD_LETTER_HEADER);
        format!(
            "WITH moved AS (DELETE FROM {table} WHERE msg_id = ANY($1::bigint[]) \
             RETURNING msg_id, message, headers), \
             agg AS (SELECT array_agg(moved.msg_id ORDER BY moved.msg_id) AS dead, \
             array_agg(moved.message ORDER BY moved.msg_id) AS msgs, \
             array_agg(CASE WHEN jsonb_typeof({h}) = 'object' AND {rec} IS NOT NULL THEN \
             (CASE WHEN {rec}->'headers' IS NOT NULL THEN NULLIF({rec}->'headers', 'null'::jsonb) \
             ELSE NULLIF({h} - '{key}', '{{}}'::jsonb) END) \
             ELSE {h} END ORDER BY moved.msg_id) AS hdrs FROM moved) \
             SELECT agg.dead, ARRAY(SELECT pgmq.send_batch($2::text, agg.msgs, agg.hdrs, 0)) AS sent \
             FROM agg WHERE agg.dead IS NOT NULL",
            table = dlq.quoted_table_name(),
            key = super::DEAD_LETTER_HEADER,
        )
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

    /// Plans moving the locked messages `rows` (msg_id and recorded source queue, from
    /// [`dead_letter_sql::lock_sources`]) back: each to this toolkit's target if one was
    /// named, else to its recorded source queue; consecutive messages going to the same
    /// queue form one [`RequeueRun`]. A message without a usable source queue and no
    /// target is an [`Error::InvalidArgument`], so the whole move is refused and nothing
    /// is lost.
    ///
    /// ```
    /// # use pgmq_orm_core::consumer::DeadLetters;
    /// let plan = DeadLetters::new("d")?.plan(vec![(1, Some("a".into())), (2, Some("a".into())), (3, Some("b".into()))])?;
    /// assert_eq!(plan.iter().map(|r| (r.queue.as_str(), r.dead_ids.len())).collect::<Vec<_>>(), [("a", 2), ("b", 1)]);
    /// assert!(DeadLetters::new("d")?.plan(vec![(4, None)]).is_err());
    /// assert_eq!(DeadLetters::new("d")?.requeue_to("t")?.plan(vec![(4, None)])?[0].queue.as_str(), "t");
    /// # Ok::<(), pgmq_orm_core::Error>(())
    /// ```
    pub fn plan(&self, rows: Vec<(i64, Option<String>)>) -> Result<Vec<RequeueRun>, Error> {
        let mut runs: Vec<RequeueRun> = Vec::new();
        for (msg_id, source) in rows {
            let queue = match (&self.target, source) {
                (Some(q), _) => q.clone(),
                // The source may be a queue another client created: pgmq's rules.
                (None, Some(source)) => QueueName::existing(source)?,
                (None, None) => {
                    return Err(Error::InvalidArgument(format!(
                        "dead letter {msg_id} has no failure record naming its source queue; requeue it to a named queue"
                    )));
                }
            };
            match runs.last_mut() {
                Some(run) if run.queue == queue => run.dead_ids.push(msg_id),
                _ => runs.push(RequeueRun {
                    queue,
                    dead_ids: vec![msg_id],
                }),
            }
        }
        Ok(runs)
    }
}

/// Consecutive dead letters going back to the same queue: one
/// [`dead_letter_sql::move_back`] statement.
///
/// ```
/// # use pgmq_orm_core::consumer::RequeueRun;
/// fn moves(r: &RequeueRun) -> usize { r.dead_ids.len() }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequeueRun {
    /// Where the messages go.
    pub queue: QueueName,
    /// Their ids in the dead-letter queue, oldest first.
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

/// Pairs a run with what its [`dead_letter_sql::move_back`] returned (`dead`, `sent`),
/// checking that every locked message was deleted and sent, so a partial move is an error
/// (and rolled back by the caller's transaction) rather than a silent loss or duplicate.
///
/// ```
/// # use pgmq_orm_core::{QueueName, consumer::{RequeueRun, requeued}};
/// let run = RequeueRun { queue: QueueName::new("jobs").unwrap(), dead_ids: vec![4] };
/// assert_eq!(requeued(&run, &[4], &[9])?[0].msg_id, 9);
/// assert!(requeued(&run, &[], &[]).is_err());
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
pub fn requeued(run: &RequeueRun, dead: &[i64], sent: &[i64]) -> Result<Vec<Requeued>, Error> {
    if dead != run.dead_ids.as_slice() || sent.len() != dead.len() {
        return Err(Error::InvalidArgument(format!(
            "moving {} dead letters to {}: {} deleted, {} sent; rolled back",
            run.dead_ids.len(),
            run.queue,
            dead.len(),
            sent.len()
        )));
    }
    Ok(dead
        .iter()
        .zip(sent)
        .map(|(&dead_msg_id, &msg_id)| Requeued {
            dead_msg_id,
            queue: run.queue.clone(),
            msg_id,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rows: &[(i64, Option<&str>)], target: Option<&str>) -> Result<Vec<RequeueRun>, Error> {
        let mut d = DeadLetters::new("dlq").unwrap();
        if let Some(t) = target {
            d = d.requeue_to(t).unwrap();
        }
        d.plan(
            rows.iter()
                .map(|(id, s)| (*id, s.map(str::to_owned)))
                .collect(),
        )
    }

    #[test]
    fn runs_split_on_queue_and_keep_order() {
        let runs = plan(
            &[
                (1, Some("a")),
                (2, Some("a")),
                (3, Some("b")),
                (5, Some("a")),
            ],
            None,
        )
        .unwrap();
        let shape: Vec<_> = runs
            .iter()
            .map(|r| (r.queue.as_str(), r.dead_ids.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![("a", vec![1, 2]), ("b", vec![3]), ("a", vec![5])]
        );
    }

    #[test]
    fn a_target_overrides_the_recorded_source() {
        let runs = plan(&[(1, Some("a")), (2, None)], Some("elsewhere")).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].queue.as_str(), "elsewhere");
    }

    #[test]
    fn a_message_without_a_record_needs_a_target() {
        let e = plan(&[(1, Some("a")), (2, None)], None).unwrap_err();
        assert!(e.to_string().contains("dead letter 2"), "{e}");
    }

    #[test]
    fn an_invalid_recorded_source_is_refused() {
        assert!(plan(&[(1, Some("A; DROP"))], None).is_err());
    }

    #[test]
    fn a_partial_move_is_an_error() {
        let run = plan(&[(1, Some("a")), (2, Some("a"))], None)
            .unwrap()
            .remove(0);
        assert!(requeued(&run, &[1], &[7]).is_err());
        assert!(requeued(&run, &[1, 2], &[7]).is_err());
        assert_eq!(requeued(&run, &[1, 2], &[7, 8]).unwrap()[1].msg_id, 8);
    }
}
