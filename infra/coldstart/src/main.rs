//! `coldstart`: measures the Lambda functions' cold start locally.
//!
//! Cold start here is the time from process start until the function first polls the Lambda
//! Runtime API (`GET /2018-06-01/runtime/invocation/next`), i.e. the function's own init. Each
//! binary given is spawned `--runs` times with the environment Lambda gives a function and a
//! stub Runtime API of our own (a bare TCP listener that never answers); the binaries alternate
//! within each round so that machine noise hits them alike. The first binary is the baseline
//! (the `hello` bin of this crate): the report gives each median as a ratio of its median, and
//! as milliseconds over it, which is what a function adds to Lambda's own init. Unix only (each
//! child is killed with its process group). README.md has the commands and measured numbers.
//!
//! ```text
//! coldstart target/release/hello target/release/{scan,credit,campus,audit} [--runs 30] [--json]
//!           [--dynamodb-endpoint http://127.0.0.1:8000 [--table greenloop-coldstart]]
//! ```

use clap::Parser;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The request line that ends a cold start.
const FIRST_POLL: &str = "GET /2018-06-01/runtime/invocation/next";
/// The region every child is in (DynamoDB Local ignores it).
const REGION: &str = "us-east-1";

/// Measures the cold start (process start to first Runtime API poll) of Lambda binaries.
#[derive(Parser)]
#[command(name = "coldstart")]
struct Args {
    /// The binaries to measure; the first is the baseline (target/release/hello).
    #[arg(required = true, value_name = "BINARY")]
    binaries: Vec<PathBuf>,
    /// Measured cold starts per binary.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Rounds run first and not recorded, so that no binary pays alone for being read from disk.
    #[arg(long, default_value_t = 1)]
    warmup: u32,
    /// Seconds a child has to poll before it counts as failed.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    timeout: u64,
    /// Use DynamoDB at this endpoint (e.g. DynamoDB Local) instead of a fresh embedded store per
    /// child.
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// The DynamoDB table, with --dynamodb-endpoint; it must exist.
    #[arg(long, default_value = "greenloop-coldstart")]
    table: String,
    /// Print the report as JSON (samples included) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Where the children keep their data.
enum Store {
    /// A fresh temporary directory per child, for `GREENLOOP_DATA`.
    Embedded,
    Dynamo {
        endpoint: String,
        table: String,
    },
}

/// One binary's results.
#[derive(Serialize)]
struct Report {
    name: String,
    path: PathBuf,
    median_ms: f64,
    p90_ms: f64,
    min_ms: f64,
    /// Median over the baseline's median.
    ratio: f64,
    /// Median minus the baseline's median.
    extra_ms: f64,
    samples_ms: Vec<f64>,
}

/// The `--json` report.
#[derive(Serialize)]
struct Output<'a> {
    store: &'static str,
    runs: u32,
    baseline: &'a str,
    binaries: &'a [Report],
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("coldstart: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let store = match &args.dynamodb_endpoint {
        Some(endpoint) => Store::Dynamo {
            endpoint: endpoint.clone(),
            table: args.table.clone(),
        },
        None => Store::Embedded,
    };
    let timeout = Duration::from_secs(args.timeout);
    let mut samples = vec![Vec::new(); args.binaries.len()];
    // A warning a binary logged at init (e.g. a failed warm-up read), said once per binary:
    // its numbers would then not be those of a working function.
    let mut warned = vec![false; args.binaries.len()];
    for round in 0..args.warmup + args.runs {
        // Round-robin: every binary once per round, so slow spells are shared.
        for (i, binary) in args.binaries.iter().enumerate() {
            let start = cold_start(binary, &store, timeout)?;
            if let Some(line) = start.warning.filter(|_| !warned[i]) {
                eprintln!("warning: {} logged at init: {line}", name(binary));
                warned[i] = true;
            }
            if round >= args.warmup {
                // Milliseconds to the microsecond; finer is noise.
                let ms = (start.elapsed.as_secs_f64() * 1e6).round() / 1e3;
                samples[i].push(ms);
            }
        }
    }
    let reports = report(&args.binaries, samples);
    if args.json {
        let output = Output {
            store: match store {
                Store::Embedded => "embedded",
                Store::Dynamo { .. } => "dynamodb",
            },
            runs: args.runs,
            baseline: &reports[0].name,
            binaries: &reports,
        };
        let json = serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?;
        println!("{json}");
    } else {
        print_table(&reports);
    }
    Ok(())
}

