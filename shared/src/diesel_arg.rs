//! Diesel glue (feature `diesel`): the queue-name argument of `diesel_pgmq::functions`,
//! into which only a [`QueueName`] converts. It lives here because Rust lets only the
//! crate that defines `QueueName` implement Diesel's `AsExpression` for it.

use crate::queue_name::QueueName;
use diesel::expression::{
    AppearsOnTable, AsExpression, Expression, SelectableExpression, ValidGrouping, is_aggregate,
};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Text;

/// The SQL type of a queue-name argument: `text` on the wire, but only a [`QueueName`]
/// (validated when it was made) converts into it, so a `&str` does not compile and no
/// unchecked name reaches pgmq through `diesel_pgmq::functions`.
///
/// ```
/// use diesel::expression::AsExpression;
/// use pgmq_orm_core::diesel_arg::{QueueNameBind, QueueNameText};
/// use pgmq_orm_core::QueueName;
///
/// let q = QueueName::new("jobs")?;
/// let arg: QueueNameBind = AsExpression::<QueueNameText>::as_expression(&q);
/// let sql = diesel::debug_query::<diesel::pg::Pg, _>(&diesel::select(arg)).to_string();
/// assert!(sql.starts_with("SELECT $1"), "{sql}");
/// # Ok::<(), pgmq_orm_core::QueueNameError>(())
/// ```
///
/// ```compile_fail
/// use diesel::expression::AsExpression;
/// use pgmq_orm_core::diesel_arg::QueueNameText;
/// let _ = AsExpression::<QueueNameText>::as_expression("jobs");
/// ```
#[derive(Debug, Clone, Copy, Default, diesel::sql_types::SqlType, QueryId)]
#[diesel(postgres_type(oid = 25, array_oid = 1009))]
pub struct QueueNameText;

/// A [`QueueName`] bound as a `text` parameter: what `&QueueName` and `QueueName`
/// become as an argument of a `diesel_pgmq::functions` call.
///
/// ```
/// use diesel::expression::AsExpression;
/// use pgmq_orm_core::diesel_arg::{QueueNameBind, QueueNameText};
/// use pgmq_orm_core::QueueName;
/// let bound: QueueNameBind =
///     AsExpression::<QueueNameText>::as_expression(&QueueName::from_static("jobs"));
/// assert_eq!(bound.name().as_str(), "jobs");
/// ```
#[derive(Debug, Clone, QueryId)]
pub struct QueueNameBind(QueueName);

impl QueueNameBind {
    /// The bound name.
    ///
    /// ```
    /// use diesel::expression::AsExpression;
    /// use pgmq_orm_core::diesel_arg::{QueueNameBind, QueueNameText};
    /// use pgmq_orm_core::QueueName;
    /// let b: QueueNameBind = AsExpression::<QueueNameText>::as_expression(QueueName::from_static("a"));
    /// assert_eq!(b.name().as_str(), "a");
    /// ```
    pub fn name(&self) -> &QueueName {
        &self.0
    }
}

impl Expression for QueueNameBind {
    type SqlType = QueueNameText;
}

impl QueryFragment<Pg> for QueueNameBind {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<Text, str>(self.0.as_str())
    }
}

impl<QS: ?Sized> AppearsOnTable<QS> for QueueNameBind {}

impl<QS: ?Sized> SelectableExpression<QS> for QueueNameBind {}

impl<GB> ValidGrouping<GB> for QueueNameBind {
    type IsAggregate = is_aggregate::Never;
}

impl AsExpression<QueueNameText> for QueueName {
    type Expression = QueueNameBind;
    fn as_expression(self) -> QueueNameBind {
        QueueNameBind(self)
    }
}

impl AsExpression<QueueNameText> for &QueueName {
    type Expression = QueueNameBind;
    fn as_expression(self) -> QueueNameBind {
        QueueNameBind(self.clone())
    }
}
