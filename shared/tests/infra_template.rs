//! The SAM template (`infra/template.yaml`) against the code it deploys:
//!
//! - every operation of `docs/openapi.yaml` is routed to exactly one function, whose binary's
//!   router serves it, and every function runs a binary of `functions/` on arm64;
//! - the table it declares is the one `DynamoStore::create_table` makes (DynamoDB Local);
//! - each function's role allows every DynamoDB call that function makes, on the items it makes
//!   it on, and nothing it does not: the calls are recorded from the SDK while each function's
//!   routes or events run on DynamoDB Local, and checked against the role's statements.

mod support;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use greenloop::http::{self, App};
use greenloop::store::dynamodb::DynamoStore;
use greenloop::store::{Grant, LedgerSource, Store};
use serde_json::{json, Value};
use serde_norway::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use support::{dynamodb_local, http_app};
use tower::ServiceExt;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const NOW: i64 = 1_793_851_200;
const SECRET: &str = "whsec-infra-test";
const PEPPER: &[u8] = b"infra-test-pepper-0123";
const CAMPUS_KEY: &str =
    "glk_c0000000000000aa_1111111111111111111111111111111111111111111111111111111111111111";
const AUDIT_KEY: &str =
    "glk_a0000000000000aa_2222222222222222222222222222222222222222222222222222222222222222";

// ------------------------------------------------------------------ the template, read

fn template() -> Yaml {
    let text = std::fs::read_to_string(format!("{ROOT}/infra/template.yaml")).unwrap();
    serde_norway::from_str(&text).expect("the template parses as YAML")
}

/// A value with CloudFormation's short-form tag (`!Ref`, `!GetAtt`, `!Sub`) taken off.
fn untag(v: &Yaml) -> &Yaml {
    match v {
        Yaml::Tagged(t) => &t.value,
        v => v,
    }
}

fn str_of(v: &Yaml) -> String {
    untag(v).as_str().unwrap_or_default().to_owned()
}

fn list(v: &Yaml) -> Vec<&Yaml> {
    match untag(v) {
        Yaml::Sequence(s) => s.iter().collect(),
        Yaml::Null => vec![],
        v => vec![v],
    }
}

/// Resources of `kind`, by logical id.
fn resources<'a>(t: &'a Yaml, kind: &str) -> BTreeMap<String, &'a Yaml> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (k.as_str().unwrap().to_owned(), r))
        .collect()
}

/// `(METHOD, path)` of each HTTP API event, with the function logical id it invokes.
fn routes(t: &Yaml) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (name, f) in resources(t, "AWS::Serverless::Function") {
        let Some(events) = f["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, e) in events.iter().filter(|(_, e)| e["Type"] == "HttpApi") {
            let p = &e["Properties"];
            let key = (str_of(&p["Method"]), str_of(&p["Path"]));
            assert!(
                out.insert(key.clone(), name.clone()).is_none(),
                "{key:?} routed twice"
            );
        }
    }
    out
}

fn binary_of(f: &Yaml) -> String {
    str_of(&f["Metadata"]["BuildProperties"]["Binary"])
}

// ------------------------------------------------------------------ routes

fn openapi_operations() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(format!("{ROOT}/docs/openapi.yaml")).unwrap();
    let spec: Yaml = serde_norway::from_str(&text).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    out
}

/// The router a function binary serves.
fn router_of(binary: &str, app: App) -> axum::Router {
    match binary {
        "scan" => http::mount(http::scan::routes(&app)),
        "dispose" => http::mount(http::disposal::routes(&app)),
        "campus" => http::mount(http::campus::routes(&app).merge(http::pages::routes(&app.site))),
        "audit" => http::mount(
            http::audit::routes(&app)
                .merge(http::brand::routes(&app))
                .merge(http::public::routes(&app)),
        ),
        other => panic!("{other} serves no HTTP routes"),
    }
}

#[tokio::test]
async fn every_api_operation_goes_to_one_function_whose_binary_serves_it() {
    let t = template();
    let routed = routes(&t);
    let spec = openapi_operations();
    let template_ops: BTreeSet<_> = routed.keys().cloned().collect();
    assert_eq!(template_ops, spec, "template routes = OpenAPI operations");

    let functions = resources(&t, "AWS::Serverless::Function");
    let (store, _dir) = support::temp_store();
    let store: Arc<dyn Store> = Arc::new(store);
    for ((method, path), function) in &routed {
        let binary = binary_of(functions[function]);
        let app = http_app::app(store.clone(), PEPPER, SECRET, NOW);
        let uri = path.replace(['{', '}'], "");
        let request = Request::builder()
            .method(method.as_str())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let res = router_of(&binary, app).oneshot(request).await.unwrap();
        let status = res.status();
        let body = body_json(res).await;
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && body["message"] != "no such route",
            "{method} {path} goes to {function}, whose binary `{binary}` does not serve it"
        );
    }
}

