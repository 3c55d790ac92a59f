//! Trace context through the queue (feature `opentelemetry`), against a real pgmq: a
//! producer span sends (sync Diesel, diesel-async, SeaORM; single, batch and outbox), the
//! consumer's per-message span and its handler continue the same trace. Spans are
//! collected by OpenTelemetry's in-memory exporter behind tracing-opentelemetry.

use std::sync::{Mutex, OnceLock};

use diesel::{Connection, PgConnection, RunQueryDsl as _};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_pgmq::consumer::{CancellationToken, Consumer, ConsumerConfig, DieselBackend, PgPool};
use diesel_pgmq::outbox::{Outbox, OutboxExt};
use diesel_pgmq::{
    BatchSize, BoxError, Message, PgmqAsyncConnectionExt, PgmqConnectionExt, QueueName,
    VisibilityTimeout,
};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use pgmq_harness::TestDb;
use sea_orm_pgmq::PgmqConnectionExt as _;
use serde_json::{Value, json};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// The exporter behind the process-wide subscriber, installed once.
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("pgmq-tests"));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("no other subscriber in this test binary");
        exporter
    })
}

/// The OpenTelemetry ids of a `tracing` span.
fn ids(span: &tracing::Span) -> (TraceId, SpanId) {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    assert!(
        sc.is_valid(),
        "the subscriber gives spans an OpenTelemetry context"
    );
    (sc.trace_id(), sc.span_id())
}

fn finished(name: &str) -> Vec<SpanData> {
    exporter()
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

/// The consumer's message spans that are children of `parent`.
fn children_of(trace: TraceId, parent: SpanId) -> Vec<SpanData> {
    finished("pgmq.message")
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace && s.parent_span_id == parent)
        .collect()
}

async fn pool(url: &str) -> PgPool {
    PgPool::builder()
        .max_size(4)
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(url))
        .await
        .unwrap()
}

/// Runs a diesel-async consumer over what `queue` holds; returns the trace id each
/// handler saw as its current span's.
async fn consume_diesel(url: &str, queue: &str) -> Vec<TraceId> {
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let consumer = Consumer::new(
        DieselBackend::new(pool(url).await),
        ConsumerConfig::new(QueueName::new(queue).unwrap()),
        move |_m: Message<Value>| {
            let record = record.clone();
            async move {
                let cx = tracing::Span::current().context();
                record
                    .lock()
                    .unwrap()
                    .push(cx.span().span_context().trace_id());
                Ok::<(), BoxError>(())
            }
        },
    );
    consumer
        .run_until_empty(CancellationToken::new())
        .await
        .unwrap();
    seen.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_diesel_send_and_outbox_continue_in_the_consumer() {
    exporter();
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.create_queue("trace_sync").unwrap();
    diesel::sql_query("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)")
        .execute(&mut conn)
        .unwrap();
    diesel::table! { orders (id) { id -> Int4, item -> Text } }

    let producer = tracing::info_span!("producer_sync");
    let (trace, parent) = ids(&producer);
    producer.in_scope(|| {
        conn.send("trace_sync", &json!({"n": 1})).unwrap();
        // The caller's own headers are kept beside the context.
        conn.send_with(
            "trace_sync",
            &json!({"n": 2}),
            Some(&json!({"x-pgmq-group": "a"})),
            0.into(),
        )
        .unwrap();
        use diesel::ExpressionMethods;
        let sent: Vec<(i32, i64)> = diesel::insert_into(orders::table)
            .values(orders::item.eq("book"))
            .returning(orders::id)
            .enqueue(&Outbox::new("trace_sync").unwrap())
            .get_results(&mut conn)
            .unwrap();
        assert_eq!(sent.len(), 1);
    });

    let msgs = conn
        .read::<Value>(
            "trace_sync",
            VisibilityTimeout::Seconds(0),
            BatchSize::new(10).unwrap(),
        )
        .unwrap();
    let msgs: Vec<_> = msgs.into_iter().collect();
    assert_eq!(msgs.len(), 3);
    let traceparent = format!("00-{trace}-{parent}-01");
    for m in &msgs {
        let h = m.headers.as_ref().expect("trace headers were added");
        assert_eq!(h["traceparent"], traceparent.as_str(), "{h}");
    }
    assert_eq!(msgs[1].headers.as_ref().unwrap()["x-pgmq-group"], "a");

    let seen = consume_diesel(db.url(), "trace_sync").await;
    assert_eq!(
        seen,
        vec![trace; 3],
        "each handler runs in the producer's trace"
    );
    assert_eq!(children_of(trace, parent).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diesel_async_batch_continues_in_the_consumer() {
    exporter();
    let db = TestDb::new();
    let pool = pool(db.url()).await;
    let mut conn = pool.get().await.unwrap();
    conn.create_queue("trace_async").await.unwrap();

    let producer = tracing::info_span!("producer_async");
    let (trace, parent) = ids(&producer);
    async {
        conn.send_batch("trace_async", &[1, 2, 3]).await.unwrap();
    }
    .instrument(producer)
    .await;
    drop(conn);

    let seen = consume_diesel(db.url(), "trace_async").await;
    assert_eq!(seen, vec![trace; 3]);
    assert_eq!(children_of(trace, parent).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaorm_send_continues_in_the_seaorm_consumer() {
    use sea_orm_pgmq::consumer::SeaOrmBackend;
    exporter();
    let db = TestDb::new();
    let orm = sea_orm::Database::connect(db.url()).await.unwrap();
    orm.create_queue("trace_sea").await.unwrap();

    let producer = tracing::info_span!("producer_seaorm");
    let (trace, parent) = ids(&producer);
    async {
        orm.send("trace_sea", &json!({"n": 1})).await.unwrap();
        orm.send_batch_with(
            "trace_sea",
            &[1, 2],
            Some(&[json!({"k": 1}), json!(null)]),
            0.into(),
        )
        .await
        .unwrap();
    }
    .instrument(producer)
    .await;

    let consumer = Consumer::new(
        SeaOrmBackend::new(orm.clone()),
        ConsumerConfig::new(QueueName::new("trace_sea").unwrap()),
        |_m: Message<Value>| async {
            let cx = tracing::Span::current().context();
            assert!(cx.span().span_context().is_valid());
            Ok::<(), BoxError>(())
        },
    );
    let stats = consumer
        .run_until_empty(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(stats.processed, 3);
    assert_eq!(children_of(trace, parent).len(), 3);
}

/// Without a span in scope nothing is added: the headers stay as the caller gave them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_span_no_headers() {
    exporter();
    let db = TestDb::new();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.create_queue("trace_none").unwrap();
    conn.send("trace_none", &1).unwrap();
    let producer = tracing::info_span!("producer_own_context");
    let own = json!({"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"});
    producer.in_scope(|| {
        conn.send_with("trace_none", &2, Some(&own), 0.into())
            .unwrap()
    });
    let msgs: Vec<_> = conn
        .read::<Value>(
            "trace_none",
            VisibilityTimeout::Seconds(30),
            BatchSize::new(10).unwrap(),
        )
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(msgs[0].headers, None);
    assert_eq!(msgs[1].headers, Some(own), "the caller's traceparent wins");
}
