//! Disposition intake (the `dispose` function): a station's signed report of what became of
//! the boxes it collected, entered on the station's chain at once, with the mass balance.
//!
//! Unlike an action, a report is not queued for crediting: it moves no member's points, so
//! intake enters it itself, conditioned on the chain head like every append. The answer is 201
//! with the entry's place (200 and `replay` for the same id and body again, 409 for the same id
//! with another body). A report that breaks the balance is 422 with the rule's code
//! (`over_stock`, `ticket_used`, `unknown_ticket`, `over_ticket`, `batch_used`,
//! `unknown_batch`, `over_batch`, `workbooks_over_pulp`, `reused_over_parcels`) and writes
//! nothing. An integration reports only for its own stations (403 `station_not_yours`).

use super::integer::integer;
use super::scan::{own_station, signed};
use super::signature::TOLERANCE_S;
use super::{json, parse, ApiError};
use crate::store::{DisposeStore, Disposed, StoreError};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use greenloop_core::digest::Digest;
use greenloop_core::disposition::{Disposal, Draw, Params, Report};
use greenloop_core::domain::Invalid;
use serde::{Deserialize, Serialize};

/// This function's view of the app: its store narrowed to the roles it may use.
type App = super::App<dyn DisposeStore>;

pub fn routes(app: &super::App) -> Router {
    Router::new()
        .route("/v1/disposition", post(report))
        .with_state(app.with_store::<dyn DisposeStore>(app.store.clone()))
}

/// The body of `POST /v1/disposition`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportIn {
    report_id: String,
    station: String,
    #[serde(deserialize_with = "integer")]
    at: i64,
    report: ReportBody,
}

/// The report as the API takes it: the core's `Report`, with its counts read as JSON Schema
/// integers (`228.0` is 228), so the digest, taken over the typed report, is the same.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ReportBody {
    Outgoing {
        #[serde(deserialize_with = "integer")]
        parcels: u64,
        #[serde(deserialize_with = "integer")]
        reused_boxes: u64,
    },
    Baled {
        #[serde(deserialize_with = "integer")]
        baled_g: u64,
        mill: String,
        ticket: String,
    },
    Workbooks {
        batch: String,
        draws: Vec<DrawBody>,
        mill: String,
        #[serde(deserialize_with = "integer")]
        workbooks: u64,
    },
    Donation {
        batch: String,
        mill: String,
        organisation: String,
        receipt: String,
        school: String,
        #[serde(deserialize_with = "integer")]
        workbooks: u64,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DrawBody {
    ticket: String,
    #[serde(deserialize_with = "integer")]
    pulp_g: u64,
}

impl From<ReportBody> for Report {
    fn from(r: ReportBody) -> Report {
        match r {
            ReportBody::Outgoing {
                parcels,
                reused_boxes,
            } => Report::Outgoing {
                parcels,
                reused_boxes,
            },
            ReportBody::Baled {
                baled_g,
                mill,
                ticket,
            } => Report::Baled {
                baled_g,
                mill,
                ticket,
            },
            ReportBody::Workbooks {
                batch,
                draws,
                mill,
                workbooks,
            } => Report::Workbooks {
                batch,
                draws: draws
                    .into_iter()
                    .map(|d| Draw {
                        ticket: d.ticket,
                        pulp_g: d.pulp_g,
                    })
                    .collect(),
                mill,
                workbooks,
            },
            ReportBody::Donation {
                batch,
                mill,
                organisation,
                receipt,
                school,
                workbooks,
            } => Report::Donation {
                batch,
                mill,
                organisation,
                receipt,
                school,
                workbooks,
            },
        }
    }
}

/// Where a report was entered.
#[derive(Serialize)]
pub struct ReportView {
    pub report_id: String,
    pub kind: &'static str,
    pub station: String,
    pub chain: String,
    pub seq: u64,
    pub hash: Digest,
    /// Boxes it took out of the station's stock, and the stock before it.
    pub boxes: u64,
    pub stock_before: u64,
    pub replay: bool,
}

async fn report(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (integration, bytes) = signed(&app, &method, &uri, &headers, body).await?;
    let r: ReportIn = parse(&bytes)?;
    let d = Disposal {
        id: r.report_id,
        integration,
        station: r.station,
        at: r.at,
        report: r.report.into(),
    };
    let params = Params::builtin();
    d.validate(params)?;
    tracing::Span::current().record("action_id", d.id.as_str());
    if d.at > app.now() + TOLERANCE_S {
        return Err(Invalid::new("future_time", "at is in the future").into());
    }
    own_station(app.store.as_ref(), &d.station, &d.integration, "reports").await?;
    let Disposed { entry, replay } = app.store.dispose(&d, params).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("report {} was already entered with a different body", d.id),
        ),
        other => other.into(),
    })?;
    tracing::info!(replay, kind = entry.report.kind(), "report entered");
    let view = ReportView {
        report_id: entry.id,
        kind: entry.report.kind(),
        station: entry.station,
        chain: entry.chain,
        seq: entry.seq,
        hash: entry.hash,
        boxes: entry.boxes,
        stock_before: entry.stock_before,
        replay,
    };
    let status = if replay {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json(status, &view))
}
