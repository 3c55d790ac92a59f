//! The peek statement's one column, as sync Diesel and diesel-async load it.

use diesel::QueryableByName;
use diesel::sql_types::Text;

/// The `rows` column of [`crate::peek::statement`].
#[derive(Debug, QueryableByName)]
pub(crate) struct Rows {
    #[diesel(sql_type = Text)]
    pub(crate) rows: String,
}
