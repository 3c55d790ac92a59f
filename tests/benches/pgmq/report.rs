//! Medians, ratios and the BENCHMARKS.md table.

use std::fmt::Write;
use std::time::Duration;

use crate::Cell;
use crate::clients::ClientKind;

pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn ceiling(cell: &Cell) -> f64 {
    cell.results
        .iter()
        .find(|(k, _)| *k == ClientKind::Raw)
        .map_or(0.0, |(_, r)| median(r))
}

/// One line per cell for the console while the run goes on.
pub(crate) fn line(cell: &Cell) -> String {
    let raw = ceiling(cell);
    let mut s = format!(
        "{:<22} {:>2} clients {:>5} B:",
        cell.op.label(),
        cell.clients,
        cell.payload
    );
    for (kind, r) in &cell.results {
        let m = median(r);
        let _ = write!(
            s,
            "  {} {:.0}/s ({:.2}x)",
            kind.label(),
            m,
            m / raw.max(1e-9)
        );
    }
    s
}

/// The whole report.
pub(crate) fn markdown(cells: &[Cell], rounds: usize, took: Duration) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Throughput in messages per second (median of {rounds} interleaved rounds), and each \
         client's ratio to the raw ceiling (tokio-postgres with prepared statements, the same SQL). \
         All clients ran in one process against one server, in the same run ({:.0} s).\n",
        took.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "Reproduce: `BENCH_ROUNDS={rounds} cargo bench -p pgmq-harness --bench pgmq` (writes this file).\n"
    );
    let _ = writeln!(s, "Machine: {}\n", machine());
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
        let raw = ceiling(cell);
        let _ = write!(
            s,
            "| {} | {} | {} B |",
            cell.op.label(),
            cell.clients,
            cell.payload
        );
        for (kind, r) in &cell.results {
            let m = median(r);
            if *kind == ClientKind::Raw {
                let _ = write!(s, " {m:.0} |");
            } else {
                let _ = write!(s, " {m:.0} ({:.2}x) |", m / raw.max(1e-9));
            }
        }
        let _ = writeln!(s);
    }
    s
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
        "{cores} cores ({cpu}); PostgreSQL {} on loopback, fsync off (test cluster); pgmq {}",
        std::env::var("BENCH_PG_VERSION").unwrap_or_else(|_| "15".into()),
        pgmq_harness::pgmq_version()
    )
}