/// What one cold start showed.
struct ColdStart {
    elapsed: Duration,
    warning: Option<String>,
}

/// Spawns `binary` once against a fresh stub Runtime API and times its first poll.
fn cold_start(binary: &Path, store: &Store, timeout: Duration) -> Result<ColdStart, String> {
    let name = name(binary);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    // Created before the clock starts; dropped (deleted) after the child is gone.
    let data = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;

    let mut command = Command::new(binary);
    lambda_env(&mut command, &name, port);
    match store {
        Store::Embedded => {
            command
                .env_remove("GREENLOOP_TABLE")
                .env("GREENLOOP_DATA", data.path());
        }
        Store::Dynamo { endpoint, table } => {
            command
                .env("GREENLOOP_TABLE", table)
                .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint);
        }
    }
    // Dummy secrets, so that no function falls back to SSM for them.
    command
        .env("GREENLOOP_PEPPER", "coldstart-dummy-pepper-0123456789")
        .env(
            "GREENLOOP_WEBHOOK_SECRETS",
            "coldstart=coldstart-dummy-webhook-secret",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that killing it also ends anything it started (a wrapper
        // script's children would otherwise hold its pipes open).
        .process_group(0);

    // The stub has its own thread, so the poll is stamped the moment it arrives.
    let (polled_tx, polled) = mpsc::channel();
    thread::spawn(move || {
        let _ = polled_tx.send(first_poll(&listener));
    });
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let stdout = lines(child.stdout.take());
    let stderr = lines(child.stderr.take());

    let deadline = started + timeout;
    let outcome = loop {
        match polled.recv_timeout(Duration::from_millis(10)) {
            Ok(result) => break result,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break Err("the stub thread died".into()),
        }
        match child.try_wait() {
            Ok(Some(status)) => break Err(format!("exited ({status}) before polling")),
            Ok(None) if Instant::now() >= deadline => {
                break Err(format!("did not poll within {}s", timeout.as_secs()))
            }
            Ok(None) => {}
            Err(e) => break Err(format!("cannot wait for it: {e}")),
        }
    };
    // `outcome` holds the stub's connection open until here, so the child never sees it
    // closed while it still runs.
    kill(&mut child);
    let (stdout, stderr) = (join(stdout), join(stderr));
    drop(data);

    match outcome {
        Ok((at, _connection)) => Ok(ColdStart {
            elapsed: at - started,
            warning: stdout
                .iter()
                .chain(&stderr)
                .find(|l| is_warning(l))
                .cloned(),
        }),
        Err(why) => {
            let last = stderr.last().map_or("(nothing)", String::as_str);
            Err(format!("{name} {why}; its stderr's last line: {last}"))
        }
    }
}

/// Kills the child's process group and reaps the child.
fn kill(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) only sends a signal, to the group the child leads.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The environment Lambda gives a function, on top of the caller's (which passes through, e.g.
/// `RUST_LOG`), with the runtime API at our stub.
fn lambda_env(command: &mut Command, name: &str, port: u16) {
    command.envs([
        ("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}")),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_DEFAULT_REGION", REGION.into()),
        ("AWS_ACCESS_KEY_ID", "ASIACOLDSTARTDUMMY".into()),
        ("AWS_SECRET_ACCESS_KEY", "coldstart-dummy-secret".into()),
        ("AWS_SESSION_TOKEN", "coldstart-dummy-token".into()),
        ("_HANDLER", "bootstrap".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("TZ", ":UTC".into()),
    ]);
}

/// The stub Runtime API: accepts one connection and reads its request head. Returns when the
/// request line arrived and the connection, to be held open until the child is killed.
fn first_poll(listener: &TcpListener) -> Result<(Instant, TcpStream), String> {
    let (connection, _) = listener
        .accept()
        .map_err(|e| format!("stub accept failed: {e}"))?;
    let mut head = BufReader::new(&connection);
    let mut line = String::new();
    head.read_line(&mut line)
        .map_err(|e| format!("stub read failed: {e}"))?;
    let at = Instant::now();
    if !line.starts_with(FIRST_POLL) {
        return Err(format!(
            "sent {:?} first, not {FIRST_POLL}",
            line.trim_end()
        ));
    }
    // The rest of the head, so the client's write completes.
    while head.read_line(&mut line).is_ok_and(|n| n > 2) {}
    Ok((at, connection))
}

/// Collects a child's output lines on a thread, so that its pipe never fills up.
fn lines(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<String>>> {
    pipe.map(|pipe| {
        thread::spawn(move || {
            BufReader::new(pipe)
                .lines()
                .map_while(Result::ok)
                .filter(|l| !l.trim().is_empty())
                .collect()
        })
    })
}

fn join(lines: Option<JoinHandle<Vec<String>>>) -> Vec<String> {
    lines.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// A JSON log line (as the functions write, see `greenloop::config`) at WARN or ERROR.
fn is_warning(line: &str) -> bool {
    line.contains(r#""level":"WARN""#) || line.contains(r#""level":"ERROR""#)
}

fn name(binary: &Path) -> String {
    binary.file_name().map_or_else(
        || binary.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Median, p90 and min of each binary's samples, and the medians against the first binary's.
fn report(binaries: &[PathBuf], samples: Vec<Vec<f64>>) -> Vec<Report> {
    let mut reports: Vec<Report> = binaries
        .iter()
        .zip(samples)
        .map(|(path, mut ms)| {
            ms.sort_by(f64::total_cmp);
            Report {
                name: name(path),
                path: path.clone(),
                median_ms: median(&ms),
                p90_ms: ms[(ms.len() * 9).div_ceil(10) - 1], // nearest rank
                min_ms: ms[0],
                ratio: 1.0,
                extra_ms: 0.0,
                samples_ms: ms,
            }
        })
        .collect();
    let baseline = reports[0].median_ms;
    for r in &mut reports {
        r.ratio = r.median_ms / baseline;
        r.extra_ms = r.median_ms - baseline;
    }
    reports
}

/// Of sorted, non-empty samples.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn print_table(reports: &[Report]) {
    let baseline = &reports[0].name;
    let width = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max(6);
    println!(
        "{:<width$} {:>5} {:>10} {:>8} {:>8} {:>9} {:>9}",
        "binary",
        "runs",
        "median ms",
        "p90 ms",
        "min ms",
        format!("x {baseline}"),
        "extra ms"
    );
    for r in reports {
        println!(
            "{:<width$} {:>5} {:>10.2} {:>8.2} {:>8.2} {:>9.2} {:>+9.2}",
            r.name,
            r.samples_ms.len(),
            r.median_ms,
            r.p90_ms,
            r.min_ms,
            r.ratio,
            r.extra_ms
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90() {
        let ms: Vec<f64> = (1..=10).map(f64::from).collect();
        let r = report(&[PathBuf::from("x/hello")], vec![ms]);
        assert_eq!((r[0].median_ms, r[0].p90_ms, r[0].min_ms), (5.5, 9.0, 1.0));
        assert_eq!(r[0].name, "hello");
    }

    #[test]
    fn ratios_are_against_the_first() {
        let paths = [PathBuf::from("hello"), PathBuf::from("scan")];
        let r = report(&paths, vec![vec![2.0, 2.0, 2.0], vec![5.0, 4.0, 6.0]]);
        assert_eq!((r[1].ratio, r[1].extra_ms), (2.5, 3.0));
    }
}
