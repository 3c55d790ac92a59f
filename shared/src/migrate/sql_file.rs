//! Migration plans as plain SQL text, for migration files that cannot bind values.

use super::{Bind, Statement};
use crate::error::Error;

/// Renders `plan` as SQL text (one statement per line, each ending in `;`), with every
/// bound value inlined as a literal: text as an `E'...'` escape-string literal (`\` and
/// `'` doubled), which PostgreSQL reads the same whatever `standard_conforming_strings`
/// says; numbers in decimal.
///
/// The `$n` placeholders are replaced in one left-to-right pass over the statement's own
/// SQL, so text inside an inlined value (a `$2`, a quote, a `--`) is never looked at
/// again. PostgreSQL text cannot hold NUL, so a value with a NUL is
/// [`Error::InvalidArgument`], as is a placeholder without a value.
///
/// ```
/// use pgmq_orm_core::migrate::{render, QueueSpec};
/// use pgmq_orm_core::QueueName;
///
/// let spec = QueueSpec::new(QueueName::from_static("rq")).partitioned("it's $2", "\\");
/// let sql = render(&spec.create_plan())?;
/// assert!(sql.contains(r"pgmq.create_partitioned(E'rq', E'it''s $2', E'\\')"), "{sql}");
///
/// let nul = QueueSpec::new(QueueName::from_static("rq")).partitioned("a\0b", "1");
/// assert!(render(&nul.create_plan()).is_err());
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
pub fn render(plan: &[Statement]) -> Result<String, Error> {
    let mut out = String::new();
    for st in plan {
        render_statement(st, &mut out)?;
        out.push_str(";\n");
    }
    Ok(out)
}

fn render_statement(st: &Statement, out: &mut String) -> Result<(), Error> {
    let sql = st.sql.as_str();
    let mut rest = sql;
    while let Some(at) = rest.find(['$', '\'']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with('\'') {
            // A literal of the statement's own SQL: copied as it is, placeholders and all.
            let end = literal_end(tail).ok_or_else(|| {
                Error::InvalidArgument(format!("unterminated literal in `{sql}`"))
            })?;
            out.push_str(&tail[..end]);
            rest = &tail[end..];
            continue;
        }
        let digits = tail[1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len() - 1);
        if digits == 0 {
            out.push('$');
            rest = &tail[1..];
            continue;
        }
        let n: usize = tail[1..=digits]
            .parse()
            .map_err(|_| Error::InvalidArgument(format!("bad placeholder in `{sql}`")))?;
        let bind = n
            .checked_sub(1)
            .and_then(|i| st.binds.get(i))
            .ok_or_else(|| Error::InvalidArgument(format!("`{sql}` has no value for ${n}")))?;
        push_literal(bind, out)?;
        rest = &tail[1 + digits..];
    }
    out.push_str(rest);
    Ok(())
}

/// The byte length of the `'...'` literal `s` starts with (`''` is a quote inside it).
fn literal_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

fn push_literal(bind: &Bind, out: &mut String) -> Result<(), Error> {
    match bind {
        Bind::Text(s) => push_text(s, out)?,
        Bind::Int(v) => out.push_str(&v.to_string()),
        Bind::BigInt(v) => out.push_str(&v.to_string()),
    }
    Ok(())
}

/// `E'...'`: in an escape string only `\` and `'` are special, and both are doubled.
fn push_text(s: &str, out: &mut String) -> Result<(), Error> {
    if s.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "a migration value cannot hold NUL (PostgreSQL text cannot): {:?}",
            s.escape_debug().to_string()
        )));
    }
    out.reserve(s.len() + 3);
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(sql: &str, binds: Vec<Bind>) -> Statement {
        Statement {
            sql: sql.to_owned(),
            binds,
        }
    }

    #[test]
    fn placeholders_inside_values_are_not_replaced_again() {
        let s = st(
            "SELECT f($1, $2)",
            vec![Bind::Text("$2".into()), Bind::Text("x".into())],
        );
        assert_eq!(render(&[s]).unwrap(), "SELECT f(E'$2', E'x');\n");
    }

    #[test]
    fn ten_placeholders_and_literals_of_the_statement() {
        let binds = (1..=10).map(Bind::Int).collect();
        let s = st("SELECT '$1', $1, $10, $$", binds);
        assert_eq!(render(&[s]).unwrap(), "SELECT '$1', 1, 10, $$;\n");
    }

    #[test]
    fn quotes_and_backslashes_are_doubled() {
        let s = st("SELECT $1", vec![Bind::Text(r"a'b\c''\\".into())]);
        assert_eq!(
            render(&[s]).unwrap(),
            concat!(r"SELECT E'a''b\\c''''\\\\';", "\n")
        );
    }

    #[test]
    fn nul_and_missing_values_are_errors() {
        assert!(render(&[st("SELECT $1", vec![Bind::Text("a\0".into())])]).is_err());
        assert!(render(&[st("SELECT $2", vec![Bind::Int(1)])]).is_err());
        assert!(render(&[st("SELECT $0", vec![Bind::Int(1)])]).is_err());
        assert!(render(&[st("SELECT 'open", vec![])]).is_err());
    }
}
