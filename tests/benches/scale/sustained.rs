//! Sustained load: N messages through two producers (diesel-async `send_batch` of 100)
//! and the diesel-async consumer (64 handlers of 1 ms), twice: with autovacuum as the
//! server has it, then with the queue's `TableStorage` autovacuum settings and (on the
//! bench's throwaway server) a 10-second `autovacuum_naptime`. At every tenth of the
//! messages handled: the tenth's throughput, this process's resident memory and the queue
//! table's size and dead tuples.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_pgmq::PgmqAsyncConnectionExt;
use pgmq_orm_core::QueueName;
use pgmq_orm_core::consumer::CancellationToken;

use crate::Plan;
use crate::common::{self, Admin, ConsumerKind, Job, Setup, Storage, Tally};

const QUEUE: &str = "scale_sustained";
const PRODUCERS: usize = 2;
const HANDLERS: usize = 64;
/// Most messages the producers keep ahead of the consumer, so the run measures the
/// pipeline and not a backlog piling up.
const MAX_AHEAD: u64 = 5_000;

/// The naptime of the tuned run, where the bench may set it.
const TUNED_NAPTIME: &str = "10s";

/// How autovacuum treats the queue of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Vacuum {
    /// A plain queue; autovacuum as the server has it.
    AsFound,
    /// The queue with [`Storage::tuned`]'s per-table settings and, on the bench's
    /// throwaway server, `autovacuum_naptime` set to [`TUNED_NAPTIME`] for the run.
    Tuned,
}

impl Vacuum {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::AsFound => "server defaults",
            Self::Tuned => "TableStorage + naptime",
        }
    }
}

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
    pub(crate) vacuum: Vacuum,
    /// The server's `autovacuum_naptime` during the run.
    pub(crate) naptime: String,
    /// Times autovacuum finished a run on the queue table during this run.
    pub(crate) autovacuums: i64,
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

/// Both runs, as found first.
pub(crate) fn run(runtime: &tokio::runtime::Runtime, url: &str, plan: &Plan) -> Vec<Report> {
    [Vacuum::AsFound, Vacuum::Tuned]
        .into_iter()
        .map(|vacuum| {
            let report = runtime.block_on(sustained(url, plan.sustained, vacuum));
            for (i, t) in report.tenths.iter().enumerate() {
                eprintln!(
                    "sustained ({}): tenth {:>2}: {:>6.0} msgs/s rss {} kB table {} MiB \
                     dead {} depth {}",
                    vacuum.label(),
                    i + 1,
                    t.msgs_per_sec,
                    t.rss_kb,
                    common::mib(t.table_bytes),
                    t.dead_tuples,
                    t.depth
                );
            }
            eprintln!(
                "sustained ({}): naptime {}, {} autovacuum run(s) on the queue table",
                vacuum.label(),
                report.naptime,
                report.autovacuums
            );
            report
        })
        .collect()
}

/// Whether the bench runs on its own throwaway server, whose settings it may change.
fn own_server() -> bool {
    std::env::var_os("DATABASE_URL").is_none_or(|v| v.is_empty())
}

/// Sets (`Some`) or resets (`None`) the server's `autovacuum_naptime` and reloads it.
async fn set_naptime(admin: &Admin, value: Option<&str>) {
    let sql = match value {
        Some(v) => format!("ALTER SYSTEM SET autovacuum_naptime = '{v}'"),
        None => "ALTER SYSTEM RESET autovacuum_naptime".to_owned(),
    };
    // ALTER SYSTEM refuses a transaction block, which a multi-statement batch is.
    admin.client.batch_execute(&sql).await.expect("naptime");
    admin
        .client
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .expect("reload");
}

/// Autovacuum's finished runs on the queue table so far.
async fn autovacuum_count(admin: &Admin) -> i64 {
    let table = QueueName::new(QUEUE).expect("name").quoted_table_name();
    admin
        .client
        .query_one(
            "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = $1::text::regclass",
            &[&table],
        )
        .await
        .expect("autovacuum_count")
        .get(0)
}

async fn sustained(url: &str, messages: usize, vacuum: Vacuum) -> Report {
    let admin = Admin::connect(url).await;
    let storage = match vacuum {
        Vacuum::AsFound => Storage::Plain,
        Vacuum::Tuned => Storage::Tuned,
    };
    admin.recreate(QUEUE, storage).await.expect("queue");
    let tune_server = vacuum == Vacuum::Tuned && own_server();
    if tune_server {
        set_naptime(&admin, Some(TUNED_NAPTIME)).await;
    }
    let naptime: String = admin
        .client
        .query_one("SHOW autovacuum_naptime", &[])
        .await
        .expect("naptime")
        .get(0);
    let autovacuums_before = autovacuum_count(&admin).await;
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
    let autovacuums = autovacuum_count(&admin).await - autovacuums_before;
    if tune_server {
        set_naptime(&admin, None).await;
    }
    Report {
        vacuum,
        naptime,
        autovacuums,
        messages,
        took,
        tenths,
        peak_rss_kb: common::proc_status_kb("VmHWM"),
        max_table_bytes,
    }
}
