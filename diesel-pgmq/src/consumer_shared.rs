//! What the async consumer (`consumer`) and the blocking one (`sync_consumer`) of this
//! crate share: the row of the queue check and the error of the acknowledging
//! transaction.

use diesel::QueryableByName;
use pgmq_orm_core::Error;
use pgmq_orm_core::consumer::ProcessError;

use crate::error::from_diesel;

/// The one boolean of [`pgmq_orm_core::sql::QUEUE_TABLE_EXISTS`].
#[derive(QueryableByName)]
pub(crate) struct Present {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) present: bool,
}

/// The error of the acknowledging transaction: Diesel's `transaction` (sync and async)
/// needs one built from `diesel::result::Error`, which is an infrastructure failure.
pub(crate) struct TxFail(pub(crate) ProcessError);

impl From<diesel::result::Error> for TxFail {
    fn from(e: diesel::result::Error) -> Self {
        Self(ProcessError::Infrastructure(from_diesel(e)))
    }
}

impl From<Error> for TxFail {
    fn from(e: Error) -> Self {
        Self(ProcessError::Infrastructure(e))
    }
}

/// The consumer's dead-letter move of `message` out of `queue` into `dlq`, recording
/// `error`: one statement that copies the stored row itself (exact payload and headers,
/// nothing copied when the message is already gone). A macro, as the bound statement's
/// type cannot be named and each consumer runs it with its own `RunQueryDsl`.
macro_rules! dead_letter_move {
    ($queue:expr, $message:expr, $error:expr, $dlq:expr) => {{
        let (queue, message) = ($queue, $message);
        let record =
            pgmq_orm_core::consumer::failure_record(queue, message.msg_id, message.read_ct, $error);
        diesel::sql_query(pgmq_orm_core::consumer::dead_letter_sql::move_to_queue(
            queue,
        ))
        .bind::<diesel::sql_types::BigInt, _>(message.msg_id)
        .bind::<diesel::sql_types::Text, _>($dlq.as_str())
        .bind::<diesel::sql_types::Jsonb, _>(record)
    }};
}
pub(crate) use dead_letter_move;
