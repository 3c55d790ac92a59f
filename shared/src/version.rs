//! pgmq versions and the minimum this project needs.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A pgmq version, `major.minor.patch`.
///
/// ```
/// use pgmq_orm_core::{PgmqVersion, MIN_PGMQ_VERSION};
///
/// let v: PgmqVersion = "1.13.0".parse().unwrap();
/// assert!(v >= MIN_PGMQ_VERSION);
/// assert!(v.check().is_ok());
/// assert!("1.4.2".parse::<PgmqVersion>().unwrap().check().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgmqVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

/// The oldest pgmq this project supports: 1.11 has nearly everything both crates call
/// (`last_read_at` in message records since 1.10, timestamp visibility timeouts since 1.10,
/// topics since 1.11). The few functions that came later are gated one by one
/// ([`crate::sql::function::SINCE`]): calling one on an older pgmq is an
/// [`Error::PgmqTooOld`] naming it. Every version from this one on is tested by installing
/// it on a real server.
pub const MIN_PGMQ_VERSION: PgmqVersion = PgmqVersion::new(1, 11, 0);

impl PgmqVersion {
    /// Builds a version from its parts.
    ///
    /// ```
    /// # use pgmq_orm_core::PgmqVersion;
    /// assert_eq!(PgmqVersion::new(1, 13, 0).to_string(), "1.13.0");
    /// ```
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// `Ok` when this version is at least [`MIN_PGMQ_VERSION`], else
    /// [`Error::PgmqTooOld`] naming both.
    ///
    /// ```
    /// # use pgmq_orm_core::{PgmqVersion, ErrorKind};
    /// let err = PgmqVersion::new(1, 5, 1).check().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::PgmqTooOld);
    /// ```
    pub fn check(self) -> Result<Self, Error> {
        if self >= MIN_PGMQ_VERSION {
            Ok(self)
        } else {
            Err(Error::PgmqTooOld {
                found: self,
                required: MIN_PGMQ_VERSION,
                function: None,
            })
        }
    }
}

/// A version string that is not `major.minor[.patch]`.
///
/// ```
/// # use pgmq_orm_core::PgmqVersion;
/// assert!("one.two".parse::<PgmqVersion>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a pgmq version: {0:?}")]
pub struct ParseVersionError(pub String);

impl FromStr for PgmqVersion {
    type Err = ParseVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.to_owned());
        let mut parts = s.trim().split('.');
        let mut next = |required: bool| match parts.next() {
            Some(p) => p.parse::<u32>().map_err(|_| err()),
            None if required => Err(err()),
            None => Ok(0),
        };
        let v = Self::new(next(true)?, next(true)?, next(false)?);
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(v)
    }
}

impl PgmqVersion {
    /// The installed version from what [`crate::sql::EXTENSION_VERSION`] and
    /// [`crate::sql::SQL_INSTALL_VERSIONS`] returned: the extension's version when pgmq
    /// is an extension, else the highest version the SQL install recorded (rows that are
    /// not versions are skipped). `None` when neither names one.
    ///
    /// ```
    /// # use pgmq_orm_core::PgmqVersion;
    /// assert_eq!(PgmqVersion::installed(Some("1.13.0"), [""; 0]), Some(PgmqVersion::new(1, 13, 0)));
    /// let sql_rows = ["1.9.0", "1.11.1", "baseline"];
    /// assert_eq!(PgmqVersion::installed(None, sql_rows), Some(PgmqVersion::new(1, 11, 1)));
    /// assert_eq!(PgmqVersion::installed(None, [""; 0]), None);
    /// ```
    pub fn installed<S: AsRef<str>>(
        extension: Option<&str>,
        sql_versions: impl IntoIterator<Item = S>,
    ) -> Option<Self> {
        match extension {
            Some(v) => v.parse().ok(),
            None => sql_versions
                .into_iter()
                .filter_map(|v| v.as_ref().parse().ok())
                .max(),
        }
    }
}

impl fmt::Display for PgmqVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically_not_lexically() {
        let v = |s: &str| s.parse::<PgmqVersion>().unwrap();
        assert!(v("1.13.0") > v("1.9.9"));
        assert_eq!(v("1.10"), PgmqVersion::new(1, 10, 0));
        assert!("1.2.3.4".parse::<PgmqVersion>().is_err());
        assert!("".parse::<PgmqVersion>().is_err());
    }
}
