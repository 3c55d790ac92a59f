//! W3C trace context in message headers (feature `opentelemetry`).
//!
//! The producer side writes the current span's context as the two W3C Trace Context
//! fields, `traceparent` and `tracestate`, into the message's headers; the consumer side
//! reads them back and makes the message's span a child of that context. Both formats
//! are written here, by the [W3C Trace Context] rules, rather than through a globally
//! installed propagator: an application that never called
//! `opentelemetry::global::set_text_map_propagator` would otherwise send no context at
//! all, and headers are JSON, not a text map.
//!
//! [W3C Trace Context]: https://www.w3.org/TR/trace-context/

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use serde::Deserialize;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::message::RawJson;

/// The header holding the W3C `traceparent` (version, trace id, parent span id, flags).
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::TRACEPARENT, "traceparent");
/// ```
pub const TRACEPARENT: &str = "traceparent";

/// The header holding the W3C `tracestate` (vendor entries), written only when non-empty.
///
/// ```
/// assert_eq!(pgmq_orm_core::observe::TRACESTATE, "tracestate");
/// ```
pub const TRACESTATE: &str = "tracestate";

/// The span context sends write into headers: the current `tracing` span's OpenTelemetry
/// context (tracing-opentelemetry), else the current OpenTelemetry context (code that
/// attaches contexts itself); `None` when neither holds a valid span.
pub(crate) fn current() -> Option<SpanContext> {
    let from_tracing = tracing::Span::current().context();
    let span = from_tracing.span();
    let sc = span.span_context();
    if sc.is_valid() {
        return Some(sc.clone());
    }
    let cx = opentelemetry::Context::current();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// `sc` as a `traceparent` value: `00-<trace id>-<span id>-<flags>`.
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
/// use pgmq_orm_core::observe::{parse_traceparent, traceparent};
/// let sc = SpanContext::new(
///     TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")?,
///     SpanId::from_hex("00f067aa0ba902b7")?,
///     TraceFlags::SAMPLED, false, TraceState::default(),
/// );
/// let text = traceparent(&sc);
/// assert_eq!(text, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// assert_eq!(parse_traceparent(&text), Some((sc.trace_id(), sc.span_id(), sc.trace_flags())));
/// # Ok::<(), std::num::ParseIntError>(())
/// ```
pub fn traceparent(sc: &SpanContext) -> String {
    format!(
        "00-{:032x}-{:016x}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    )
}

/// Parses a `traceparent` value by the W3C rules: lowercase hex, version `ff` refused, a
/// version-00 value exactly 55 characters, a later version at least that with a `-`
/// after the flags, and neither id all zeros. `None` for anything else (the consumer then
/// starts a new trace rather than fail the message).
///
/// ```
/// use pgmq_orm_core::observe::parse_traceparent;
/// assert!(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some());
/// assert!(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
/// assert!(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
/// ```
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let b = value.as_bytes();
    let lower_hex = |s: &[u8]| {
        s.iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    if b.len() < 55 || [2, 35, 52].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let (version, trace, span, flags) = (&b[0..2], &b[3..35], &b[36..52], &b[53..55]);
    if !lower_hex(version) || !lower_hex(trace) || !lower_hex(span) || !lower_hex(flags) {
        return None;
    }
    match version {
        b"ff" => return None,
        b"00" if b.len() != 55 => return None,
        _ if b.len() > 55 && b[55] != b'-' => return None,
        _ => {}
    }
    // Checked above: ASCII hex, so the slices are valid UTF-8 and parse.
    let (trace, span, flags) = (&value[3..35], &value[36..52], &value[53..55]);
    let trace_id = TraceId::from_hex(trace).ok()?;
    let span_id = SpanId::from_hex(span).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    Some((trace_id, span_id, TraceFlags::new(flags)))
}

/// The trace fields of `sc` as a JSON object's members (no braces), ready to splice.
fn members(sc: &SpanContext) -> String {
    let mut out = format!(r#""{TRACEPARENT}":"{}""#, traceparent(sc));
    let state = sc.trace_state().header();
    if !state.is_empty() {
        // serde_json escapes; a tracestate is printable ASCII anyway.
        let state = serde_json::to_string(&state).unwrap_or_default();
        out.push_str(&format!(r#","{TRACESTATE}":{state}"#));
    }
    out
}

/// Only the two fields the consumer reads; every other header is skipped unparsed.
#[derive(Deserialize)]
struct TraceFields {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

/// `headers` with the trace fields of `sc` added, unless the caller's headers already
/// name a `traceparent` (the caller's own context wins, and its `tracestate` is left to
/// match it). `headers` is what `encode_headers_json` made: `None`, `null` or an object.
pub(crate) fn merge(headers: Option<RawJson>, sc: &SpanContext) -> RawJson {
    let text = match headers {
        Some(h) if !h.is_json_null() => h,
        _ => return RawJson::from_text(format!("{{{}}}", members(sc)).into_bytes()),
    };
    if let Ok(TraceFields {
        traceparent: Some(_),
        ..
    }) = text.decode::<TraceFields>()
    {
        return text;
    }
    // serde_json writes objects without whitespace: `{}` or `{"k":...}`.
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 128);
    out.push(b'{');
    out.extend_from_slice(members(sc).as_bytes());
    if bytes.len() > 2 {
        out.push(b',');
    }
    out.extend_from_slice(&bytes[1..]);
    RawJson::from_text(out)
}

/// The producer's span context carried by a message's headers, marked remote; `None`
/// without headers, without a `traceparent` or with one that does not parse.
///
/// ```
/// use pgmq_orm_core::{RawJson, observe::extract};
/// let h = RawJson::from_text(br#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"k=v"}"#.to_vec());
/// let sc = extract(Some(&h)).unwrap();
/// assert!(sc.is_remote() && sc.is_sampled());
/// assert_eq!(sc.trace_state().get("k"), Some("v"));
/// assert!(extract(Some(&RawJson::from_text(b"{}".to_vec()))).is_none());
/// ```
pub fn extract(headers: Option<&RawJson>) -> Option<SpanContext> {
    let fields: TraceFields = headers?.decode().ok()?;
    let (trace_id, span_id, flags) = parse_traceparent(fields.traceparent.as_deref()?)?;
    // A malformed tracestate is dropped, the parent kept (W3C: the two are independent).
    let state = fields
        .tracestate
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    Some(SpanContext::new(trace_id, span_id, flags, true, state))
}

#[cfg(any(feature = "consumer", feature = "blocking"))]
/// Makes `span` (the consumer's per-message span, not yet entered) a child of the
/// producer's context carried by `headers`, if any.
///
/// Parent rather than link: the consumer handles each message in a span of its own, so
/// there is exactly one producer context per span, and as its child the handler's work
/// shows in the same trace as the request that sent the message, which is what one
/// looks for when following an order from checkout to fulfilment. OpenTelemetry's
/// messaging conventions allow this for single-message processing; links are for spans
/// that cover many messages (a batch read), which this crate does not trace per message.
pub(crate) fn continue_trace(span: &tracing::Span, headers: Option<&RawJson>) {
    if let Some(sc) = extract(headers) {
        // Fails only if the span was already started, which the runner never does.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(sc));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(state: &str) -> SpanContext {
        SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            state.parse().unwrap(),
        )
    }

    fn json(text: &str) -> RawJson {
        RawJson::from_text(text.as_bytes().to_vec())
    }

    #[test]
    fn merge_adds_fields_to_none_null_empty_and_objects() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        for headers in [None, Some(json("null")), Some(json("{}"))] {
            let v = merge(headers, &sc("")).to_value().unwrap();
            assert_eq!(v, serde_json::json!({ "traceparent": tp }));
        }
        let v = merge(Some(json(r#"{"x-pgmq-group":"a"}"#)), &sc("k=v"))
            .to_value()
            .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"x-pgmq-group": "a", "traceparent": tp, "tracestate": "k=v"})
        );
    }

    #[test]
    fn the_callers_traceparent_wins() {
        let own = r#"{"traceparent":"00-11111111111111111111111111111111-2222222222222222-00"}"#;
        let out = merge(Some(json(own)), &sc("k=v"));
        assert_eq!(out.as_bytes(), own.as_bytes());
    }

    #[test]
    fn traceparent_rules() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(parse_traceparent(ok).is_some());
        assert!(
            parse_traceparent(&format!("{ok}-x")).is_none(),
            "v00 is exact"
        );
        assert!(parse_traceparent(&format!("01{}-x", &ok[2..])).is_some());
        assert!(parse_traceparent(&format!("01{}x", &ok[2..])).is_none());
        assert!(parse_traceparent(&format!("ff{}", &ok[2..])).is_none());
        assert!(parse_traceparent(&ok.replace("00f067aa0ba902b7", "0000000000000000")).is_none());
        assert!(parse_traceparent(&ok[..54]).is_none());
        assert!(parse_traceparent(&ok.replace('-', "_")).is_none());
        assert!(
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g").is_none()
        );
    }

    #[test]
    fn extract_ignores_other_headers_and_bad_state() {
        let h = json(
            r#"{"a":[1,{"b":2}],"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00","tracestate":"Bad Key=v"}"#,
        );
        let got = extract(Some(&h)).unwrap();
        assert!(!got.is_sampled());
        assert_eq!(got.trace_state().header(), "");
        assert!(extract(Some(&json(r#"{"traceparent":"nope"}"#))).is_none());
        assert!(extract(Some(&json("null"))).is_none());
        assert!(extract(None).is_none());
    }
}
