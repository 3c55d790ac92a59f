//! Sustained load: N messages through two producers (diesel-async `send_batch` of 100)
//! and the diesel-async consumer (64 handlers of 1 ms), with autovacuum on as the server
//! has it. At every tenth of the messages handled: the tenth's throughput, this process's
//! resident memory and the queue table's size and dead tuples.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_pgmq::PgmqAsyncConnectionExt;
use pgmq_orm_core::consumer::CancellationToken;

use crate::Plan;
use crate::common::{self, Admin, ConsumerKind, Job, Setup, Storage, Tally};

const QUEUE: &str = "scale_sustained";
const PRODUCERS: usize = 2;
const HANDLERS: usize = 64;
/// Most messages the producers keep ahead of the consumer, so the run measures the
/// pipeline and not a backlog piling up.
const MAX_AHEAD: u64 = 5_000;

/// The state at the end of one tenth.
#[derive(Debug)]
pub(crate) struct Tenth {
    pub(crate) msgs_per_sec: f64,
    pub(crate) rss_kb: u64,
    pub(crate) table_bytes: i64,
    pub(crate) dead_tuples: i64,
    pub(crate) depth: i64,
}

#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) messages: usize,
    pub(crate) took: Duration,
    pub(crate) tenths: Vec<Tenth>,
    /// `VmHWM` at the end: the process's peak resident memory (kB).
    pub(crate) peak_rss_kb: u64,
    /// The queue table's largest size over the run.
    pub(crate) max_table_bytes: i64,
}

impl Report {
    /// The last tenth's throughput over the first's.
    pub(crate) fn last_over_first(&self) -> f64 {
        match (self.tenths.first(), self.tenths.last()) {
            (Some(f), Some(l)) => l.msgs_per_sec / f.msgs_per_sec.max(1e-9),
            _ => 0.0,
        }
    }
}

pub(crate) fn run(runtime: &tokio::runtime::Runtime, url: &str, plan: &Plan) -> Report {
    let report = runtime.block_on(sustained(url, plan.sustained));
    for (i, t) in report.tenths.iter().enumerate() {
        eprintln!(
            "sustained: tenth {:>2}: {:>6.0} msgs/s rss {} kB table {} MiB dead {} depth {}",
            i + 1,
            t.msgs_per_sec,
            t.rss_kb,
            common::mib(t.table_bytes),
            t.dead_tuples,
            t.depth
        );
    }
    report
}

async fn sustained(url: &str, messages: usize) -> Report {
    let admin = Admin::connect(url).await;
    admin.recreate(QUEUE, Storage::Plain).await.expect("queue");
    let (tally, cancel) = (Tally::new(), CancellationToken::new());
    let setup = Setup {
        handlers: HANDLERS,
        work: Duration::from_millis(1),
        record: false,
    };
    let consumer = common::start(
        ConsumerKind::DieselAsync,
        url,
        QUEUE,
        setup,
        Arc::clone(&tally),
        cancel.clone(),
    )
    .await;
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|i| {
            // The producers send MAX_AHEAD more than the measured messages, so they are
            // still producing in the last tenth: it is not a drain of the backlog alone.
            let total = messages + MAX_AHEAD as usize;
            let share = total / PRODUCERS + usize::from(i < total % PRODUCERS);
            let (url, sent, tally) = (url.to_owned(), Arc::clone(&sent), Arc::clone(&tally));
            tokio::spawn(async move {
                let mut conn = AsyncPgConnection::establish(&url)
                    .await
                    .expect("producer connect");
                let batch = vec![Job::of_256_bytes(); 100];
                let mut left = share;
                while left > 0 {
                    if sent.load(Ordering::Relaxed).saturating_sub(tally.handled()) > MAX_AHEAD {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    let n = left.min(batch.len());
                    conn.send_batch(QUEUE, &batch[..n])
                        .await
                        .expect("send_batch");
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                    left -= n;
                }
            })
        })
        .collect();

    // The clock starts at the first message handled, so the first tenth does not carry
    // the producers' and the consumer's start-up.
    while tally.handled() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "sustained: no message handled within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let start = Instant::now();
    let tenth = (messages / 10).max(1) as u64;
    let mut tenths = Vec::new();
    let mut max_table_bytes = 0;
    let (mut last_at, mut last_count) = (start, 0u64);
    let mut progress = (Instant::now(), 0u64);
    while tenths.len() < 10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let handled = tally.handled();
        if handled > progress.1 {
            progress = (Instant::now(), handled);
        }
        assert!(
            progress.0.elapsed() < Duration::from_secs(60),
            "sustained: no message handled for 60 s ({handled} of {messages})"
        );
        // A tenth ends at its boundary; the throughput counts what was handled since the
        // last sample, which may run past the boundary when the samples lag.
        if handled < (tenths.len() as u64 + 1) * tenth {
            continue;
        }
        let now = Instant::now();
        let health = common::health(url, QUEUE).await;
        max_table_bytes = max_table_bytes.max(health.table_bytes);
        tenths.push(Tenth {
            msgs_per_sec: (handled - last_count) as f64 / (now - last_at).as_secs_f64(),
            rss_kb: common::proc_status_kb("VmRSS"),
            table_bytes: health.table_bytes,
            dead_tuples: health.dead_tuples,
            depth: health.depth,
        });
        (last_at, last_count) = (now, handled);
    }
    let took = start.elapsed();
    for p in producers {
        p.await.expect("producer");
    }
    common::stop(consumer, &cancel).await;
    Report {
        messages,
        took,
        tenths,
        peak_rss_kb: common::proc_status_kb("VmHWM"),
        max_table_bytes,
    }
}
