//! Medians, ratios and the BENCHMARKS.md table.

use std::fmt::Write;
use std::time::Duration;

use crate::Cell;
use crate::clients::ClientKind;
use crate::rss::Rss;

pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The raw ceiling's throughput in each round of `cell`.
fn ceiling_rounds(cell: &Cell) -> &[f64] {
    cell.results
        .iter()
        .find(|(k, _)| *k == ClientKind::Raw)
        .map_or(&[], |(_, r)| r.as_slice())
}

/// A client's ratio to the ceiling: the median over rounds of its throughput divided by
/// the ceiling's in the same round. Pairing by round cancels what drifts over a run (the
/// machine's other load, the table's state) better than a ratio of two medians.
pub(crate) fn ratio(rounds: &[f64], ceiling: &[f64]) -> f64 {
    let paired: Vec<f64> = rounds
        .iter()
        .zip(ceiling)
        .map(|(r, c)| r / c.max(1e-9))
        .collect();
    median(&paired)
}

/// A client's median as the report shows it: "—" where it did not run the op.
fn figure(cell: &Cell, kind: ClientKind, rounds: &[f64]) -> String {
    if rounds.is_empty() {
        return "—".into();
    }
    let m = median(rounds);
    if kind == ClientKind::Raw {
        format!("{m:.0}")
    } else {
        format!("{m:.0} ({:.2}x)", ratio(rounds, ceiling_rounds(cell)))
    }
}

/// One line per cell for the console while the run goes on.
pub(crate) fn line(cell: &Cell) -> String {
    let mut s = format!(
        "{:<32} {:>2} clients {:>5} B:",
        cell.op.label(),
        cell.clients,
        cell.payload
    );
    for (kind, r) in &cell.results {
        if !r.is_empty() {
            let _ = write!(s, "  {} {}", kind.label(), figure(cell, *kind, r));
            if *kind != ClientKind::Raw {
                // Each round's ratio, to see how far the rounds spread.
                let rounds: Vec<String> = r
                    .iter()
                    .zip(ceiling_rounds(cell))
                    .map(|(x, c)| format!("{:.2}", x / c.max(1e-9)))
                    .collect();
                let _ = write!(s, " [{}]", rounds.join(" "));
            }
        }
    }
    s
}

/// Where hand-written notes begin; a new run keeps everything from it on.
const NOTES_MARKER: &str = "<!-- notes: kept across runs -->";

/// How the run went, for the report's preamble.
#[derive(Debug)]
pub(crate) struct RunInfo {
    pub(crate) rounds: usize,
    pub(crate) quick: bool,
    pub(crate) took: Duration,
    /// `/proc/loadavg` when the run started: other work on the machine skews the figures.
    pub(crate) load_at_start: String,
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The whole report; `sections` (such as the outbox comparison) go after the tables;
/// `previous` is the file it replaces, whose notes it keeps.
pub(crate) fn markdown(
    cells: &[Cell],
    memory: &[Rss],
    sections: &str,
    run: &RunInfo,
    previous: Option<&str>,
) -> String {
    let RunInfo {
        rounds,
        quick,
        took,
        ..
    } = *run;
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Throughput in messages per second (median of {rounds} interleaved round{}{}), and each \
         client's ratio to the raw ceiling (tokio-postgres with prepared statements, the same SQL): \
         the median of its per-round ratios, each against the ceiling's figure of the same round. \
         All clients ran in one process against one server, in the same run ({:.0} s). \
         \"—\": the client has no such operation.\n",
        if rounds == 1 { "" } else { "s" },
        if quick {
            ", `--quick`: 10x fewer messages"
        } else {
            ""
        },
        took.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "Reproduce: `BENCH_ROUNDS={rounds} cargo bench -p pgmq-harness --bench pgmq{}` \
         (writes this file, keeping the notes at its end).\n",
        if quick { " -- --quick" } else { "" }
    );
    let _ = writeln!(
        s,
        "Machine: {}; load average (1/5/15 min) {} at the start, {} at the end.\n",
        machine(),
        run.load_at_start,
        load_average()
    );
    if !cells.is_empty() {
        throughput_table(&mut s, cells);
    }
    if !memory.is_empty() {
        memory_table(&mut s, memory);
    }
    if !sections.trim().is_empty() {
        s.push_str(sections.trim_matches('\n'));
        s.push_str("\n\n");
    }
    let _ = writeln!(s, "{NOTES_MARKER}");
    if let Some(notes) = previous.and_then(|p| p.split_once(NOTES_MARKER)) {
        s.push_str(notes.1.trim_start_matches('\n'));
    }
    s
}

fn throughput_table(s: &mut String, cells: &[Cell]) {
    let kinds: Vec<ClientKind> = cells
        .first()
        .map(|c| c.results.iter().map(|(k, _)| *k).collect())
        .unwrap_or_default();
    let _ = write!(s, "| op | clients | payload |");
    for k in &kinds {
        let _ = write!(s, " {} |", k.label());
    }
    let _ = writeln!(s);
    let _ = write!(s, "|---|---|---|");
    for _ in &kinds {
        let _ = write!(s, "---|");
    }
    let _ = writeln!(s);
    for cell in cells {
        let _ = write!(
            s,
            "| {} | {} | {} B |",
            cell.op.label(),
            cell.clients,
            cell.payload
        );
        for (kind, r) in &cell.results {
            let _ = write!(s, " {} |", figure(cell, *kind, r));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s);
}

fn memory_table(s: &mut String, memory: &[Rss]) {
    let _ = writeln!(
        s,
        "## Consumer memory by queue depth\n\n\
         One consumer worker (the same configuration as the consumer-loop row: batch 100, \
         100 handlers, one connection) draining a queue pre-loaded with {} B messages, each \
         depth in a fresh process. *Before* is `VmRSS` once connected; *peak* is `VmHWM` \
         (`/proc/self/status`) after the last message.\n",
        crate::rss::PAYLOAD
    );
    let _ = writeln!(s, "| client | messages | RSS before | peak RSS | time |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in memory {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} MiB | {:.1} MiB | {:.1} s |",
            r.kind.label(),
            r.messages,
            r.before_kb as f64 / 1024.0,
            r.peak_kb as f64 / 1024.0,
            r.seconds
        );
    }
    let _ = writeln!(s);
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores ({cpu}); PostgreSQL {} on loopback, fsync off (test cluster); pgmq {}; \
         each measurement starts from an emptied, vacuumed queue table (filled and analyzed \
         for the consuming ops), with autovacuum off on the bench queues so it cannot start \
         inside a timing",
        std::env::var("BENCH_PG_VERSION").unwrap_or_else(|_| "15".into()),
        pgmq_harness::pgmq_version()
    )
}
