//! A dead network between this process and one local server port: every TCP segment to or
//! from the port is dropped (an nftables table of its own, on the output hook, which
//! loopback traffic passes), so the peer neither answers nor resets, as when a cable is
//! pulled. A frozen server (`SIGSTOP`) is not the same: its kernel still acknowledges.

use std::io::Write;
use std::process::{Command, Stdio};

use pgmq_orm_core::BoxError;

/// Drops all traffic to and from one port until dropped itself (also on panic).
#[derive(Debug)]
pub(crate) struct DeadNetwork {
    table: String,
}

impl DeadNetwork {
    /// Whether this process may cut the network: `nft` is installed and netfilter is
    /// permitted (root with `CAP_NET_ADMIN`); the error says what is missing.
    pub(crate) fn available() -> Result<(), BoxError> {
        nft(&["list", "tables"], None)
    }

    /// Cuts the network to `port`. Fails with nft's message when nftables is missing or
    /// netfilter is not permitted (CI installs the `nftables` package).
    pub(crate) fn cut(port: u16) -> Result<Self, BoxError> {
        let table = format!("pgmq_dead_network_{port}");
        // Declaring and deleting first removes a table a killed run left behind.
        let rules = format!(
            "table inet {table} {{}}\n\
             delete table inet {table}\n\
             table inet {table} {{\n\
               chain out {{\n\
                 type filter hook output priority 0; policy accept;\n\
                 tcp dport {port} drop\n\
                 tcp sport {port} drop\n\
               }}\n\
             }}\n"
        );
        nft(&["-f", "-"], Some(&rules))?;
        Ok(Self { table })
    }
}

impl Drop for DeadNetwork {
    fn drop(&mut self) {
        if let Err(e) = nft(&["delete", "table", "inet", &self.table], None) {
            eprintln!("could not remove nftables table {}: {e}", self.table);
        }
    }
}

/// Runs `nft` with `args`, feeding `input` on stdin.
fn nft(args: &[&str], input: Option<&str>) -> Result<(), BoxError> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running nft (install the nftables package): {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.unwrap_or_default().as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!("nft {args:?} failed ({}): {stderr}", out.status).into())
    }
}
