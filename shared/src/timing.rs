//! Visibility timeouts, delays, polling and batch sizes: the knobs of pgmq's functions.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::Error;

/// How long a read message stays invisible to other readers: a number of seconds from
/// now, or an absolute time. pgmq accepts both (`integer` and `timestamptz` overloads).
///
/// The seconds are unsigned, so a negative timeout (which would hand the message to the
/// next reader at once) cannot be written; a signed count converts with `try_from`, which
/// refuses a negative one with [`Error::InvalidArgument`]. Counts above `i32::MAX` are
/// sent as `i32::MAX` (68 years).
///
/// ```compile_fail
/// let vt = pgmq_orm_core::VisibilityTimeout::Seconds(-10);
/// ```
///
/// ```
/// # use pgmq_orm_core::{ErrorKind, VisibilityTimeout};
/// let err = VisibilityTimeout::try_from(-10_i32).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
/// assert!(err.to_string().contains("visibility timeout"));
/// ```
///
/// ```
/// use pgmq_orm_core::VisibilityTimeout;
/// use std::time::Duration;
///
/// assert_eq!(VisibilityTimeout::default(), VisibilityTimeout::Seconds(30));
/// assert_eq!(VisibilityTimeout::from(Duration::from_secs(90)), VisibilityTimeout::Seconds(90));
/// let at = chrono::Utc::now() + chrono::Duration::minutes(5);
/// assert_eq!(VisibilityTimeout::from(at), VisibilityTimeout::Until(at));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VisibilityTimeout {
    /// Invisible for this many seconds from now (`0` makes it visible at once).
    Seconds(u32),
    /// Invisible until this moment.
    Until(DateTime<Utc>),
}

/// When a sent message becomes visible: a number of seconds from now, or an absolute time.
///
/// As with [`VisibilityTimeout`], the seconds are unsigned: a negative delay cannot be
/// written, and `try_from` a signed count refuses one with [`Error::InvalidArgument`].
///
/// ```compile_fail
/// let d = pgmq_orm_core::Delay::Seconds(-1);
/// ```
///
/// ```
/// # use pgmq_orm_core::{Delay, ErrorKind};
/// assert_eq!(Delay::try_from(-1_i32).unwrap_err().kind(), ErrorKind::InvalidArgument);
/// assert_eq!(Delay::try_from(5_i32)?, Delay::Seconds(5));
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
///
/// ```
/// use pgmq_orm_core::Delay;
/// assert_eq!(Delay::default(), Delay::Seconds(0));
/// assert_eq!(Delay::from(std::time::Duration::from_millis(2500)), Delay::Seconds(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delay {
    /// Visible this many seconds from now.
    Seconds(u32),
    /// Visible from this moment.
    Until(DateTime<Utc>),
}

/// The default visibility timeout: 30 seconds, as pgmq's own clients use.
pub const DEFAULT_VISIBILITY_TIMEOUT: VisibilityTimeout = VisibilityTimeout::Seconds(30);

impl Default for VisibilityTimeout {
    fn default() -> Self {
        DEFAULT_VISIBILITY_TIMEOUT
    }
}

impl Default for Delay {
    fn default() -> Self {
        Self::Seconds(0)
    }
}

/// Whole seconds, rounded up (a 1.5 s timeout must not end early) and saturated at `i32::MAX`.
pub(crate) fn ceil_secs(d: Duration) -> i32 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// [`ceil_secs`] as the unsigned count of [`VisibilityTimeout::Seconds`] and [`Delay::Seconds`].
fn ceil_secs_u32(d: Duration) -> u32 {
    ceil_secs(d).unsigned_abs()
}

/// Seconds as pgmq's `integer` arguments take them: saturated at `i32::MAX`.
#[doc(hidden)]
pub fn __int_seconds(secs: u32) -> i32 {
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// A signed count of seconds for `option`, refused when negative.
fn non_negative(secs: i32, option: &str) -> Result<u32, Error> {
    u32::try_from(secs).map_err(|_| {
        Error::InvalidArgument(format!("{option} must not be negative, got {secs} seconds"))
    })
}

impl From<Duration> for VisibilityTimeout {
    fn from(d: Duration) -> Self {
        Self::Seconds(ceil_secs_u32(d))
    }
}

impl From<DateTime<Utc>> for VisibilityTimeout {
    fn from(t: DateTime<Utc>) -> Self {
        Self::Until(t)
    }
}

impl From<u32> for VisibilityTimeout {
    fn from(secs: u32) -> Self {
        Self::Seconds(secs)
    }
}

impl TryFrom<i32> for VisibilityTimeout {
    type Error = Error;
    fn try_from(secs: i32) -> Result<Self, Error> {
        non_negative(secs, "visibility timeout").map(Self::Seconds)
    }
}

impl From<Duration> for Delay {
    fn from(d: Duration) -> Self {
        Self::Seconds(ceil_secs_u32(d))
    }
}

impl From<DateTime<Utc>> for Delay {
    fn from(t: DateTime<Utc>) -> Self {
        Self::Until(t)
    }
}

impl From<u32> for Delay {
    fn from(secs: u32) -> Self {
        Self::Seconds(secs)
    }
}

impl TryFrom<i32> for Delay {
    type Error = Error;
    fn try_from(secs: i32) -> Result<Self, Error> {
        non_negative(secs, "delay").map(Self::Seconds)
    }
}

/// How `read_with_poll` waits for messages: at most `max_wait`, checking every `interval`.
///
/// ```
/// use pgmq_orm_core::PollOptions;
/// use std::time::Duration;
///
/// let p = PollOptions::default();
/// assert_eq!((p.max_poll_seconds(), p.poll_interval_ms()), (5, 100));
/// let p = PollOptions::new(Duration::from_millis(1500), Duration::from_millis(50));
/// assert_eq!((p.max_poll_seconds(), p.poll_interval_ms()), (2, 50));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PollOptions {
    /// The longest the call waits for a message (pgmq counts whole seconds).
    pub max_wait: Duration,
    /// How often the server checks the queue while waiting.
    pub interval: Duration,
}

