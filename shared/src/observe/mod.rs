//! Observability: trace context through the queue (feature `opentelemetry`) and metrics
//! (feature `metrics`). See the README's "Observability" section for a walk-through.
//!
//! - **Trace context** ([`extract`], [`traceparent`]): `send`, `send_with`, `send_batch`,
//!   `send_batch_with` and the outbox of both ORM crates write the current span's W3C
//!   `traceparent` (and `tracestate`, when non-empty) into each message's headers, next
//!   to the caller's own. The caller's headers are never changed: when they already hold
//!   a `traceparent`, nothing is added (an application propagating its own context
//!   wins). The consumer's per-message span `pgmq.message` becomes a child of the
//!   context it finds, so producer and consumer share one trace.
//! - **Metrics** ([`metrics`]; with the feature `consumer` too, `DepthPoller`): counters,
//!   histograms and gauges named after OpenTelemetry's messaging conventions; the table
//!   is in [`metrics`].
//!
//! With both features off this module holds no code that runs: the hooks the send paths
//! and the consumer call are empty inline functions.

#[cfg(all(feature = "metrics", feature = "consumer"))]
mod depth;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "opentelemetry")]
mod trace;

#[cfg(all(feature = "metrics", feature = "consumer"))]
pub use depth::{DepthPoller, DepthPollerHandle};
#[cfg(feature = "opentelemetry")]
pub use trace::{TRACEPARENT, TRACESTATE, extract, parse_traceparent, traceparent};

use crate::QueueName;
use crate::message::RawJson;

/// What one `pgmq.send` to `queue` is about to carry: the current span's context merged
/// into its headers (`opentelemetry`), and the message counted as sent (`metrics`).
/// `headers` are the caller's, already encoded.
#[cfg_attr(
    not(any(feature = "opentelemetry", feature = "metrics")),
    inline(always)
)]
#[allow(unused_variables)]
pub(crate) fn sending_one(queue: &QueueName, headers: Option<RawJson>) -> Option<RawJson> {
    #[cfg(feature = "metrics")]
    metrics::sent(queue, 1, "send");
    #[cfg(feature = "opentelemetry")]
    if let Some(sc) = trace::current() {
        return Some(trace::merge(headers, &sc));
    }
    headers
}

/// [`sending_one`] for a batch of `messages`; `headers` are `None` or one per message
/// (checked before), and come back so.
#[cfg_attr(
    not(any(feature = "opentelemetry", feature = "metrics")),
    inline(always)
)]
#[allow(unused_variables)]
pub(crate) fn sending_batch(
    queue: &QueueName,
    messages: usize,
    headers: Option<Vec<RawJson>>,
) -> Option<Vec<RawJson>> {
    #[cfg(feature = "metrics")]
    metrics::sent(queue, messages, "send_batch");
    #[cfg(feature = "opentelemetry")]
    if let Some(sc) = trace::current() {
        return Some(match headers {
            Some(h) => h.into_iter().map(|h| trace::merge(Some(h), &sc)).collect(),
            // One span sends them all: the same context on each.
            None => vec![trace::merge(None, &sc); messages],
        });
    }
    headers
}

/// The outbox's headers for a statement built now: the caller's, with the current span's
/// context merged in (`opentelemetry`); `None` when nothing changes.
#[cfg_attr(not(feature = "opentelemetry"), inline(always))]
#[allow(unused_variables)]
pub(crate) fn outbox_headers(headers: Option<&serde_json::Value>) -> Option<serde_json::Value> {
    #[cfg(feature = "opentelemetry")]
    if let Some(sc) = trace::current() {
        let text = headers.map(|h| RawJson::from_text(serde_json::to_vec(h).unwrap_or_default()));
        return trace::merge(text, &sc).to_value().ok();
    }
    None
}

/// One message on its way through the consumer: [`Delivery::start`] continues its trace
/// and counts it; dropping it records how long its processing took.
#[cfg(any(feature = "consumer", feature = "blocking"))]
#[derive(Debug)]
pub(crate) struct Delivery {
    #[cfg(feature = "metrics")]
    started: (std::time::Instant, QueueName),
}

#[cfg(any(feature = "consumer", feature = "blocking"))]
impl Delivery {
    /// Called with the message's span before it is entered.
    #[cfg_attr(
        not(any(feature = "opentelemetry", feature = "metrics")),
        inline(always)
    )]
    #[allow(unused_variables)]
    pub(crate) fn start(
        span: &tracing::Span,
        queue: &QueueName,
        raw: &crate::RawJsonMessage,
    ) -> Self {
        #[cfg(feature = "opentelemetry")]
        trace::continue_trace(span, raw.headers.as_ref());
        #[cfg(feature = "metrics")]
        metrics::consumed(queue, raw.enqueued_at);
        Self {
            #[cfg(feature = "metrics")]
            started: (std::time::Instant::now(), queue.clone()),
        }
    }
}

#[cfg(all(any(feature = "consumer", feature = "blocking"), feature = "metrics"))]
impl Drop for Delivery {
    fn drop(&mut self) {
        metrics::processing_took(&self.started.1, self.started.0.elapsed());
    }
}

/// The end states the consumer counts, as their metric names.
#[cfg(any(feature = "consumer", feature = "blocking"))]
#[derive(Debug, Clone, Copy)]
pub(crate) enum Settled {
    Processed,
    Retried,
    DeadLettered,
}

/// `n` messages of `queue` reached `state`: the consumer calls this where it bumps the
/// matching [`ConsumerStats`](crate::consumer::ConsumerStats) counter, so the two agree.
#[cfg(any(feature = "consumer", feature = "blocking"))]
#[cfg_attr(not(feature = "metrics"), inline(always))]
#[allow(unused_variables)]
pub(crate) fn settled(queue: &QueueName, state: Settled, n: usize) {
    #[cfg(feature = "metrics")]
    metrics::settled(
        queue,
        match state {
            Settled::Processed => metrics::PROCESSED,
            Settled::Retried => metrics::RETRIED,
            Settled::DeadLettered => metrics::DEAD_LETTERED,
        },
        n,
    );
}
