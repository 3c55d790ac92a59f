//! Prometheus metrics for a queue and its consumer: the crates' `metrics` feature records
//! through the `metrics` facade, metrics-exporter-prometheus renders them.
//!
//! The example sends orders (a few that fail, one that does not decode), consumes them
//! with retries and a dead-letter queue, polls queue depth with `DepthPoller`, and prints
//! the Prometheus exposition. With `--serve` it then keeps answering
//! `GET http://127.0.0.1:9898/metrics` (address from `METRICS_ADDR`) until Ctrl-C, for a
//! Prometheus to scrape.
//!
//! Run with `cargo run -p pgmq-orm-examples --bin prometheus_metrics [-- --serve]`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_pgmq::consumer::{
    Consumer, ConsumerConfig, DieselBackend, FailureDestination, PgPool, RetryPolicy,
    cancel_on_ctrl_c,
};
use diesel_pgmq::observe::{DepthPoller, metrics as pgmq_metrics};
use diesel_pgmq::{BoxError, Error, Message, PgmqAsyncConnectionExt, QueueName};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct OrderPlaced {
    order_id: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Install the recorder first: nothing is recorded before there is one.
    let prometheus = PrometheusBuilder::new()
        // Seconds-scale buckets for the two histograms (lag and processing time).
        .set_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])?
        .install_recorder()?;
    pgmq_metrics::describe();

    let url = pgmq_orm_test::database_url();
    let pool: PgPool = PgPool::builder()
        .max_size(4)
        .build(AsyncDieselConnectionManager::<AsyncPgConnection>::new(&url))
        .await?;
    let queue = QueueName::new("orders_metrics")?;
    let dlq = QueueName::new("orders_metrics_dlq")?;
    {
        let mut conn = pool.get().await?;
        conn.create_queue(&queue).await?;
        conn.create_queue(&dlq).await?;
        let orders: Vec<_> = (1..=20).map(|order_id| OrderPlaced { order_id }).collect();
        conn.send_batch(&queue, &orders).await?;
        conn.send(&queue, &"not an order").await?;
    }

    // Queue depth and oldest-message age, every 2 s, each read bounded to 1 s.
    let reads = pool.clone();
    let poller = DepthPoller::new()
        .interval(Duration::from_secs(2))
        .query_timeout(Duration::from_secs(1))
        .spawn(move || {
            let pool = reads.clone();
            async move {
                let mut conn = pool.get().await.map_err(|e| Error::Pool(e.into()))?;
                conn.metrics_all().await
            }
        });

    let consumer = Consumer::new(
        DieselBackend::new(pool.clone()),
        ConsumerConfig::new(queue.clone())
            .with_retry(RetryPolicy {
                initial: Duration::from_millis(10),
                max_attempts: 3,
                ..RetryPolicy::default()
            })
            .with_failure_destination(FailureDestination::DeadLetter(dlq)),
        |m: Message<OrderPlaced>| async move {
            // Every seventh order fails every time: retried, then dead-lettered.
            if m.message.order_id.is_multiple_of(7) {
                return Err::<(), BoxError>("payment service refused".into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(())
        },
    );
    // Until all 21 messages are settled, retries included (they come back within
    // milliseconds); bounded, and Ctrl-C ends it early.
    let cancel = cancel_on_ctrl_c();
    for _ in 0..100 {
        let stats = consumer.run_until_empty(cancel.clone()).await?;
        if stats.processed + stats.dead_lettered >= 21 || cancel.is_cancelled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = consumer.stats();
    println!(
        "consumer: {} read, {} processed, {} retried, {} dead-lettered\n",
        stats.read, stats.processed, stats.retried, stats.dead_lettered
    );
    // Let the poller see the emptied queue.
    tokio::time::sleep(Duration::from_secs(2)).await;

    prometheus.run_upkeep();
    println!("{}", prometheus.render());

    if std::env::args().any(|a| a == "--serve") {
        let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9898".into());
        let listener = TcpListener::bind(&addr)?;
        println!("serving http://{addr}/metrics; Ctrl-C to stop");
        std::thread::spawn(move || serve(&listener, &prometheus));
        cancel.cancelled().await;
    }
    poller.stop().await;
    Ok(())
}

/// The smallest scrape endpoint: every request gets the current exposition.
fn serve(listener: &TcpListener, prometheus: &PrometheusHandle) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        // Bounded, so a client that connects and says nothing cannot hold the loop.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        prometheus.run_upkeep();
        let body = prometheus.render();
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}
