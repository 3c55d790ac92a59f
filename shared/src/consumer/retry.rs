//! What happens to a message whose handler failed.

use std::time::Duration;

use crate::{Error, QueueName};

/// Exponential backoff with jitter and an attempt limit.
///
/// The delay before attempt `n + 1` is `initial * multiplier^(n-1)`, capped at `max`, then
/// shortened by up to `jitter` (a fraction in `0.0..=1.0`) so that a burst of failures does
/// not come back as a burst.
///
/// [`validate`](Self::validate) refuses settings that make no sense (a NaN or negative
/// multiplier or jitter, fewer than one attempt); a consumer checks its policy before it
/// starts. [`backoff`](Self::backoff) never panics, whatever the settings.
///
/// ```
/// use std::time::Duration;
/// use pgmq_orm_core::consumer::RetryPolicy;
/// let p = RetryPolicy { jitter: 0.0, ..RetryPolicy::default() };
/// assert_eq!(p.backoff(1, 0.5), Duration::from_secs(1));
/// assert_eq!(p.backoff(3, 0.5), Duration::from_secs(4));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
    /// Growth factor per attempt.
    pub multiplier: f64,
    /// Fraction of the delay that may be taken off at random (0 = none).
    pub jitter: f64,
    /// Reads after which a failing message leaves the queue (pgmq's `read_ct`).
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            multiplier: 2.0,
            jitter: 0.2,
            max_attempts: 5,
        }
    }
}

impl RetryPolicy {
    /// [`Error::InvalidArgument`], naming the setting, when the policy makes no sense:
    /// `multiplier` not a finite number of at least 1, `jitter` not a finite fraction in
    /// `0.0..=1.0`, or `max_attempts` below 1. (An `initial` above `max` is allowed: every
    /// delay is then `max`.)
    ///
    /// ```
    /// use pgmq_orm_core::consumer::RetryPolicy;
    /// assert!(RetryPolicy::default().validate().is_ok());
    /// let nan = RetryPolicy { jitter: f64::NAN, ..RetryPolicy::default() };
    /// assert!(nan.validate().unwrap_err().to_string().contains("RetryPolicy::jitter"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |option: &str, value: String, expected: &str| {
            Err(Error::InvalidArgument(format!(
                "RetryPolicy::{option} must be {expected}, got {value}"
            )))
        };
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return bad(
                "multiplier",
                self.multiplier.to_string(),
                "a finite number >= 1",
            );
        }
        if !(self.jitter.is_finite() && (0.0..=1.0).contains(&self.jitter)) {
            return bad("jitter", self.jitter.to_string(), "in 0.0..=1.0");
        }
        if self.max_attempts < 1 {
            return bad("max_attempts", self.max_attempts.to_string(), "at least 1");
        }
        Ok(())
    }

    /// The delay after failed attempt `attempt` (1-based), given a uniform sample
    /// `random` in `0.0..1.0`. Never panics: settings [`validate`](Self::validate)
    /// refuses are read as their nearest sensible value (a NaN jitter as none).
    ///
    /// ```
    /// use std::time::Duration;
    /// use pgmq_orm_core::consumer::RetryPolicy;
    /// let p = RetryPolicy::default();
    /// assert!(p.backoff(2, 0.99) <= Duration::from_secs(2));
    /// ```
    pub fn backoff(&self, attempt: i32, random: f64) -> Duration {
        let exp = attempt.saturating_sub(1).clamp(0, 64);
        let raw = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exp);
        let capped = raw.min(self.max.as_secs_f64());
        let fraction = |x: f64| if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        let jitter = fraction(self.jitter) * fraction(random);
        Duration::try_from_secs_f64(capped * (1.0 - jitter)).unwrap_or(self.max)
    }

    /// Whether a message read `read_ct` times has used up its attempts.
    ///
    /// ```
    /// use pgmq_orm_core::consumer::RetryPolicy;
    /// let p = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
    /// assert!(!p.exhausted(2));
    /// assert!(p.exhausted(3));
    /// ```
    pub fn exhausted(&self, read_ct: i32) -> bool {
        read_ct >= self.max_attempts
    }
}

/// Where a message goes when it cannot be processed: attempts used up, or a payload that
/// does not decode.
///
/// ```
/// use pgmq_orm_core::{QueueName, consumer::FailureDestination};
/// let d = FailureDestination::DeadLetter(QueueName::new("orders_dlq").unwrap());
/// assert!(matches!(d, FailureDestination::DeadLetter(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FailureDestination {
    /// pgmq's archive table of the source queue.
    #[default]
    Archive,
    /// Another pgmq queue; the error is recorded in the message headers and the send and
    /// the delete commit together.
    DeadLetter(QueueName),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> RetryPolicy {
        RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn backoff_doubles_per_attempt() {
        let p = no_jitter();
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(p.backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(p.backoff(4, 0.0), Duration::from_secs(8));
    }

    #[test]
    fn backoff_is_capped_at_max() {
        let p = RetryPolicy {
            max: Duration::from_secs(10),
            ..no_jitter()
        };
        assert_eq!(p.backoff(30, 0.0), Duration::from_secs(10));
        assert_eq!(p.backoff(i32::MAX, 0.0), Duration::from_secs(10));
    }

    #[test]
    fn jitter_only_shortens_within_its_fraction() {
        let p = RetryPolicy {
            jitter: 0.5,
            ..RetryPolicy::default()
        };
        for r in [0.0, 0.3, 0.999] {
            let d = p.backoff(3, r);
            assert!(
                d <= Duration::from_secs(4) && d >= Duration::from_secs(2),
                "{d:?}"
            );
        }
    }

    #[test]
    fn nonsense_settings_never_panic_in_backoff() {
        let huge = RetryPolicy {
            initial: Duration::MAX,
            max: Duration::MAX,
            ..no_jitter()
        };
        assert_eq!(huge.backoff(3, 0.0), Duration::MAX);
        for (multiplier, jitter, random) in [
            (f64::NAN, f64::NAN, f64::NAN),
            (f64::INFINITY, f64::INFINITY, f64::INFINITY),
            (-2.0, -1.0, -1.0),
            (f64::NEG_INFINITY, f64::NEG_INFINITY, 0.5),
        ] {
            let p = RetryPolicy {
                multiplier,
                jitter,
                ..RetryPolicy::default()
            };
            assert!(p.backoff(4, random) <= p.max);
            assert!(p.validate().is_err());
        }
    }

    #[test]
    fn validate_names_the_setting() {
        let msg = |p: RetryPolicy| p.validate().unwrap_err().to_string();
        let d = RetryPolicy::default;
        assert!(
            msg(RetryPolicy {
                multiplier: 0.5,
                ..d()
            })
            .contains("RetryPolicy::multiplier")
        );
        assert!(msg(RetryPolicy { jitter: 1.5, ..d() }).contains("RetryPolicy::jitter"));
        assert!(
            msg(RetryPolicy {
                max_attempts: 0,
                ..d()
            })
            .contains("RetryPolicy::max_attempts")
        );
        assert!(
            RetryPolicy {
                jitter: 0.0,
                multiplier: 1.0,
                max_attempts: 1,
                ..d()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn attempt_zero_or_negative_uses_the_initial_delay() {
        assert_eq!(no_jitter().backoff(0, 0.0), Duration::from_secs(1));
        assert_eq!(no_jitter().backoff(-3, 0.0), Duration::from_secs(1));
    }
}