#[test]
fn every_function_is_an_arm64_cargo_lambda_build_of_a_binary_in_functions() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(str_of(&globals["Architectures"][0]), "arm64");
    assert_eq!(globals["Handler"], "bootstrap");
    let mut binaries = BTreeSet::new();
    for entry in std::fs::read_dir(format!("{ROOT}/functions")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(manifest) {
            let bin = text
                .lines()
                .skip_while(|l| l.trim() != "[[bin]]")
                .find_map(|l| l.strip_prefix("name = "))
                .expect("a [[bin]] name");
            binaries.insert(bin.trim_matches('"').to_owned());
        }
    }
    let mut deployed = BTreeSet::new();
    for (name, f) in resources(&t, "AWS::Serverless::Function") {
        let p = &f["Properties"];
        assert!(
            p.get("Runtime").is_none() && p.get("Architectures").is_none(),
            "{name}"
        );
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        let binary = binary_of(f);
        assert!(
            binaries.contains(&binary),
            "{name} runs unknown binary {binary}"
        );
        deployed.insert(binary);
    }
    assert_eq!(deployed, binaries, "every binary is deployed");
}

// ------------------------------------------------------------------ capacity and logs

/// The time a request is assumed to take when a function's reservation is sized against its
/// routes' throttles (docs/permissions.md, "Concurrency and throttles").
const ASSUMED_REQUEST_S: f64 = 0.1;
/// Lambda's default concurrency quota per account and Region, of which 100 stay unreserved.
const ACCOUNT_CONCURRENCY: u64 = 1000;
const UNRESERVED_MINIMUM: u64 = 100;

/// A function's reserved concurrency: a number, or the default of the parameter it names.
fn reserved(t: &Yaml, name: &str, f: &Yaml) -> u64 {
    let v = &f["Properties"]["ReservedConcurrentExecutions"];
    match v {
        Yaml::Tagged(_) => {
            let param = &t["Parameters"][str_of(v).as_str()];
            assert_eq!(param["Type"], "Number", "{name}: {v:?}");
            assert!(param["MinValue"].as_u64() >= Some(1), "{name}: MinValue");
            param["Default"].as_u64().expect("a default")
        }
        v => v
            .as_u64()
            .unwrap_or_else(|| panic!("{name} reserves no concurrency")),
    }
}

/// The stage's throttle of each route key (`METHOD /path`): (rate per second, burst).
fn throttles(t: &Yaml) -> BTreeMap<String, (f64, f64)> {
    let api = &resources(t, "AWS::Serverless::HttpApi")["Api"]["Properties"];
    let limits = |s: &Yaml| {
        let n = |k: &str| s[k].as_f64().unwrap_or_else(|| panic!("{k} in {s:?}"));
        (n("ThrottlingRateLimit"), n("ThrottlingBurstLimit"))
    };
    let mut out = BTreeMap::from([("$default".to_owned(), limits(&api["DefaultRouteSettings"]))]);
    for (key, s) in api["RouteSettings"].as_mapping().expect("route settings") {
        out.insert(key.as_str().unwrap().to_owned(), limits(s));
    }
    out
}

#[test]
fn every_route_is_throttled_and_the_public_and_portal_routes_tightest() {
    let t = template();
    let mut throttled = throttles(&t);
    let (default_rate, default_burst) = throttled.remove("$default").unwrap();
    let routed = routes(&t);
    let keys: BTreeSet<String> = routed.keys().map(|(m, p)| format!("{m} {p}")).collect();
    // A key naming no route fails the deployment; a route without one takes the default.
    assert_eq!(
        throttled.keys().cloned().collect::<BTreeSet<_>>(),
        keys,
        "RouteSettings name exactly the routes"
    );
    for (key, (rate, burst)) in &throttled {
        assert!(*rate >= 1.0 && *burst >= 1.0, "{key} is shut");
        assert!(
            *rate <= default_rate && *burst <= default_burst,
            "{key} is looser than the stage default"
        );
    }
    let rate_of = |function: &str| -> Vec<(String, f64)> {
        routed
            .iter()
            .filter(|(_, f)| *f == function)
            .map(|((m, p), _)| {
                let key = format!("{m} {p}");
                let rate = throttled[&key].0;
                (key, rate)
            })
            .collect()
    };
    // Erasure is the scan function's one rare webhook, throttled tighter than any intake one.
    let mut webhooks = rate_of("ScanFunction");
    webhooks.retain(|(key, _)| key != "POST /v1/members/{user}/erasure");
    let slowest_webhook = webhooks.iter().map(|(_, r)| *r).fold(f64::MAX, f64::min);
    let mut tight = rate_of("CampusFunction");
    tight.push((
        "PUT /v1/campuses/{campus}/members/{user}".into(),
        throttled["PUT /v1/campuses/{campus}/members/{user}"].0,
    ));
    assert!(tight.iter().any(|(k, _)| k == "GET /v1/campuses"));
    for (key, rate) in tight {
        assert!(
            rate < slowest_webhook,
            "{key} ({rate}/s) is not tighter than every signed webhook ({slowest_webhook}/s)"
        );
    }
}

