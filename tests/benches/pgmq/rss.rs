//! Peak memory of a consumer, by queue depth. Each measurement is a fresh child process
//! (this binary again, with `--rss-child`), so peaks do not carry over: the parent loads
//! the queue, the child connects, drains it with one worker and reports its `VmHWM`.

use std::process::Command;

use crate::clients::{self, ClientKind, Op, Payload};

/// One child's report.
#[derive(Debug)]
pub(crate) struct Rss {
    pub(crate) kind: ClientKind,
    pub(crate) messages: usize,
    /// Resident set when connected, before the first message (kB).
    pub(crate) before_kb: u64,
    /// Peak resident set over the whole process (kB).
    pub(crate) peak_kb: u64,
    pub(crate) seconds: f64,
}

/// Payload size of the memory measurement.
pub(crate) const PAYLOAD: usize = 1000;

/// Runs the child for every client with a consumer, at every depth in `depths`.
pub(crate) fn measure(runtime: &tokio::runtime::Runtime, url: &str, depths: &[usize]) -> Vec<Rss> {
    let payload = Payload::of_size(PAYLOAD);
    let mut out = Vec::new();
    for (index, kind) in ClientKind::ALL.iter().enumerate() {
        if !kind.runs(Op::Consume) {
            continue;
        }
        for &messages in depths {
            runtime.block_on(clients::reset(url, clients::RSS_QUEUE, messages, &payload));
            let child = Command::new(std::env::current_exe().expect("own path"))
                .args(["--rss-child", &index.to_string(), &messages.to_string()])
                .env(clients::RSS_URL_VAR, url)
                .output()
                .expect("starting the memory child");
            let text = String::from_utf8_lossy(&child.stdout);
            assert!(
                child.status.success(),
                "memory child failed: {}",
                String::from_utf8_lossy(&child.stderr)
            );
            let mut fields = text.split_whitespace();
            let mut next = || fields.next().expect("child report");
            let rss = Rss {
                kind: *kind,
                messages,
                before_kb: next().parse().expect("VmRSS"),
                peak_kb: next().parse().expect("VmHWM"),
                seconds: next().parse().expect("seconds"),
            };
            eprintln!(
                "memory: {:<22} {:>7} messages: {} kB before, {} kB peak ({:.1} s)",
                kind.label(),
                messages,
                rss.before_kb,
                rss.peak_kb,
                rss.seconds
            );
            out.push(rss);
        }
    }
    out
}

/// If this process is a memory child, runs it and returns true.
pub(crate) fn child_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|a| a == "--rss-child") else {
        return false;
    };
    let index: usize = args[at + 1].parse().expect("client index");
    let messages: usize = args[at + 2].parse().expect("message count");
    clients::rss_child(ClientKind::ALL[index], messages);
    true
}
