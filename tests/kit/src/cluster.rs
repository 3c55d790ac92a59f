//! A throwaway PostgreSQL cluster on disk, and [`PrivateCluster`] for tests that stop, restart
//! or freeze the server.

use std::net::TcpListener;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::db::{COUNTER, execute, install_pgmq, run, with_database};

/// A throwaway PostgreSQL cluster on disk: its directory, port and how to run `pg_ctl`.
#[derive(Debug)]
pub(crate) struct Cluster {
    pg_ctl: PathBuf,
    user: Option<(u32, u32)>,
    dir: PathBuf,
    port: u16,
}

/// The OS user to run the server as, when we are root: `(uid, gid)`.
fn server_user() -> Result<Option<(u32, u32)>, String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse::<u32>().ok());
    if uid != Some(0) {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"postgres") && f.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            "running as root, and there is no `postgres` OS user to run the server as \
             (install Debian's postgresql package)"
                .to_owned()
        })
}

/// Finds a PostgreSQL server binary: on `PATH`, then under `/usr/lib/postgresql/*/bin`
/// (newest version first).
fn find_binary(name: &str) -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    on_path
        .into_iter()
        .chain(versions)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no `{name}` on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL's \
                 server binaries (`apt-get install -y postgresql`) or set DATABASE_URL"
            )
        })
}

fn command(program: &Path, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

impl Cluster {
    /// Creates the cluster's directory (watched: removed with the server once this
    /// process is gone), runs `initdb` and starts the server on a free port.
    pub(crate) fn start() -> Result<Self, String> {
        let initdb = find_binary("initdb")?;
        let pg_ctl = find_binary("pg_ctl")?;
        let user = server_user()?;
        let dir = std::env::temp_dir().join(format!(
            "pgmq-orm-test-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        if let Some((uid, gid)) = user {
            chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
        Self::watch(&pg_ctl, &dir, user)?;
        let out = command(&initdb, user)
            .args(["-D"])
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut cluster = Self {
            pg_ctl,
            user,
            dir,
            port: 0,
        };
        // The chosen port can be taken between the check and the start: try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// `pg_ctl start` on this cluster's port, waiting until it accepts connections.
    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -h 127.0.0.1 -k {} -F -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=300 -c shared_buffers=128MB",
            self.port,
            self.dir.display()
        );
        let out = command(&self.pg_ctl, self.user)
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("running pg_ctl: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        Err(format!("the server did not start:\n{log}"))
    }

    /// `pg_ctl stop` with `mode` (`fast` or `immediate`), waiting until it is down.
    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        let out = command(&self.pg_ctl, self.user)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-t", "60", "-m", mode, "stop"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("running pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    pub(crate) fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts a detached watchdog that stops the server and deletes `dir` once this process
    /// is gone, whether it returned, panicked or was killed.
    fn watch(pg_ctl: &Path, dir: &Path, user: Option<(u32, u32)>) -> Result<(), String> {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 0.5; done; \
             '{pg_ctl}' -D '{dir}/data' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            dir = dir.display(),
        );
        command(Path::new("/bin/sh"), user)
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map(drop)
            .map_err(|e| format!("starting the watchdog: {e}"))
    }
}

/// A PostgreSQL cluster of its own, for tests that stop, restart or freeze the server.
///
/// Always started from the local server binaries (even when `DATABASE_URL` is set),
/// with one database that has pgmq installed ([`url`](Self::url)). The data and the
/// port survive [`stop`](Self::stop)/[`start`](Self::start)/[`restart`](Self::restart),
/// so clients and pools can reconnect to the same URL. Dropping it stops the server
/// (thawing it first if [`freeze`](Self::freeze)d) and deletes its directory; a watchdog
/// does the same if the process dies first.
///
/// ```no_run
/// let cluster = pgmq_orm_test::PrivateCluster::start();
/// let url = cluster.url().to_owned();
/// cluster.restart();
/// assert_eq!(url, cluster.url());
/// ```
#[derive(Debug)]
pub struct PrivateCluster {
    cluster: Cluster,
    url: String,
}

impl PrivateCluster {
    /// Initializes and starts a new cluster and installs pgmq into its database `pgmq`.
    /// Panics with the reason when the server binaries are missing: this is test support.
    pub fn start() -> Self {
        let cluster = Cluster::start().unwrap_or_else(|e| panic!("pgmq-orm-test: {e}"));
        let admin = cluster.admin_url();
        let url = with_database(&admin, "pgmq");
        let installed = run(execute(admin, "CREATE DATABASE pgmq".to_owned()))
            .and_then(|r| r.map_err(Into::into))
            .and_then(|()| run(install_pgmq(url.clone())).and_then(|r| r));
        if let Err(e) = installed {
            panic!("pgmq-orm-test: installing pgmq into the private cluster: {e}");
        }
        Self { cluster, url }
    }

    /// The URL of the cluster's database, which has pgmq installed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the cluster's `postgres` database, as its superuser.
    pub fn admin_url(&self) -> String {
        self.cluster.admin_url()
    }

    /// The TCP port the server listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.cluster.port
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are terminated, transactions in
    /// flight roll back), waiting until it is down.
    pub fn stop(&self) {
        self.cluster
            .pg_ctl_stop("fast")
            .unwrap_or_else(|e| panic!("pgmq-orm-test: {e}"));
    }

    /// Starts the stopped server again on the same port, waiting until it accepts
    /// connections.
    pub fn start_again(&self) {
        self.cluster
            .pg_ctl_start()
            .unwrap_or_else(|e| panic!("pgmq-orm-test: {e}"));
    }

    /// [`stop`](Self::stop) then [`start_again`](Self::start_again).
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// The server's log so far (its stderr): with `log_statement = 'all'`, every statement
    /// it received, for tests that check what reached the server as SQL text.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.cluster.dir.join("server.log")).unwrap_or_default()
    }

    /// The process ids of the postmaster and all its children (backends and background
    /// workers).
    pub fn server_pids(&self) -> Vec<u32> {
        let pid_file = self.cluster.dir.join("data").join("postmaster.pid");
        let Some(postmaster) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
        else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        let children = std::fs::read_dir("/proc").into_iter().flatten().flatten();
        for entry in children {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid ...`; comm may hold spaces, so split after the `)`.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Freezes the whole server with `SIGSTOP`: connections stay open (the kernel still
    /// accepts and acknowledges) but nothing answers, as with a hung host.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Thaws a [`freeze`](Self::freeze)d server with `SIGCONT`.
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let pids = self.server_pids();
        let Some((postmaster, children)) = pids.split_first() else {
            return;
        };
        let kill = |pid: &u32| {
            Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !kill(postmaster) {
            eprintln!("pgmq-orm-test: kill -{sig} {postmaster} (the postmaster) failed");
        }
        // A child may exit between listing and signalling; that is fine.
        for pid in children {
            kill(pid);
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.thaw();
        let _ = self.cluster.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.cluster.dir);
    }
}