#[test]
fn every_function_reserves_concurrency_its_routes_throttles_fit_in() {
    let t = template();
    let throttled = throttles(&t);
    let routed = routes(&t);
    let mut total = 0;
    for (name, f) in resources(&t, "AWS::Serverless::Function") {
        let reserved = reserved(&t, &name, f);
        assert!(reserved >= 1, "{name}");
        total += reserved;
        let admitted: f64 = routed
            .iter()
            .filter(|(_, function)| **function == name)
            .map(|((m, p), _)| throttled[&format!("{m} {p}")].0)
            .sum();
        assert!(
            admitted * ASSUMED_REQUEST_S <= reserved as f64,
            "{name}: its routes admit {admitted}/s, more than {reserved} concurrent executions \
             serve at {ASSUMED_REQUEST_S} s a request"
        );
    }
    assert!(
        total + UNRESERVED_MINIMUM <= ACCOUNT_CONCURRENCY,
        "the defaults reserve {total}: more than an account with the default quota can"
    );
    // One checkpoint run at a time, whatever the parameters.
    let checkpoint = &resources(&t, "AWS::Serverless::Function")["CheckpointFunction"];
    assert_eq!(
        checkpoint["Properties"]["ReservedConcurrentExecutions"].as_u64(),
        Some(1)
    );
}

#[test]
fn no_function_can_be_set_to_log_at_trace() {
    let t = template();
    let allowed: Vec<String> = list(&t["Parameters"]["LogLevel"]["AllowedValues"])
        .iter()
        .map(|v| str_of(v))
        .collect();
    assert!(
        !allowed.iter().any(|v| v.eq_ignore_ascii_case("trace")),
        "{allowed:?}"
    );
    assert!(allowed.contains(&"DEBUG".to_owned()), "{allowed:?}");
    for (name, f) in resources(&t, "AWS::Serverless::Function") {
        let logging = &f["Properties"]["LoggingConfig"];
        assert_eq!(
            str_of(&logging["ApplicationLogLevel"]),
            "LogLevel",
            "{name}"
        );
        assert_eq!(logging["LogFormat"], "JSON", "{name}");
    }
}

// ------------------------------------------------------------------ the table

/// An index as compared: key schema, projection type, projected non-key attributes.
type Index = (Vec<(String, String)>, String, Vec<String>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_declares_the_table_the_store_creates() {
    let store = DynamoStore::new(
        dynamodb_local::client().await,
        dynamodb_local::unique_table("infra"),
    );
    store.create_table().await.unwrap();
    let made = dynamodb_local::client()
        .await
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .unwrap()
        .table
        .unwrap();

    let t = template();
    let declared = &resources(&t, "AWS::DynamoDB::Table")["Table"]["Properties"];
    let keys = |v: &Yaml| -> Vec<(String, String)> {
        list(v)
            .iter()
            .map(|k| (str_of(&k["AttributeName"]), str_of(&k["KeyType"])))
            .collect()
    };
    let made_keys = |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        ks.iter()
            .map(|k| (k.attribute_name.clone(), k.key_type.as_str().to_owned()))
            .collect()
    };
    assert_eq!(keys(&declared["KeySchema"]), made_keys(made.key_schema()));
    let attrs: BTreeSet<(String, String)> = list(&declared["AttributeDefinitions"])
        .iter()
        .map(|a| (str_of(&a["AttributeName"]), str_of(&a["AttributeType"])))
        .collect();
    let made_attrs: BTreeSet<(String, String)> = made
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name.clone(),
                a.attribute_type.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(attrs, made_attrs);
    let indexes: BTreeMap<String, Index> = list(&declared["GlobalSecondaryIndexes"])
        .iter()
        .map(|i| {
            let p = &i["Projection"];
            let extra = list(&p["NonKeyAttributes"])
                .iter()
                .map(|a| str_of(a))
                .collect();
            (
                str_of(&i["IndexName"]),
                (keys(&i["KeySchema"]), str_of(&p["ProjectionType"]), extra),
            )
        })
        .collect();
    let made_indexes: BTreeMap<_, _> = made
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let p = i.projection().unwrap();
            (
                i.index_name().unwrap().to_owned(),
                (
                    made_keys(i.key_schema()),
                    p.projection_type().unwrap().as_str().to_owned(),
                    p.non_key_attributes().to_vec(),
                ),
            )
        })
        .collect();
    assert_eq!(indexes, made_indexes);
    let stream = made.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(
        str_of(&declared["StreamSpecification"]["StreamViewType"]),
        stream.stream_view_type().unwrap().as_str()
    );
    assert_eq!(declared["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(declared["DeletionProtectionEnabled"], true);
    assert_eq!(
        declared["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}

// ------------------------------------------------------------------ roles against calls

/// One DynamoDB authorisation a request needs: an IAM action on a resource (`table` or
/// `index/<name>`), for an item whose partition key is `key` (None for a query).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Call {
    action: String,
    resource: String,
    key: Option<String>,
}

/// Records the authorisations each request needs, from the request the SDK is about to send;
/// it can also fail every request of one operation, to drive a function's failure path.
#[derive(Debug, Default, Clone)]
struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
    refuse: Arc<Mutex<Option<&'static str>>>,
}

impl Recorder {
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }

    /// Fails every request of `operation` (None: none) from now on.
    fn refuse(&self, operation: Option<&'static str>) {
        *self.refuse.lock().unwrap() = operation;
    }
}

fn pk(item: &Value) -> Option<String> {
    item["pk"]["S"].as_str().map(str::to_owned)
}

/// The authorisations one DynamoDB JSON request needs. `TransactWriteItems` and
/// `BatchGetItem` are authorised item by item, as IAM does.
fn calls(operation: &str, body: &Value) -> Vec<Call> {
    let call = |action: &str, resource: String, key| Call {
        action: format!("dynamodb:{action}"),
        resource,
        key,
    };
    match operation {
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t.as_object().unwrap().iter())
            .map(|(kind, op)| {
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Delete" => "DeleteItem",
                    other => panic!("transact {other}"),
                };
                let key = pk(&op["Key"]).or_else(|| pk(&op["Item"]));
                call(action, "table".into(), key)
            })
            .collect(),
        "BatchGetItem" => body["RequestItems"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|r| r["Keys"].as_array().unwrap().iter())
            .map(|k| call("BatchGetItem", "table".into(), pk(k)))
            .collect(),
        "Query" | "Scan" => {
            let resource = match body["IndexName"].as_str() {
                Some(index) => format!("index/{index}"),
                None => "table".into(),
            };
            vec![call(operation, resource, None)]
        }
        _ => {
            let key = pk(&body["Key"]).or_else(|| pk(&body["Item"]));
            vec![call(operation, "table".into(), key)]
        }
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default();
        let body: Value = serde_json::from_slice(request.body().bytes().unwrap_or(b"{}"))?;
        self.calls.lock().unwrap().extend(calls(operation, &body));
        match *self.refuse.lock().unwrap() {
            Some(refused) if refused == operation => Err(format!("{operation} refused").into()),
            _ => Ok(()),
        }
    }
}

