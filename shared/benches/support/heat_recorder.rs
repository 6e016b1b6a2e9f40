//! The recorder of the partition-heat model (`tests/support/heat.rs`, `docs/scaling.md`): an SDK
//! interceptor that reads every request body and answer, keeps the heat model's shadow of every
//! table up to date, and while a phase is being recorded keeps what each request cost, where.
//!
//! One recorder per process (a bench has one client): `interceptor()` for the client,
//! `start(client, table)` before a timed phase, `stop(phase)` after it, `report()` at the end.

use crate::heat::{self, AtRate, Heat, Params, Phase, Sent, Shadow};
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

#[derive(Debug, Default)]
struct State {
    shadow: Shadow,
    /// Requests on the wire, by the address of their execution's context (as `Counter`).
    in_flight: HashMap<usize, (Sent, Instant)>,
    /// The table being recorded, and what was recorded.
    recording: Option<String>,
    requests: Vec<heat::Request>,
    /// Recorded phases, in order.
    phases: Vec<Phase>,
}

#[derive(Debug, Clone)]
pub struct HeatRecorder(Arc<Mutex<State>>);

fn recorder() -> &'static HeatRecorder {
    static ONE: OnceLock<HeatRecorder> = OnceLock::new();
    ONE.get_or_init(|| HeatRecorder(Arc::default()))
}

/// The interceptor to add to the bench's client.
pub fn interceptor() -> HeatRecorder {
    recorder().clone()
}

/// Starts recording the requests on `table`, after one `DescribeTable` (its answer teaches the
/// shadow the table's keys and indexes, in case it missed the `CreateTable`).
pub async fn start(client: &Client, table: &str) {
    client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe the table");
    let mut s = recorder().0.lock().unwrap();
    s.shadow.retain(table);
    s.requests.clear();
    s.recording = Some(table.to_owned());
}

/// Stops recording; keeps the phase with the requests recorded since `start`.
pub fn stop(mut phase: Phase) {
    let mut s = recorder().0.lock().unwrap();
    s.recording = None;
    phase.requests = std::mem::take(&mut s.requests);
    s.phases.push(phase);
}

fn env_list(name: &str) -> Vec<f64> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Prints the model: per configuration, then for the first batched phase (the largest batch)
/// with the most chains, at `HEAT_RATE` (default 50000; a list, e.g. `1000,10000,50000`)
/// over `HEAT_CHAINS` (default: the phase's own chains and the model's recommendation); Lambda
/// concurrency at `HEAT_TX_MS` per transaction if set, else at the measured latency.
pub fn report() {
    let s = recorder().0.lock().unwrap();
    let heats: Vec<Heat> = s.phases.iter().map(Heat::of).collect();
    let Some(main) = heats
        .iter()
        .filter(|h| h.tasks == 1)
        .max_by_key(|h| (h.batch, h.chains))
        .or(heats.first())
    else {
        return;
    };
    let p = Params {
        transaction_secs: env_list("HEAT_TX_MS").first().map(|ms| ms / 1e3),
        ..Params::default()
    };
    let mut rates = env_list("HEAT_RATE");
    if rates.is_empty() {
        rates.push(50_000.0);
    }
    let chains_env: Vec<u32> = env_list("HEAT_CHAINS")
        .into_iter()
        .map(|c| c as u32)
        .collect();
    let mut rows: Vec<AtRate> = Vec::new();
    for &rate in &rates {
        let mut chains = chains_env.clone();
        if chains.is_empty() {
            chains = vec![main.chains as u32, main.chains_needed(&p, rate)];
            chains.dedup();
        }
        rows.extend(chains.into_iter().map(|n| main.project(&p, rate, n)));
    }
    let stats = &s.shadow.stats;
    println!();
    println!(
        "partition heat (docs/scaling.md): units per credited action by configuration (the timed \
         crediting phase; on-demand us-east-1 prices after the 1 November 2024 cut: $0.625 per \
         million write and $0.125 per million read request units)"
    );
    println!();
    print!("{}", heat::configurations_markdown(&heats));
    println!();
    println!(
        "projected from tasks {}, chains {}, batch {} ({} actions): busiest campus {}% of all \
         actions, one member/station/action at most {}/s, per-chain partitions under {}% of \
         their limits, transactions of {:.0} ms{}; shadow: {} items read back whole, {} differed in size, {} update actions \
         approximated, {} writes to tables of unknown design",
        main.tasks,
        main.chains,
        main.batch,
        main.phase_actions,
        100.0 * p.busiest_campus_share,
        p.entity_rate,
        100.0 * p.headroom,
        1e3 * p
            .transaction_secs
            .unwrap_or(main.transaction_secs / main.transactions.max(1) as f64),
        if p.transaction_secs.is_some() { " (HEAT_TX_MS)" } else { " (as measured)" },
        stats.checked,
        stats.differed,
        stats.approximate,
        stats.unknown_table
    );
    if !stats.differed_keys.is_empty() {
        println!(
            "items the shadow had otherwise: {}",
            stats.differed_keys.join("; ")
        );
    }
    println!();
    print!("{}", heat::hot_markdown(&rows));
    println!();
    print!("{}", heat::summary_markdown(main, &p, &rows));
    if let Some(last) = rows.last() {
        println!();
        println!(
            "every class of partitions at {:.0}/s over {} chains:",
            last.rate, last.chains
        );
        println!();
        print!(
            "{}",
            heat::classes_markdown(main, &p, last.rate, last.chains)
        );
    }
}

impl Intercept for HeatRecorder {
    fn name(&self) -> &'static str {
        "HeatRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let op = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        let body = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(serde_json::Value::Null);
        let mut s = self.0.lock().unwrap();
        let sent = s.shadow.sent(&op, &body);
        let key = context.inner() as *const _ as usize;
        s.in_flight.insert(key, (sent, Instant::now()));
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = context.inner() as *const _ as usize;
        let mut s = self.0.lock().unwrap();
        let Some((sent, at)) = s.in_flight.remove(&key) else {
            return Ok(());
        };
        let response = context.response();
        let body: Option<serde_json::Value> = response
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok());
        let recorded = s.recording.is_some() && s.recording.as_deref() == sent.table();
        let request = s.shadow.answered(
            sent,
            response.status().as_u16(),
            body.as_ref(),
            at.elapsed().as_secs_f64(),
        );
        if recorded {
            s.requests.push(request);
        }
        Ok(())
    }
}