/// pgmq's default poll window, 5 seconds.
pub const DEFAULT_POLL_MAX_WAIT: Duration = Duration::from_secs(5);
/// pgmq's default poll interval, 100 milliseconds.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

impl Default for PollOptions {
    fn default() -> Self {
        Self::new(DEFAULT_POLL_MAX_WAIT, DEFAULT_POLL_INTERVAL)
    }
}

impl PollOptions {
    /// Poll for at most `max_wait`, every `interval`.
    ///
    /// ```
    /// # use pgmq_orm_core::PollOptions;
    /// # use std::time::Duration;
    /// let p = PollOptions::new(Duration::from_secs(1), Duration::from_millis(10));
    /// assert_eq!(p.max_wait, Duration::from_secs(1));
    /// ```
    pub const fn new(max_wait: Duration, interval: Duration) -> Self {
        Self { max_wait, interval }
    }

    /// `max_poll_seconds` as pgmq takes it (rounded up).
    ///
    /// ```
    /// # use pgmq_orm_core::PollOptions;
    /// assert_eq!(PollOptions::default().max_poll_seconds(), 5);
    /// ```
    pub fn max_poll_seconds(&self) -> i32 {
        ceil_secs(self.max_wait)
    }

    /// `poll_interval_ms` as pgmq takes it (at least 1).
    ///
    /// ```
    /// # use pgmq_orm_core::PollOptions;
    /// assert_eq!(PollOptions::default().poll_interval_ms(), 100);
    /// ```
    pub fn poll_interval_ms(&self) -> i32 {
        i32::try_from(self.interval.as_millis())
            .unwrap_or(i32::MAX)
            .max(1)
    }
}

/// How many messages one read may return: at least 1.
///
/// ```
/// use pgmq_orm_core::BatchSize;
/// assert_eq!(BatchSize::new(100)?.get(), 100);
/// assert!(BatchSize::new(0).is_err());
/// # Ok::<(), pgmq_orm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchSize(i32);

impl BatchSize {
    /// One message.
    pub const ONE: Self = Self(1);

    /// A batch of `n` messages; `0` or more than `i32::MAX` is [`Error::InvalidArgument`].
    ///
    /// ```
    /// # use pgmq_orm_core::BatchSize;
    /// assert!(BatchSize::new(usize::MAX).is_err());
    /// ```
    pub fn new(n: usize) -> Result<Self, Error> {
        match i32::try_from(n) {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(Error::InvalidArgument(format!(
                "batch size must be between 1 and {}, got {n}",
                i32::MAX
            ))),
        }
    }

    /// The size as pgmq's `qty` argument.
    ///
    /// ```
    /// # use pgmq_orm_core::BatchSize;
    /// assert_eq!(BatchSize::ONE.get(), 1);
    /// ```
    pub const fn get(self) -> i32 {
        self.0
    }
}

impl Default for BatchSize {
    fn default() -> Self {
        Self::ONE
    }
}

impl TryFrom<usize> for BatchSize {
    type Error = Error;
    fn try_from(n: usize) -> Result<Self, Error> {
        Self::new(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_and_saturate() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::MAX), i32::MAX);
        assert_eq!(ceil_secs_u32(Duration::MAX), i32::MAX.unsigned_abs());
        assert_eq!(__int_seconds(u32::MAX), i32::MAX);
    }

    #[test]
    fn negative_seconds_are_refused_naming_the_option() {
        let vt = VisibilityTimeout::try_from(-10_i32).unwrap_err();
        assert!(
            vt.to_string()
                .contains("visibility timeout must not be negative"),
            "{vt}"
        );
        let d = Delay::try_from(i32::MIN).unwrap_err();
        assert!(d.to_string().contains("delay must not be negative"), "{d}");
        assert_eq!(
            VisibilityTimeout::try_from(0_i32).ok(),
            Some(VisibilityTimeout::Seconds(0))
        );
    }

    #[test]
    fn poll_interval_is_never_zero() {
        let p = PollOptions::new(Duration::ZERO, Duration::ZERO);
        assert_eq!((p.max_poll_seconds(), p.poll_interval_ms()), (0, 1));
    }
}