/// A role's statements, with `!GetAtt Table.Arn` written `table` and index ARNs
/// `index/<name>`; non-DynamoDB resources keep their logical reference.
#[derive(Debug)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<String>,
    leading_keys: Option<Vec<String>>,
}

fn resource_name(v: &Yaml) -> String {
    let s = str_of(v);
    match s.as_str() {
        "Table.Arn" => "table".into(),
        _ => match s.strip_prefix("${Table.Arn}/") {
            Some(rest) => rest.into(),
            None => s,
        },
    }
}

fn role_statements(t: &Yaml, role: &str) -> Vec<Statement> {
    let role = &resources(t, "AWS::IAM::Role")[role]["Properties"];
    let mut out = Vec::new();
    for policy in list(&role["Policies"]) {
        for s in list(&policy["PolicyDocument"]["Statement"]) {
            assert_eq!(s["Effect"], "Allow");
            let cond = &s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            out.push(Statement {
                actions: list(&s["Action"]).iter().map(|a| str_of(a)).collect(),
                resources: list(&s["Resource"])
                    .iter()
                    .map(|r| resource_name(r))
                    .collect(),
                leading_keys: (!cond.is_null())
                    .then(|| list(cond).iter().map(|k| str_of(k)).collect()),
            });
        }
    }
    assert!(
        role.get("ManagedPolicyArns").is_none(),
        "managed policies grant more than the code uses"
    );
    out
}

fn glob(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

/// The statement of `statements` that allows `call`, if any.
fn allowing<'a>(statements: &'a [Statement], call: &Call) -> Option<&'a Statement> {
    statements.iter().find(|s| {
        s.actions.contains(&call.action)
            && s.resources.contains(&call.resource)
            && match (&s.leading_keys, &call.key) {
                (None, _) => true,
                (Some(patterns), Some(key)) => patterns.iter().any(|p| glob(p, key)),
                (Some(_), None) => false,
            }
    })
}

/// A request signed as the fixture's webhook integration; no body is a `GET`.
fn signed(path: &str, body: Option<Value>) -> Request<Body> {
    let method = if body.is_some() { "POST" } else { "GET" };
    signed_as(method, path, body)
}

/// A request signed by the integration, with `method`.
fn signed_as(method: &str, path: &str, body: Option<Value>) -> Request<Body> {
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
    let bytes = bytes.unwrap_or_default();
    http_app::signed(
        Request::builder().method(method).uri(path),
        SECRET,
        NOW,
        &bytes,
    )
    .header("content-type", "application/json")
    .body(Body::from(bytes))
    .unwrap()
}

/// A request with `key` as its bearer key, if any.
fn keyed(method: &str, path: &str, key: Option<&str>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        r = r.header("authorization", format!("Bearer {key}"));
    }
    r.body(Body::empty()).unwrap()
}

async fn body_json(res: axum::response::Response) -> Value {
    serde_json::from_slice(&http_app::body_bytes(res).await).unwrap_or(Value::Null)
}

/// Sends each request through `router`; each must succeed.
async fn run(router: &axum::Router, requests: Vec<Request<Body>>) {
    for r in requests {
        let what = format!("{} {}", r.method(), r.uri());
        let res = router.clone().oneshot(r).await.unwrap();
        let status = res.status();
        assert!(
            status.is_success(),
            "{what}: {status} {}",
            body_json(res).await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_allows_exactly_the_dynamodb_calls_its_function_makes() {
    let table = dynamodb_local::unique_table("roles");
    let plain = Arc::new(DynamoStore::new(dynamodb_local::client().await, &table));
    plain.create_table().await.unwrap();
    http_app::put_campuses(plain.as_ref(), &[("sjtu", "SJTU", "Shanghai")]).await;
    http_app::put_stations(plain.as_ref(), &[("st-sjtu", "Shanghai", Some("sjtu"))]).await;
    http_app::put_api_keys(
        plain.as_ref(),
        &[
            (
                CAMPUS_KEY,
                Grant::Campus {
                    campus: "sjtu".into(),
                },
            ),
            (AUDIT_KEY, Grant::Auditor),
        ],
    )
    .await;

    let recorder = Recorder::default();
    let config = aws_sdk_dynamodb::config::Builder::from(&dynamodb_local::sdk_config().await)
        .interceptor(recorder.clone())
        .build();
    let store: Arc<dyn Store> = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        &table,
    ));
    let app = || http_app::app(store.clone(), PEPPER, SECRET, NOW);
    let mut made: BTreeMap<&str, Vec<Call>> = BTreeMap::new();

    // Each function: its init (the warm-up read), then everything it serves.
    greenloop::config::warm_up(store.as_ref()).await;
    let scan = http::mount(http::scan::routes(&app()));
    let boxes = json!({"books": 1, "boxes": [{"brand": "brand-01", "count": 2}], "clothing_g": 0, "shoes": 0});
    let drop = json!({"scan_id": "s-1", "user": "ann", "station": "st-sjtu", "at": NOW - 60, "items": boxes});
    run(
        &scan,
        vec![
            signed("/v1/scans", Some(drop.clone())),
            signed("/v1/scans", Some(drop)), // a replay reads the recorded action back
            signed(
                "/v1/pledges",
                Some(json!({"pledge_id": "p-1", "user": "ann", "station": "st-sjtu", "at": NOW - 120, "boxes": 2})),
            ),
            signed(
                "/v1/appointments",
                Some(json!({"appointment_id": "a-1", "user": "bo", "station": "st-sjtu", "at": NOW - 600})),
            ),
            signed(
                "/v1/appointments/a-1/complete",
                Some(json!({"clothing_g": 1500, "at": NOW - 300})),
            ),
            signed("/v1/actions/p-1", None),
            // Erasure of a person the integration brought, and the same request again.
            signed(
                "/v1/members/bo/erasure",
                Some(json!({"request": "erase-1"})),
            ),
            signed(
                "/v1/members/bo/erasure",
                Some(json!({"request": "erase-1"})),
            ),
        ],
    )
    .await;
    made.insert("ScanFunction", recorder.take());

    greenloop::config::warm_up(store.as_ref()).await;
    // The table's own stream records, as the event source mapping delivers them.
    let stream = support::stream::stream_event(&plain, &mut 0).await;
    let rules = greenloop::catalog::Rules::defaults();
    let done = greenloop::credit::trigger::handle(store.as_ref(), &rules, 4, stream, None)
        .await
        .unwrap();
    assert_eq!(done.run.credited, 3, "the scan, the pledge, the pickup");
    made.insert("CreditFunction", recorder.take());

    // A credited pledge's status reads its member's account for the boxes returned.
    run(&scan, vec![signed("/v1/actions/p-1", None)]).await;
    made.get_mut("ScanFunction")
        .unwrap()
        .extend(recorder.take());

    greenloop::config::warm_up(store.as_ref()).await;
    let affiliation = http::mount(http::campus::routes(&app()));
    run(
        &affiliation,
        vec![
            keyed("PUT", "/v1/campuses/sjtu/members/bo", Some(CAMPUS_KEY)),
            // The member's own choice, through their integration: a move is a transfer.
            signed_as(
                "PUT",
                "/v1/members/ann/campus",
                Some(json!({"campus": "sjtu"})),
            ),
        ],
    )
    .await;
    made.insert("AffiliationFunction", recorder.take());

    greenloop::config::warm_up(store.as_ref()).await;
    let campus = http::mount(http::campus::routes(&app()));
    run(
        &campus,
        vec![
            keyed("GET", "/v1/campuses", None),
            keyed("GET", "/v1/campuses/sjtu/summary", Some(CAMPUS_KEY)),
            keyed("GET", "/v1/campuses/sjtu/leaderboard", Some(CAMPUS_KEY)),
            keyed("GET", "/v1/campuses/sjtu/members/bo", Some(CAMPUS_KEY)),
        ],
    )
    .await;
    made.insert("CampusFunction", recorder.take());

    // The checkpoint job: a first run signs every chain; after one more credited scan, a second
    // restores the tree's frontier and extends it.
    greenloop::config::warm_up(store.as_ref()).await;
    let log_key = greenloop::checkpoint::LogKey::from_hex(greenloop_testkit::TEST_LOG_KEY).unwrap();
    greenloop::checkpoint::tree::publish_all(store.as_ref(), &log_key, NOW)
        .await
        .unwrap();
    // Then the brand figures: the first scan's brand-01 lot.
    let folded = greenloop::checkpoint::brand::fold_all(store.as_ref())
        .await
        .unwrap();
    assert_eq!(folded.iter().map(|f| f.shares).sum::<usize>(), 1);
    let mut checkpointing = recorder.take();
    // Enough scans at the one station that its chain reaches 16 entries: a stored tree node.
    // The first is by the member now affiliated: a campus's day totals.
    let more: Vec<_> = (2..15)
        .map(|i| {
            let user = if i == 2 { "bo".into() } else { format!("u-{i}") };
            let scan = json!({"scan_id": format!("s-{i}"), "user": user, "station": "st-sjtu", "at": NOW - 30, "items": {"books": 2, "boxes": [], "clothing_g": 0, "shoes": 0}});
            signed("/v1/scans", Some(scan))
        })
        .collect();
    run(&scan, more).await;
    made.get_mut("ScanFunction")
        .unwrap()
        .extend(recorder.take());
    // A trimmed record (no action in its image: the action is read by key) whose crediting
    // fails (every transaction refused, until the retries run out): the function reads the
    // announced action back to report the record failed.
    let stream = json!({"Records": [{
        "eventID": "2", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {"SequenceNumber": "200", "SizeBytes": 120, "StreamViewType": "NEW_IMAGE",
                     "Keys": {"pk": {"S": "ACTION#qr-1/s-2"}, "sk": {"S": "ACTION"}},
                     "NewImage": {"pk": {"S": "ACTION#qr-1/s-2"}, "sk": {"S": "ACTION"}, "state": {"S": "pending"}}}
    }]});
    recorder.refuse(Some("TransactWriteItems"));
    let failed = greenloop::credit::trigger::handle(store.as_ref(), &rules, 4, stream, None).await;
    recorder.refuse(None);
    assert_eq!(failed.unwrap().failures, ["200"]);
    let sweep = greenloop::credit::trigger::handle(store.as_ref(), &rules, 4, json!({}), None)
        .await
        .unwrap();
    assert_eq!(sweep.run.credited, 13);
    made.get_mut("CreditFunction")
        .unwrap()
        .extend(recorder.take());
    // Disposition: every kind of report, and a replay, at the station whose boxes were credited.
    greenloop::config::warm_up(store.as_ref()).await;
    let dispose = http::mount(http::disposal::routes(&app()));
    let report = |id: &str, report: Value| {
        signed(
            "/v1/disposition",
            Some(json!({"report_id": id, "station": "st-sjtu", "at": NOW - 10, "report": report})),
        )
    };
    run(
        &dispose,
        vec![
            report("o-1", json!({"kind": "outgoing", "parcels": 2, "reused_boxes": 1})),
            report("o-1", json!({"kind": "outgoing", "parcels": 2, "reused_boxes": 1})),
            report("b-1", json!({"kind": "baled", "baled_g": 300, "mill": "m-1", "ticket": "T-1"})),
            report("w-1", json!({"kind": "workbooks", "batch": "B-1", "mill": "m-1", "workbooks": 5, "draws": [{"ticket": "T-1", "pulp_g": 300}]})),
            report("g-1", json!({"kind": "donation", "batch": "B-1", "mill": "m-1", "workbooks": 5, "school": "s-1", "organisation": "o-1", "receipt": "r-1"})),
        ],
    )
    .await;
    made.insert("DisposeFunction", recorder.take());

    greenloop::checkpoint::tree::publish_all(store.as_ref(), &log_key, NOW + 300)
        .await
        .unwrap();
    greenloop::checkpoint::brand::fold_all(store.as_ref())
        .await
        .unwrap();
    checkpointing.extend(recorder.take());
    made.insert("CheckpointFunction", checkpointing);

    greenloop::config::warm_up(store.as_ref()).await;
    let audit = router_of("audit", app());
    let head = plain.chain_heads().await.unwrap()[0].clone();
    let (chain, size) = (head.chain, head.size);
    let member = plain.account_page(None, 1).await.unwrap()[0].member.clone();
    let audited = |path: String| keyed("GET", &path, Some(AUDIT_KEY));
    run(
        &audit,
        vec![
            keyed("GET", "/health", None),
            audited("/v1/audit/heads".into()),
            audited(format!("/v1/audit/chains/{chain}/entries")),
            audited("/v1/audit/accounts".into()),
            audited("/v1/audit/campus-totals".into()),
            audited("/v1/audit/rules".into()),
            audited(format!("/v1/audit/chains/{chain}/checkpoints")),
            audited(format!("/v1/audit/chains/{chain}/checkpoint")),
            audited(format!("/v1/audit/chains/{chain}/checkpoint?size={size}")),
            audited(format!("/v1/audit/chains/{chain}/inclusion?seq=0")),
            audited(format!("/v1/audit/chains/{chain}/consistency?first=1")),
            audited(format!("/v1/audit/members/{member}/statement")),
            audited("/v1/audit/disposition".into()),
            audited("/v1/audit/disposition/stations/st-sjtu".into()),
            keyed("GET", "/v1/brands", None),
            audited("/v1/brands/brand-01/statement".into()),
            keyed("GET", "/v1/log", None),
            keyed(
                "GET",
                &format!("/v1/log/chains/{chain}/consistency?first=1"),
                None,
            ),
            keyed("GET", "/v1/packaging", None),
        ],
    )
    .await;
    made.insert("AuditFunction", recorder.take());

    let t = template();
    let functions = resources(&t, "AWS::Serverless::Function");
    assert_eq!(
        functions
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        made.keys().copied().collect(),
        "every function was exercised"
    );
    let mut problems = Vec::new();
    for (function, calls) in &made {
        let role = str_of(&functions[*function]["Properties"]["Role"]);
        let role = role.strip_suffix(".Arn").unwrap();
        let statements = role_statements(&t, role);
        let mut used: BTreeSet<(String, String)> = BTreeSet::new();
        for call in calls {
            if allowing(&statements, call).is_none() {
                problems.push(format!("{function}'s role {role} does not allow {call:?}"));
            }
            used.insert((call.action.clone(), call.resource.clone()));
        }
        // Nothing more: every DynamoDB grant on the table or an index is used.
        for s in &statements {
            for action in s.actions.iter().filter(|a| a.starts_with("dynamodb:")) {
                let data = |r: &&String| *r == "table" || r.starts_with("index/");
                for resource in s.resources.iter().filter(data) {
                    if !used.contains(&(action.clone(), resource.clone())) {
                        problems.push(format!(
                            "{role} grants {action} on {resource}, which {function} never calls"
                        ));
                    }
                }
            }
            // And every partition-key pattern a grant is limited to is one the function's
            // calls under that grant touch: the prefixes it writes are exactly those allowed.
            for pattern in s.leading_keys.iter().flatten() {
                let touched = calls.iter().any(|c| {
                    s.actions.contains(&c.action)
                        && s.resources.contains(&c.resource)
                        && c.key.as_deref().is_some_and(|k| glob(pattern, k))
                });
                if !touched {
                    problems.push(format!(
                        "{role} allows {:?} on keys {pattern}, which {function} never touches",
                        s.actions
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_role_can_delete_scan_or_write_what_it_must_not() {
    let t = template();
    // A key read or write of the item whose partition key is `key`.
    let on = |action: &str, key: &str| Call {
        action: format!("dynamodb:{action}"),
        resource: "table".into(),
        key: Some(key.into()),
    };
    for role in resources(&t, "AWS::IAM::Role").keys() {
        let statements = role_statements(&t, role);
        for s in &statements {
            for a in &s.actions {
                assert!(!a.contains('*'), "{role} grants a wildcard action {a}");
                // Erasure deletes a pseudonym mapping (checked below); nothing else is deleted.
                if a == "dynamodb:DeleteItem" && role == "ScanRole" {
                    continue;
                }
                for banned in [
                    "DeleteItem",
                    "BatchWriteItem",
                    "Scan",
                    "DeleteTable",
                    "PartiQL",
                ] {
                    assert!(!a.contains(banned), "{role} grants {a}");
                }
            }
            for r in &s.resources {
                assert!(
                    !r.contains('*') || r.contains("parameter"),
                    "{role}: resource {r}"
                );
            }
        }
        let writes_entries = ["PutItem", "UpdateItem"]
            .iter()
            .any(|a| allowing(&statements, &on(a, "CHAIN#0")).is_some());
        match role.as_str() {
            "CreditRole" => assert!(writes_entries, "crediting appends entries"),
            "DisposeRole" => assert!(writes_entries, "disposition reports are entries"),
            _ => assert!(!writes_entries, "{role} could write a ledger entry"),
        }
        if matches!(role.as_str(), "CampusRole" | "AuditRole") {
            for s in &statements {
                let writes: Vec<_> = s
                    .actions
                    .iter()
                    .filter(|a| {
                        a.starts_with("dynamodb:")
                            && ![
                                "dynamodb:GetItem",
                                "dynamodb:BatchGetItem",
                                "dynamodb:Query",
                            ]
                            .contains(&a.as_str())
                    })
                    .collect();
                assert!(
                    writes.is_empty(),
                    "{role} is read-only but grants {writes:?}"
                );
            }
        }
    }
    // Every write is limited to the partition keys its function writes.
    for role in resources(&t, "AWS::IAM::Role").keys() {
        for s in role_statements(&t, role) {
            let writes = s.actions.iter().any(|a| {
                ["PutItem", "UpdateItem", "ConditionCheckItem", "DeleteItem"]
                    .iter()
                    .any(|w| a == &format!("dynamodb:{w}"))
            });
            if writes {
                let patterns = s.leading_keys.as_deref().unwrap_or_default();
                assert!(
                    !patterns.is_empty(),
                    "{role} writes {:?} without dynamodb:LeadingKeys",
                    s.actions
                );
                assert!(
                    patterns
                        .iter()
                        .all(|p| p.len() > 1 && !p[..p.len() - 1].contains('*')),
                    "{role}: a wildcard key pattern in {patterns:?}"
                );
            }
        }
    }
    // The credit role: entries, chain listings and the ranking (put); heads with their claim,
    // accounts, actions and campus days (updated). Not keys, stations, checkpoints, tree nodes
    // or the rules; no account is put whole, and no other ranking item.
    let credit = role_statements(&t, "CreditRole");
    for (action, key) in [
        ("PutItem", "CHAIN#0"),
        ("PutItem", "RANKING"),
        ("UpdateItem", "CHAIN#0"),
        ("UpdateItem", "MEMBER#x"),
        ("UpdateItem", "ACTION#x"),
        ("UpdateItem", "CAMPUS#x"),
        ("GetItem", "RANKING"),
    ] {
        assert!(
            allowing(&credit, &on(action, key)).is_some(),
            "credit may not {action} {key}"
        );
    }
    for key in [
        "KEY#x",
        "STATION#x",
        "TREE#x",
        "CKPT#x",
        "RULES",
        "RANKING#x",
        "KEYS",
    ] {
        for action in ["PutItem", "UpdateItem", "GetItem", "BatchGetItem"] {
            assert!(
                allowing(&credit, &on(action, key)).is_none(),
                "credit may {action} {key}"
            );
        }
    }
    for key in ["MEMBER#x", "ACTION#x", "CAMPUS#x"] {
        assert!(
            allowing(&credit, &on("PutItem", key)).is_none(),
            "credit may put {key} whole"
        );
    }

    // The scan role writes actions, pseudonym mappings and erasure receipts, and deletes
    // mappings only: not accounts, keys, campuses or the rules.
    let scan = role_statements(&t, "ScanRole");
    assert!(allowing(&scan, &on("PutItem", "ACTION#x")).is_some());
    assert!(allowing(&scan, &on("PutItem", "SUBJECT#x")).is_some());
    assert!(allowing(&scan, &on("PutItem", "ERASURE#x")).is_some());
    assert!(allowing(&scan, &on("DeleteItem", "SUBJECT#x")).is_some());
    for key in ["ACTION#x", "MEMBER#x", "ERASURE#x", "CHAIN#0"] {
        assert!(
            allowing(&scan, &on("DeleteItem", key)).is_none(),
            "scan may delete {key}"
        );
    }
    for key in ["MEMBER#x", "KEY#x", "CAMPUS#x", "RULES", "STATION#x"] {
        assert!(
            allowing(&scan, &on("PutItem", key)).is_none(),
            "scan may put {key}"
        );
        assert!(
            allowing(&scan, &on("UpdateItem", key)).is_none(),
            "scan may update {key}"
        );
    }
    // The checkpoint job writes checkpoints, tree nodes and brand figures: nothing it signs.
    let checkpoint = role_statements(&t, "CheckpointRole");
    for (action, key) in [
        ("PutItem", "CKPT#x"),
        ("PutItem", "LOG"),
        ("PutItem", "BRANDS"),
        ("PutItem", "BRANDCUR#x"),
        ("UpdateItem", "BRAND#x"),
    ] {
        assert!(
            allowing(&checkpoint, &on(action, key)).is_some(),
            "checkpoint may not {action} {key}"
        );
    }
    for key in [
        "CHAIN#0", "MEMBER#x", "ACTION#x", "CAMPUS#x", "KEY#x", "RULES",
    ] {
        for action in ["PutItem", "UpdateItem"] {
            assert!(
                allowing(&checkpoint, &on(action, key)).is_none(),
                "checkpoint may {action} {key}"
            );
        }
    }
    // Affiliation updates accounts, creates mappings and only checks campuses.
    let aff = role_statements(&t, "AffiliationRole");
    assert!(allowing(&aff, &on("PutItem", "SUBJECT#x")).is_some());
    assert!(allowing(&aff, &on("PutItem", "MEMBER#x")).is_none());
    assert!(allowing(&aff, &on("UpdateItem", "MEMBER#x")).is_some());
    assert!(allowing(&aff, &on("UpdateItem", "CAMPUS#x")).is_none());
    assert!(allowing(&aff, &on("ConditionCheckItem", "MEMBER#x")).is_none());
}

#[test]
fn secrets_are_parameters_each_function_may_read_only_if_it_uses_them() {
    let t = template();
    let global_env = t["Globals"]["Function"]["Environment"]["Variables"].as_mapping();
    for (name, f) in resources(&t, "AWS::Serverless::Function") {
        let env = f["Properties"]["Environment"]["Variables"].as_mapping();
        for (k, _) in env.into_iter().chain(global_env).flatten() {
            let k = k.as_str().unwrap();
            assert!(
                k != "GREENLOOP_PEPPER" && k != "GREENLOOP_WEBHOOK_SECRETS",
                "{name}: a secret's value in the template ({k})"
            );
        }
        let params: BTreeSet<String> = env
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str().unwrap().ends_with("_PARAMETER"))
            .map(|(_, v)| str_of(v).replace("${Stage}", "prod"))
            .collect();
        let role = str_of(&f["Properties"]["Role"]);
        let readable: BTreeSet<String> = role_statements(&t, role.strip_suffix(".Arn").unwrap())
            .iter()
            .filter(|s| s.actions.iter().any(|a| a.starts_with("ssm:")))
            .flat_map(|s| s.resources.iter())
            .map(|r| {
                r.rsplit(":parameter")
                    .next()
                    .unwrap()
                    .replace("${Stage}", "prod")
            })
            .collect();
        assert_eq!(
            params, readable,
            "{name} reads exactly the parameters it names"
        );
    }
}

/// The pages' settings as deployed: the default of `PortalOrigins` and an example of its pattern
/// are lists the campus function's configuration accepts (a refused list would fail its init),
/// and `LogPublicKey`'s pattern admits exactly a key or nothing.
#[test]
fn the_page_settings_the_template_passes_are_ones_the_functions_accept() {
    let t = template();
    let origins = &t["Parameters"]["PortalOrigins"];
    let default = origins["Default"].as_str().expect("a default");
    let pattern = regex::Regex::new(origins["AllowedPattern"].as_str().unwrap()).unwrap();
    for list in [default, "https://portal.sjtu.edu.cn 'self'"] {
        assert!(
            pattern.is_match(list),
            "{list:?} fits the template's pattern"
        );
        greenloop::http::pages::frame_ancestors(list).expect("the function accepts it");
    }
    let env = &t["Resources"]["CampusFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(str_of(&env["GREENLOOP_PORTAL_ORIGINS"]), "PortalOrigins");
    let key = t["Parameters"]["LogPublicKey"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert_eq!(key, "^([0-9a-f]{64})?$");
    let env = &t["Resources"]["AuditFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(str_of(&env["GREENLOOP_LOG_PUBLIC_KEY"]), "LogPublicKey");
}
