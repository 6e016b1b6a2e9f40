//! `docs/openapi.yaml` against the real router.
//!
//! One scenario drives every route in-process (embedded store in a temporary directory, a fixed
//! clock inside the campaign) through successes and every reachable error, and validates each
//! answer against the schema the spec declares for its (path, method, status). An answer whose
//! status the spec does not list fails the test, and so does a documented status that the
//! scenario never produced, except 500: no real route panics, so a test route mounted the same
//! way checks that answer. Two more tests compare the routes mounted in `shared/src/http` with
//! the spec's paths, and lint the spec for what the API promises everywhere (closed objects,
//! the shared `Error`, request ids).

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use greenloop::catalog::{Catalog, Rules};
use greenloop::credit::credit_pending;
use greenloop::domain::{Action, Campus, MemberId, Pepper, Station};
use greenloop::http::signature::sign;
use greenloop::http::{App, Integrations};
use greenloop::ledger::{leaf_hash, Digest};
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::{
    Account, ActionRecord, AppendError, CampusDay, CampusTotals, ChainHead, CreditBatch, Grant,
    LedgerSource, Recorded, Store, StoreError,
};
use http_body_util::BodyExt;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const SPEC: &str = include_str!("../../docs/openapi.yaml");

/// 2026-11-07 12:00:00 +08:00, inside the Double 11 window.
const NOW: i64 = 1_794_024_000;
const TODAY: &str = "2026-11-07";
const SECRET: &str = "qr-secret-0123456789abcdef";
const PEPPER: &[u8] = b"openapi-test-pepper-0123456789";
const CAMPUS_A_KEY: &str = "campus-a-portal-key-0001";
const CAMPUS_B_KEY: &str = "campus-b-portal-key-0002";
const GHOST_KEY: &str = "campus-ghost-portal-key-0003";
const AUDITOR_KEY: &str = "auditor-key-0004";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

// ---------------------------------------------------------------------------------------------
// The spec.

struct Spec {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Spec {
    fn load() -> Spec {
        let doc: Value = serde_norway::from_str(SPEC).expect("docs/openapi.yaml is YAML");
        assert_eq!(doc["openapi"], "3.1.0", "an OpenAPI 3.1 document");
        Spec {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    }

    fn paths(&self) -> &serde_json::Map<String, Value> {
        self.doc["paths"].as_object().expect("paths is an object")
    }

    /// The operations of a path, as lowercase method names.
    fn methods(&self, template: &str) -> Vec<&'static str> {
        let item = &self.paths()[template];
        METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect()
    }

    fn operations(&self) -> Vec<(String, &'static str)> {
        self.paths()
            .keys()
            .flat_map(|t| self.methods(t).into_iter().map(move |m| (t.clone(), m)))
            .collect()
    }

    fn operation(&self, template: &str, method: &str) -> &Value {
        &self.paths()[template][method]
    }

    /// The spec path a concrete path (percent-encoded, without query) falls under: `{x}`
    /// matches one non-empty segment; literal segments must be equal.
    fn route_of(&self, path: &str) -> Option<String> {
        let segs: Vec<&str> = path.split('/').collect();
        self.paths()
            .keys()
            .filter(|t| {
                let ts: Vec<&str> = t.split('/').collect();
                ts.len() == segs.len()
                    && ts.iter().zip(&segs).all(|(t, s)| {
                        if t.starts_with('{') && t.ends_with('}') {
                            !s.is_empty()
                        } else {
                            t == s
                        }
                    })
            })
            .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
            .cloned()
    }

    /// Follows `$ref`s from a JSON pointer (without `#`) to the pointer of the object itself.
    fn resolve(&self, mut pointer: String) -> String {
        for _ in 0..16 {
            let v = self
                .doc
                .pointer(&pointer)
                .unwrap_or_else(|| panic!("spec has nothing at {pointer}"));
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) if v.get("content").is_none() => {
                    pointer = r.strip_prefix('#').expect("local $ref").to_owned();
                }
                _ => return pointer,
            }
        }
        panic!("$ref loop at {pointer}")
    }

    /// The pointer to the JSON schema of a response, if the spec documents that status.
    fn response_schema(&self, template: &str, method: &str, status: u16) -> Option<String> {
        let at = format!("/paths/{}/{method}/responses/{status}", escape(template));
        self.doc.pointer(&at)?;
        let resolved = self.resolve(at);
        let schema = format!("{resolved}/content/application~1json/schema");
        assert!(
            self.doc.pointer(&schema).is_some(),
            "{resolved} has no application/json schema"
        );
        Some(schema)
    }

    fn component_response(&self, name: &str) -> String {
        let p = format!("/components/responses/{name}/content/application~1json/schema");
        assert!(
            self.doc.pointer(&p).is_some(),
            "no response component {name}"
        );
        p
    }

    fn request_schema(&self, template: &str, method: &str) -> Option<String> {
        let p = format!(
            "/paths/{}/{method}/requestBody/content/application~1json/schema",
            escape(template)
        );
        self.doc.pointer(&p).map(|_| p)
    }

    /// Validates `instance` against the schema at `pointer`, with the whole spec as the root
    /// document so that every `$ref` resolves (OpenAPI 3.1 schemas are JSON Schema 2020-12).
    fn check(&self, pointer: &str, instance: &Value) -> Result<(), String> {
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(pointer.to_owned())
                .or_insert_with(|| {
                    let mut root = self.doc.clone();
                    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
                    // A JSON pointer in a URI fragment: braces must be percent-encoded.
                    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
                    root["$ref"] = json!(format!("#{fragment}"));
                    Arc::new(
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft202012)
                            .should_validate_formats(true)
                            .build(&root)
                            .unwrap_or_else(|e| panic!("schema at {pointer} compiles: {e}")),
                    )
                })
                .clone()
        };
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A store that can be taken down, for the 503s.

struct Flaky {
    inner: EmbeddedStore,
    down: AtomicBool,
    /// Grants the real store would refuse to mint: a key for a campus that is not (or no
    /// longer) registered, which the campus routes answer with 404.
    orphans: Mutex<HashMap<Digest, Grant>>,
}

impl Flaky {
    fn up(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("taken down by the test".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl LedgerSource for Flaky {
    async fn catalog(&self) -> Result<Catalog, StoreError> {
        self.up()?;
        self.inner.catalog().await
    }
    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        self.up()?;
        self.inner.chain_heads().await
    }
    async fn entries(
        &self,
        chain: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.up()?;
        self.inner.entries(chain, from_seq, limit).await
    }
    async fn account_page(
        &self,
        after: Option<&MemberId>,
        limit: usize,
    ) -> Result<Vec<Account>, StoreError> {
        self.up()?;
        self.inner.account_page(after, limit).await
    }
    async fn campus_totals(&self) -> Result<Vec<CampusTotals>, StoreError> {
        self.up()?;
        self.inner.campus_totals().await
    }
}

#[async_trait]
impl Store for Flaky {
    async fn put_campus(&self, campus: &Campus) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_campus(campus).await
    }
    async fn campuses(&self) -> Result<Vec<Campus>, StoreError> {
        self.up()?;
        self.inner.campuses().await
    }
    async fn put_station(&self, station: &Station) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_station(station).await
    }
    async fn station(&self, id: &str) -> Result<Option<Station>, StoreError> {
        self.up()?;
        self.inner.station(id).await
    }
    async fn affiliate(&self, member: &MemberId, campus: &str) -> Result<(), StoreError> {
        self.up()?;
        self.inner.affiliate(member, campus).await
    }
    async fn put_api_key(&self, key_hash: &Digest, grant: &Grant) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_api_key(key_hash, grant).await
    }
    async fn api_key(&self, key_hash: &Digest) -> Result<Option<Grant>, StoreError> {
        self.up()?;
        if let Some(g) = self.orphans.lock().unwrap().get(key_hash) {
            return Ok(Some(g.clone()));
        }
        self.inner.api_key(key_hash).await
    }
    async fn put_rules(&self, rules: &Rules) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_rules(rules).await
    }
    async fn record_action(&self, action: &Action) -> Result<Recorded, StoreError> {
        self.up()?;
        self.inner.record_action(action).await
    }
    async fn complete_pickup(
        &self,
        id: &str,
        clothing_g: u64,
        at: i64,
    ) -> Result<Recorded, StoreError> {
        self.up()?;
        self.inner.complete_pickup(id, clothing_g, at).await
    }
    async fn action(&self, id: &str) -> Result<Option<ActionRecord>, StoreError> {
        self.up()?;
        self.inner.action(id).await
    }
    async fn pending_actions(&self, limit: usize) -> Result<Vec<Action>, StoreError> {
        self.up()?;
        self.inner.pending_actions(limit).await
    }
    async fn chain_head(&self, chain: &str) -> Result<ChainHead, StoreError> {
        self.up()?;
        self.inner.chain_head(chain).await
    }
    async fn accounts(&self, members: &[MemberId]) -> Result<Vec<Account>, StoreError> {
        self.up()?;
        self.inner.accounts(members).await
    }
    async fn campus_days(&self, campus: &str) -> Result<Vec<CampusDay>, StoreError> {
        self.up()?;
        self.inner.campus_days(campus).await
    }
    async fn leaderboard(&self, campus: &str, limit: usize) -> Result<Vec<Account>, StoreError> {
        self.up()?;
        self.inner.leaderboard(campus, limit).await
    }
    async fn member_entries(
        &self,
        member: &MemberId,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.up()?;
        self.inner.member_entries(member, limit).await
    }
    async fn append(&self, batch: &CreditBatch) -> Result<(), AppendError> {
        self.up()?;
        self.inner.append(batch).await
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and the harness that checks every answer against the spec.

struct Req {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn new(method: &str, uri: impl Into<String>) -> Req {
        Req {
            method: Method::from_bytes(method.as_bytes()).expect("a method"),
            uri: uri.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn get(uri: impl Into<String>) -> Req {
        Req::new("GET", uri)
    }

    fn post(uri: impl Into<String>, body: &Value) -> Req {
        Req::new("POST", uri).raw(serde_json::to_vec(body).unwrap())
    }

    fn raw(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Req {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn bearer(self, key: &str) -> Req {
        self.header("authorization", format!("Bearer {key}"))
    }

    /// Signs the body as integration `qr-1` at `t`.
    fn signed_at(self, t: i64) -> Req {
        let sig = sign(SECRET.as_bytes(), t, &self.body);
        self.header("greenloop-key-id", "qr-1")
            .header("greenloop-signature", sig)
    }

    fn signed(self) -> Req {
        self.signed_at(NOW)
    }
}

struct Answer {
    status: StatusCode,
    json: Value,
    text: String,
}

struct Harness {
    spec: Spec,
    app: axum::Router,
    store: Arc<Flaky>,
    pepper: Pepper,
    /// (path template or "<no route>", method, status) of every answer.
    seen: Mutex<BTreeSet<(String, String, u16)>>,
}

impl Harness {
    async fn new() -> (Harness, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Arc::new(Flaky {
            inner: EmbeddedStore::open(dir.path()).expect("open a fresh store"),
            down: AtomicBool::new(false),
            orphans: Mutex::new(HashMap::new()),
        });
        for (id, name, city) in [
            ("campus-a", "Campus A University", "Hangzhou"),
            ("campus-b", "Campus B Institute", "Shanghai"),
        ] {
            store
                .put_campus(&Campus {
                    id: id.into(),
                    name: name.into(),
                    city: city.into(),
                })
                .await
                .unwrap();
        }
        for (id, campus) in [("st-0001", Some("campus-a")), ("st-0002", None)] {
            store
                .put_station(&Station {
                    id: id.into(),
                    city: "Hangzhou".into(),
                    campus: campus.map(Into::into),
                })
                .await
                .unwrap();
        }
        for (key, grant) in [
            (
                CAMPUS_A_KEY,
                Grant::Campus {
                    campus: "campus-a".into(),
                },
            ),
            (
                CAMPUS_B_KEY,
                Grant::Campus {
                    campus: "campus-b".into(),
                },
            ),
            (AUDITOR_KEY, Grant::Auditor),
        ] {
            store
                .put_api_key(&leaf_hash(key.as_bytes()), &grant)
                .await
                .unwrap();
        }
        let ghost = Grant::Campus {
            campus: "campus-ghost".into(),
        };
        assert!(
            store
                .put_api_key(&leaf_hash(GHOST_KEY.as_bytes()), &ghost)
                .await
                .is_err(),
            "the store mints keys only for registered campuses"
        );
        store
            .orphans
            .lock()
            .unwrap()
            .insert(leaf_hash(GHOST_KEY.as_bytes()), ghost);
        let pepper = Pepper::new(PEPPER.to_vec()).unwrap();
        let integrations = Integrations::parse(&format!("qr-1={SECRET}")).unwrap();
        let mut app = App::new(
            store.clone(),
            pepper.clone(),
            integrations,
            Rules::defaults(),
        );
        app.clock = Arc::new(|| NOW);
        let h = Harness {
            spec: Spec::load(),
            app: greenloop::http::router(app),
            store,
            pepper,
            seen: Mutex::new(BTreeSet::new()),
        };
        (h, dir)
    }

    fn member(&self, user: &str) -> String {
        MemberId::pseudonym(&self.pepper, user).to_string()
    }

    async fn credit(&self) {
        credit_pending(self.store.as_ref(), &Rules::defaults(), 4)
            .await
            .expect("crediting runs");
        assert!(
            self.store.pending_actions(10).await.unwrap().is_empty(),
            "crediting leaves nothing pending"
        );
    }

    /// Sends `req`, checks the status, the request id, the content type and the body against
    /// the spec, and records what was exercised.
    async fn send(&self, req: Req, want: u16) -> Answer {
        let what = format!("{} {}", req.method, req.uri);
        let method = req.method.as_str().to_ascii_lowercase();
        let mut builder = Request::builder().method(req.method.clone()).uri(&req.uri);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let request_body = req.body.clone();
        let res = self
            .app
            .clone()
            .oneshot(builder.body(Body::from(req.body)).unwrap())
            .await
            .expect("the router answers");
        let status = res.status();
        let request_id = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(bytes.to_vec()).expect("UTF-8 answer");
        assert_eq!(status.as_u16(), want, "{what}: status; body {text}");
        assert!(
            request_id.is_some_and(|id| !id.is_empty()),
            "{what}: every answer carries x-request-id"
        );
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "{what}: content type"
        );
        let json: Value = if method == "head" {
            assert!(text.is_empty(), "{what}: HEAD answers without a body");
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: JSON body: {e}: {text}"))
        };

        let path = req.uri.split('?').next().unwrap();
        let (route, schema) = match self.spec.route_of(path) {
            None => {
                assert_eq!(want, 404, "{what}: a path outside the spec is 404");
                (
                    "<no route>".to_owned(),
                    self.spec.component_response("NoRoute"),
                )
            }
            Some(t) => {
                let documented = self.spec.methods(&t);
                let op = if method == "head" && documented.contains(&"get") {
                    "get"
                } else {
                    method.as_str()
                };
                if documented.contains(&op) {
                    let schema = self.spec.response_schema(&t, op, want).unwrap_or_else(|| {
                        panic!("{what}: status {want} is not documented for {op} {t}")
                    });
                    if status.is_success() && !request_body.is_empty() {
                        if let Some(rs) = self.spec.request_schema(&t, op) {
                            let body: Value = serde_json::from_slice(&request_body).unwrap();
                            self.spec.check(&rs, &body).unwrap_or_else(|e| {
                                panic!("{what}: an accepted request fails its schema: {e}")
                            });
                        }
                    }
                    (t, schema)
                } else {
                    assert_eq!(want, 405, "{what}: a method the spec does not list is 405");
                    (t, self.spec.component_response("MethodNotAllowed"))
                }
            }
        };
        if method != "head" {
            self.spec.check(&schema, &json).unwrap_or_else(|e| {
                panic!("{what} {want}: answer does not match {schema}: {e}\n{text}")
            });
        }
        self.seen.lock().unwrap().insert((route, method, want));
        Answer { status, json, text }
    }

    async fn ok(&self, req: Req, want: u16) -> Value {
        self.send(req, want).await.json
    }

    /// Sends `req` and expects an error with this status and code.
    async fn err(&self, req: Req, want: u16, code: &str) {
        let what = format!("{} {}", req.method, req.uri);
        let a = self.send(req, want).await;
        assert!(a.status.as_u16() >= 400);
        assert_eq!(a.json["code"], code, "{what}: error code; {}", a.text);
        assert!(
            a.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: error message"
        );
    }
}

/// `,"hash":"…"` cut out of a stored entry gives the bytes its hash covers (ledger format §3).
fn rehash(raw: &str) -> (String, String) {
    let entry: Value = serde_json::from_str(raw).unwrap();
    let hash = entry["hash"].as_str().unwrap().to_owned();
    let cut = raw.replacen(&format!(",\"hash\":\"{hash}\""), "", 1);
    assert_ne!(cut, raw, "hash member where canonical order puts it");
    (hash, leaf_hash(cut.as_bytes()).to_string())
}

fn scan(id: &str, user: &str, station: &str, at: i64, items: Value) -> Value {
    json!({"scan_id": id, "user": user, "station": station, "at": at, "items": items})
}

fn boxes(n: u32) -> Value {
    json!({"books": 0, "boxes": [{"brand": null, "count": n}], "clothing_g": 0, "shoes": 0})
}

// ---------------------------------------------------------------------------------------------
// The scenario.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_status_matches_the_spec() {
    let (h, _dir) = Harness::new().await;
    let alice = h.member("alice");
    let bob = h.member("bob");

    // --- ops, and paths or methods that are not routes.
    assert_eq!(
        h.ok(Req::get("/health"), 200).await,
        json!({"status": "ok"})
    );
    h.send(Req::new("HEAD", "/health"), 200).await;
    for uri in [
        "/",
        "/v1",
        "/v1/nope",
        "/v1/scans/",
        "/v1/audit/chains/x/entries/1",
    ] {
        h.err(Req::get(uri), 404, "not_found").await;
    }
    h.err(Req::new("POST", "/v2/scans"), 404, "not_found").await;
    for template in h.spec.paths().keys().cloned().collect::<Vec<_>>() {
        let concrete = template
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let documented = h.spec.methods(&template);
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            if !documented.contains(&m.to_ascii_lowercase().as_str()) {
                h.err(Req::new(m, concrete.clone()), 405, "method_not_allowed")
                    .await;
            }
        }
    }

    // --- the public ranking before anything is credited: every campus, zeros, by id.
    let ranking = h.ok(Req::get("/v1/campuses"), 200).await;
    assert_eq!(ranking[0]["campus"], "campus-a");
    assert_eq!(ranking[1]["campus"], "campus-b");
    assert_eq!(ranking[0]["rank"], 1);
    assert_eq!(ranking[0]["co2e_g"], 0);
    assert_eq!(ranking.as_array().unwrap().len(), 2);

    // --- affiliations.
    let a = h
        .ok(
            Req::new("PUT", "/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(a, json!({"member": alice, "campus": "campus-a"}));
    let b = h
        .ok(
            Req::new("PUT", "/v1/campuses/campus-b/members/bob").bearer(CAMPUS_B_KEY),
            200,
        )
        .await;
    assert_eq!(b["member"], bob.as_str());
    let put_alice = || Req::new("PUT", "/v1/campuses/campus-a/members/alice");
    h.err(put_alice(), 401, "unauthorized").await;
    h.err(put_alice().bearer("no-such-key"), 401, "unauthorized")
        .await;
    h.err(put_alice().bearer(CAMPUS_B_KEY), 403, "forbidden")
        .await;
    h.err(put_alice().bearer(AUDITOR_KEY), 403, "forbidden")
        .await;
    h.err(
        Req::new("PUT", "/v1/campuses/campus-ghost/members/alice").bearer(GHOST_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::new("PUT", "/v1/campuses/campus-a/members/%01x").bearer(CAMPUS_A_KEY),
        422,
        "invalid_user",
    )
    .await;
    h.err(
        Req::new("PUT", "/v1/campuses/campus-a/members/%FF").bearer(CAMPUS_A_KEY),
        400,
        "bad_path",
    )
    .await;

    // --- intake: a scan, its replay and a conflicting re-delivery.
    let items1 = json!({
        "books": 2,
        "boxes": [{"brand": "brand-01", "count": 3}, {"brand": null, "count": 1}],
        "clothing_g": 0,
        "shoes": 1
    });
    let scan1 = scan("scan-1", "alice", "st-0001", NOW - 60, items1.clone());
    let r = h.ok(Req::post("/v1/scans", &scan1).signed(), 202).await;
    assert_eq!(
        r,
        json!({"action": "scan-1", "kind": "scan", "status": "pending", "replay": false})
    );
    let r = h.ok(Req::post("/v1/scans", &scan1).signed(), 202).await;
    assert_eq!(r["replay"], true);
    let other = scan("scan-1", "alice", "st-0001", NOW - 60, boxes(9));
    h.err(Req::post("/v1/scans", &other).signed(), 409, "conflict")
        .await;

    // Signature refusals, one per code.
    let body = serde_json::to_vec(&scan("scan-x", "alice", "st-0001", NOW, boxes(1))).unwrap();
    let good = sign(SECRET.as_bytes(), NOW, &body);
    let refusals: Vec<(Req, &str)> = vec![
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-signature", good.clone()),
            "missing_key_id",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-key-id", "qr-1"),
            "missing_signature",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-key-id", "qr-1")
                .header("greenloop-signature", "garbage"),
            "malformed_signature",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-key-id", "qr-9")
                .header("greenloop-signature", good.clone()),
            "unknown_key",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .signed_at(NOW - 301),
            "stale_signature",
        ),
        (
            Req::new("POST", "/v1/scans")
                .raw(body.clone())
                .header("greenloop-key-id", "qr-1")
                .header(
                    "greenloop-signature",
                    sign(b"not-the-secret-0123456789", NOW, &body),
                ),
            "bad_signature",
        ),
    ];
    for (req, code) in refusals {
        h.err(req, 401, code).await;
    }
    // A body signed, then altered.
    let mut altered = Req::new("POST", "/v1/scans").raw(body.clone()).signed();
    altered.body = body
        .iter()
        .map(|b| if *b == b'1' { b'2' } else { *b })
        .collect();
    h.err(altered, 401, "bad_signature").await;

    // Bodies: not JSON, an unknown field, a missing field, too large.
    h.err(
        Req::new("POST", "/v1/scans").raw("{").signed(),
        400,
        "malformed_json",
    )
    .await;
    let mut extra = scan("scan-x", "alice", "st-0001", NOW, boxes(1));
    extra["note"] = json!("hi");
    assert!(
        h.spec
            .check(&h.spec.request_schema("/v1/scans", "post").unwrap(), &extra)
            .is_err(),
        "the spec refuses unknown fields too"
    );
    h.err(
        Req::post("/v1/scans", &extra).signed(),
        400,
        "invalid_field",
    )
    .await;
    let missing = json!({"scan_id": "scan-x", "user": "alice", "station": "st-0001", "at": NOW});
    h.err(
        Req::post("/v1/scans", &missing).signed(),
        400,
        "invalid_field",
    )
    .await;
    let no_brand_key = scan(
        "scan-x",
        "alice",
        "st-0001",
        NOW,
        json!({"books": 0, "boxes": [{"count": 1}], "clothing_g": 0, "shoes": 0}),
    );
    h.err(
        Req::post("/v1/scans", &no_brand_key).signed(),
        400,
        "invalid_field",
    )
    .await;
    let big = vec![b' '; greenloop::http::MAX_BODY + 1];
    for uri in [
        "/v1/scans",
        "/v1/pledges",
        "/v1/appointments",
        "/v1/appointments/appt-1/complete",
    ] {
        h.err(
            Req::new("POST", uri).raw(big.clone()).signed(),
            413,
            "too_large",
        )
        .await;
    }
    h.err(
        Req::get("/v1/actions/scan-1").raw(big.clone()).signed(),
        413,
        "too_large",
    )
    .await;

    // Validation.
    let invalid: Vec<(Value, &str)> = vec![
        (
            scan("scan-x", "alice", "st-9999", NOW, boxes(1)),
            "unknown_station",
        ),
        (scan("scan-x", "", "st-0001", NOW, boxes(1)), "invalid_user"),
        (
            scan("scan x", "alice", "st-0001", NOW, boxes(1)),
            "invalid_id",
        ),
        (
            scan("scan-x", "alice", "st-0001", NOW + 301, boxes(1)),
            "future_time",
        ),
        (scan("scan-x", "alice", "st-0001", -1, boxes(1)), "bad_time"),
        (
            scan(
                "scan-x",
                "alice",
                "st-0001",
                NOW,
                json!({"books": 0, "boxes": [], "clothing_g": 0, "shoes": 0}),
            ),
            "no_items",
        ),
        (
            scan("scan-x", "alice", "st-0001", NOW, boxes(1001)),
            "too_much",
        ),
    ];
    for (body, code) in invalid {
        h.err(Req::post("/v1/scans", &body).signed(), 422, code)
            .await;
    }

    // --- pledges.
    let pledge1 = json!({"pledge_id": "pledge-1", "user": "alice", "station": "st-0001", "at": NOW - 50, "boxes": 2});
    let r = h.ok(Req::post("/v1/pledges", &pledge1).signed(), 202).await;
    assert_eq!(
        r,
        json!({"action": "pledge-1", "kind": "pledge", "status": "pending", "replay": false})
    );
    let mut p = pledge1.clone();
    p["boxes"] = json!(3);
    h.err(Req::post("/v1/pledges", &p).signed(), 409, "conflict")
        .await;
    p["pledge_id"] = json!("pledge-x");
    p["boxes"] = json!(0);
    h.err(Req::post("/v1/pledges", &p).signed(), 422, "empty_lot")
        .await;
    h.err(
        Req::new("POST", "/v1/pledges").raw("[1,2]").signed(),
        400,
        "invalid_field",
    )
    .await;
    h.err(
        Req::post("/v1/pledges", &pledge1).header("greenloop-key-id", "qr-1"),
        401,
        "missing_signature",
    )
    .await;

    // --- pickups: booked, completed, replayed, conflicting.
    let appt =
        json!({"appointment_id": "appt-1", "user": "bob", "station": "st-0002", "at": NOW - 3600});
    let r = h
        .ok(Req::post("/v1/appointments", &appt).signed(), 202)
        .await;
    assert_eq!(
        r,
        json!({"action": "appt-1", "kind": "pickup", "status": "booked", "replay": false})
    );
    assert_eq!(
        h.ok(Req::post("/v1/appointments", &appt).signed(), 202)
            .await["replay"],
        true
    );
    let mut a2 = appt.clone();
    a2["station"] = json!("st-0001");
    h.err(Req::post("/v1/appointments", &a2).signed(), 409, "conflict")
        .await;
    a2["appointment_id"] = json!("appt-2");
    a2["station"] = json!("st-4040");
    h.err(
        Req::post("/v1/appointments", &a2).signed(),
        422,
        "unknown_station",
    )
    .await;
    h.err(
        Req::new("POST", "/v1/appointments")
            .raw("not json")
            .signed(),
        400,
        "malformed_json",
    )
    .await;
    h.err(
        Req::post("/v1/appointments", &appt).bearer(CAMPUS_A_KEY),
        401,
        "missing_key_id",
    )
    .await;

    let done = json!({"clothing_g": 2500, "at": NOW - 30});
    let complete = "/v1/appointments/appt-1/complete";
    let r = h.ok(Req::post(complete, &done).signed(), 202).await;
    assert_eq!(
        r,
        json!({"action": "appt-1", "kind": "pickup", "status": "pending", "replay": false})
    );
    assert_eq!(
        h.ok(Req::post(complete, &done).signed(), 202).await["replay"],
        true
    );
    h.err(
        Req::post(complete, &json!({"clothing_g": 2600, "at": NOW - 30})).signed(),
        409,
        "conflict",
    )
    .await;
    h.err(
        Req::post("/v1/appointments/appt-404/complete", &done).signed(),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::post("/v1/appointments/scan-1/complete", &done).signed(),
        422,
        "not_a_pickup",
    )
    .await;
    h.err(
        Req::post("/v1/appointments/a%20b/complete", &done).signed(),
        422,
        "invalid_id",
    )
    .await;
    h.err(
        Req::post("/v1/appointments/%FF/complete", &done).signed(),
        400,
        "bad_path",
    )
    .await;
    h.err(
        Req::post(complete, &json!({"clothing_g": 1, "at": NOW, "by": "x"})).signed(),
        400,
        "invalid_field",
    )
    .await;
    h.err(Req::post(complete, &done), 401, "missing_key_id")
        .await;

    // --- status before crediting.
    let r = h.ok(Req::get("/v1/actions/scan-1").signed(), 200).await;
    assert_eq!(
        r,
        json!({"action": "scan-1", "kind": "scan", "status": "pending"})
    );
    h.err(Req::get("/v1/actions/nope").signed(), 404, "not_found")
        .await;
    h.err(Req::get("/v1/actions/a%20b").signed(), 422, "invalid_id")
        .await;
    h.err(Req::get("/v1/actions/%FF").signed(), 400, "bad_path")
        .await;
    h.err(Req::get("/v1/actions/scan-1"), 401, "missing_key_id")
        .await;

    // --- crediting, then status with the ledger place and pledge progress.
    h.credit().await;
    let s1 = h.ok(Req::get("/v1/actions/scan-1").signed(), 200).await;
    assert_eq!(s1["status"], "credited");
    // 3 partner boxes ×10 ×200% + 1 box ×10 + 1 pair of shoes ×8 + 2 books ×3.
    assert_eq!(s1["bonus"], 60 + 10 + 8 + 6);
    let p1 = h.ok(Req::get("/v1/actions/pledge-1").signed(), 200).await;
    assert_eq!(p1["status"], "credited");
    assert_eq!(p1["bonus"], 4);
    assert_eq!(
        p1["pledge"],
        json!({"boxes": 2, "returned": 0, "fulfilled": false})
    );
    let ap = h.ok(Req::get("/v1/actions/appt-1").signed(), 200).await;
    assert_eq!(ap["status"], "credited");
    assert_eq!(ap["bonus"], 12);

    // The member's view has the open pledge; a later drop-off returns its boxes.
    let m = h
        .ok(
            Req::get("/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(
        m["open_pledges"],
        json!([{"action": "pledge-1", "boxes": 2, "returned": 0}])
    );
    let scan2 = scan("scan-2", "alice", "st-0001", NOW - 10, boxes(2));
    h.ok(Req::post("/v1/scans", &scan2).signed(), 202).await;
    h.credit().await;
    let p1 = h.ok(Req::get("/v1/actions/pledge-1").signed(), 200).await;
    assert_eq!(
        p1["pledge"],
        json!({"boxes": 2, "returned": 2, "fulfilled": true})
    );

    // --- campus routes.
    let ranking = h.ok(Req::get("/v1/campuses"), 200).await;
    let ranked: Vec<_> = ranking
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rank"].clone(), r["campus"].clone(), r["co2e_g"].clone()))
        .collect();
    // bob: 2.5 kg of clothes × 3000 g/kg; alice: 6 boxes × 37 + 1 pair × 2000 + 2 books × 1026.
    assert_eq!(
        ranked,
        vec![
            (json!(1), json!("campus-b"), json!(7500)),
            (json!(2), json!("campus-a"), json!(6 * 37 + 2000 + 2 * 1026)),
        ]
    );

    let sum = h
        .ok(
            Req::get("/v1/campuses/campus-a/summary").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(sum["campus"], "campus-a");
    assert_eq!(sum["name"], "Campus A University");
    assert_eq!(
        sum["campaign"],
        json!({"bonus": 84 + 4 + 20, "co2e_g": 4274, "entries": 3})
    );
    assert_eq!(
        sum["today"],
        json!({"day": TODAY, "bonus": 108, "co2e_g": 4274, "entries": 3})
    );
    assert_eq!(
        sum["days"],
        json!([{"campus": "campus-a", "day": TODAY, "bonus": 108, "co2e_g": 4274, "entries": 3}])
    );
    let summary = |campus: &str| Req::get(format!("/v1/campuses/{campus}/summary"));
    h.err(summary("campus-a"), 401, "unauthorized").await;
    h.err(
        summary("campus-a").header("authorization", CAMPUS_A_KEY),
        401,
        "unauthorized",
    )
    .await;
    h.err(summary("campus-a").bearer(CAMPUS_B_KEY), 403, "forbidden")
        .await;
    h.err(summary("campus-b").bearer(CAMPUS_A_KEY), 403, "forbidden")
        .await;
    h.err(summary("campus-ghost").bearer(GHOST_KEY), 404, "not_found")
        .await;
    h.err(summary("%FF").bearer(CAMPUS_A_KEY), 400, "bad_path")
        .await;

    let board = h
        .ok(
            Req::get("/v1/campuses/campus-a/leaderboard?limit=5").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(
        board,
        json!([{"rank": 1, "member": alice, "co2e_g": 4274, "balance": 108, "entries": 3}])
    );
    let lb = |q: &str| Req::get(format!("/v1/campuses/campus-a/leaderboard{q}"));
    for (q, code) in [
        ("?limit=0", "bad_limit"),
        ("?limit=101", "bad_limit"),
        ("?limit=ten", "bad_query"),
        ("?top=3", "bad_query"),
    ] {
        h.err(lb(q).bearer(CAMPUS_A_KEY), 400, code).await;
    }
    h.err(lb(""), 401, "unauthorized").await;
    h.err(lb("").bearer(AUDITOR_KEY), 403, "forbidden").await;
    h.err(
        Req::get("/v1/campuses/campus-ghost/leaderboard").bearer(GHOST_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::get("/v1/campuses/%FF/leaderboard").bearer(CAMPUS_A_KEY),
        400,
        "bad_path",
    )
    .await;

    let acct = h
        .send(
            Req::get("/v1/campuses/campus-a/members/alice?limit=2").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(acct.json["member"], alice.as_str());
    assert_eq!(acct.json["balance"], 108);
    assert_eq!(acct.json["entries"], 3);
    assert_eq!(acct.json["open_pledges"], json!([]));
    #[derive(serde::Deserialize)]
    struct Recent {
        recent: Vec<Box<RawValue>>,
    }
    let recent: Recent = serde_json::from_str(&acct.text).unwrap();
    let stored = h
        .store
        .member_entries(&MemberId::parse(&alice).unwrap(), 2)
        .await
        .unwrap();
    assert_eq!(recent.recent.len(), 2, "limit applies");
    for (got, want) in recent.recent.iter().zip(&stored) {
        assert_eq!(
            got.get().as_bytes(),
            want.as_slice(),
            "entries are byte-exact"
        );
        let (hash, recomputed) = rehash(got.get());
        assert_eq!(hash, recomputed, "a served entry re-hashes to its hash");
    }
    let newest: Value = serde_json::from_str(recent.recent[0].get()).unwrap();
    assert_eq!(newest["action"], "scan-2", "newest first");
    let member = |c: &str, u: &str| Req::get(format!("/v1/campuses/{c}/members/{u}"));
    h.err(
        member("campus-a", "bob").bearer(CAMPUS_A_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        member("campus-a", "never-seen").bearer(CAMPUS_A_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        member("campus-ghost", "alice").bearer(GHOST_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        member("campus-a", "%7F").bearer(CAMPUS_A_KEY),
        422,
        "invalid_user",
    )
    .await;
    h.err(
        member("campus-a", "alice?limit=0").bearer(CAMPUS_A_KEY),
        400,
        "bad_limit",
    )
    .await;
    h.err(
        member("campus-a", "alice?from=1").bearer(CAMPUS_A_KEY),
        400,
        "bad_query",
    )
    .await;
    h.err(member("%FF", "alice").bearer(CAMPUS_A_KEY), 400, "bad_path")
        .await;
    h.err(member("campus-a", "alice"), 401, "unauthorized")
        .await;
    h.err(
        member("campus-a", "alice").bearer(CAMPUS_B_KEY),
        403,
        "forbidden",
    )
    .await;

    // --- audit routes.
    let heads = h
        .ok(Req::get("/v1/audit/heads").bearer(AUDITOR_KEY), 200)
        .await;
    let heads = heads.as_array().unwrap().clone();
    let names: Vec<&str> = heads.iter().map(|h| h["chain"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "heads come by chain name");
    let total: u64 = heads.iter().map(|h| h["size"].as_u64().unwrap()).sum();
    assert_eq!(
        total, 4,
        "scan-1, pledge-1, appt-1 and scan-2 are on the ledger"
    );
    #[derive(serde::Deserialize)]
    struct Page {
        chain: String,
        entries: Vec<Box<RawValue>>,
        next: Option<u64>,
    }
    for head in &heads {
        let chain = head["chain"].as_str().unwrap();
        let size = head["size"].as_u64().unwrap();
        let a = h
            .send(
                Req::get(format!("/v1/audit/chains/{chain}/entries")).bearer(AUDITOR_KEY),
                200,
            )
            .await;
        let page: Page = serde_json::from_str(&a.text).unwrap();
        assert_eq!(page.chain, chain);
        assert_eq!(page.entries.len() as u64, size);
        assert_eq!(page.next, None, "a short page is the last");
        let stored = h.store.entries(chain, 0, 1000).await.unwrap();
        let mut prev = "0".repeat(64);
        for (i, (got, want)) in page.entries.iter().zip(&stored).enumerate() {
            assert_eq!(
                got.get().as_bytes(),
                want.as_slice(),
                "entries are byte-exact"
            );
            let e: Value = serde_json::from_str(got.get()).unwrap();
            assert_eq!(e["seq"], i as u64);
            assert_eq!(e["prev"], prev.as_str());
            let (hash, recomputed) = rehash(got.get());
            assert_eq!(hash, recomputed);
            prev = hash;
        }
        assert_eq!(
            head["hash"],
            prev.as_str(),
            "the head is the last entry's hash"
        );
        let one = h
            .ok(
                Req::get(format!("/v1/audit/chains/{chain}/entries?from=0&limit=1"))
                    .bearer(AUDITOR_KEY),
                200,
            )
            .await;
        if size >= 1 {
            assert_eq!(one["next"], 1, "a full page names the next seq");
        }
        let end = h
            .ok(
                Req::get(format!("/v1/audit/chains/{chain}/entries?from={size}"))
                    .bearer(AUDITOR_KEY),
                200,
            )
            .await;
        assert_eq!(end, json!({"chain": chain, "entries": [], "next": null}));
    }
    let empty = h
        .ok(
            Req::get("/v1/audit/chains/shard-99/entries").bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(empty["entries"], json!([]));
    let entries = |q: &str| Req::get(format!("/v1/audit/chains/shard-00/entries{q}"));
    for (q, code) in [
        ("?limit=0", "bad_limit"),
        ("?limit=1001", "bad_limit"),
        ("?from=-1", "bad_query"),
        ("?seq=1", "bad_query"),
    ] {
        h.err(entries(q).bearer(AUDITOR_KEY), 400, code).await;
    }
    h.err(
        Req::get("/v1/audit/chains/%FF/entries").bearer(AUDITOR_KEY),
        400,
        "bad_path",
    )
    .await;
    h.err(
        Req::get("/v1/audit/chains/shard%2000/entries").bearer(AUDITOR_KEY),
        422,
        "invalid_id",
    )
    .await;
    h.err(entries(""), 401, "unauthorized").await;
    h.err(entries("").bearer(CAMPUS_A_KEY), 403, "forbidden")
        .await;

    let accounts = h
        .ok(Req::get("/v1/audit/accounts").bearer(AUDITOR_KEY), 200)
        .await;
    let members: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["member"].as_str().unwrap())
        .collect();
    let mut want = vec![alice.as_str(), bob.as_str()];
    want.sort_unstable();
    assert_eq!(members, want, "accounts in member order");
    let first = h
        .ok(
            Req::get("/v1/audit/accounts?limit=1").bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(first.as_array().unwrap().len(), 1);
    let rest = h
        .ok(
            Req::get(format!("/v1/audit/accounts?after={}", want[0])).bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(rest[0]["member"], want[1]);
    let accts = |q: &str| Req::get(format!("/v1/audit/accounts{q}"));
    h.err(
        accts("?after=ABC").bearer(AUDITOR_KEY),
        422,
        "invalid_member",
    )
    .await;
    h.err(accts("?limit=0").bearer(AUDITOR_KEY), 400, "bad_limit")
        .await;
    h.err(accts("?before=x").bearer(AUDITOR_KEY), 400, "bad_query")
        .await;
    h.err(accts(""), 401, "unauthorized").await;
    h.err(accts("").bearer(CAMPUS_B_KEY), 403, "forbidden")
        .await;

    let totals = h
        .ok(Req::get("/v1/audit/campus-totals").bearer(AUDITOR_KEY), 200)
        .await;
    assert_eq!(
        totals,
        json!([
            {"campus": "campus-a", "bonus": 108, "co2e_g": 4274, "entries": 3},
            {"campus": "campus-b", "bonus": 12, "co2e_g": 7500, "entries": 1},
        ])
    );
    h.err(Req::get("/v1/audit/campus-totals"), 401, "unauthorized")
        .await;
    h.err(
        Req::get("/v1/audit/campus-totals").bearer(CAMPUS_A_KEY),
        403,
        "forbidden",
    )
    .await;
    let rules = h
        .ok(Req::get("/v1/audit/rules").bearer(AUDITOR_KEY), 200)
        .await;
    assert_eq!(rules["rulebooks"][0]["version"], "double11-2026.1");
    assert_eq!(rules["rulebooks"][0]["daily_cap"], 200);
    assert_eq!(rules["factors"][0]["version"], "factors-2026.1");
    h.err(Req::get("/v1/audit/rules"), 401, "unauthorized")
        .await;
    h.err(
        Req::get("/v1/audit/rules").bearer(GHOST_KEY),
        403,
        "forbidden",
    )
    .await;
    h.err(
        Req::get("/v1/audit/heads").bearer("Bearer-less"),
        401,
        "unauthorized",
    )
    .await;
    h.err(
        Req::get("/v1/audit/heads").bearer(CAMPUS_A_KEY),
        403,
        "forbidden",
    )
    .await;

    // --- the store goes away: every route that reads it answers 503; health does not.
    h.store.down.store(true, Ordering::SeqCst);
    let down: Vec<Req> = vec![
        Req::post("/v1/scans", &scan("scan-3", "alice", "st-0001", NOW, boxes(1))).signed(),
        Req::post("/v1/pledges", &json!({"pledge_id": "pledge-3", "user": "alice", "station": "st-0001", "at": NOW, "boxes": 1})).signed(),
        Req::post("/v1/appointments", &json!({"appointment_id": "appt-3", "user": "bob", "station": "st-0002", "at": NOW})).signed(),
        Req::post("/v1/appointments/appt-3/complete", &done).signed(),
        Req::get("/v1/actions/scan-1").signed(),
        Req::get("/v1/campuses"),
        Req::get("/v1/campuses/campus-a/summary").bearer(CAMPUS_A_KEY),
        Req::get("/v1/campuses/campus-a/leaderboard").bearer(CAMPUS_A_KEY),
        Req::get("/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
        Req::new("PUT", "/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
        Req::get("/v1/audit/heads").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/chains/shard-00/entries").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/accounts").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/campus-totals").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/rules").bearer(AUDITOR_KEY),
    ];
    for req in down {
        h.err(req, 503, "unavailable").await;
    }
    h.ok(Req::get("/health"), 200).await;
    h.store.down.store(false, Ordering::SeqCst);
    h.ok(Req::get("/v1/campuses"), 200).await;

    // --- coverage: every operation, and every documented status but 500 (a panic).
    let seen = h.seen.lock().unwrap().clone();
    let mut missing = Vec::new();
    for (template, method) in h.spec.operations() {
        let responses = h.spec.operation(&template, method)["responses"]
            .as_object()
            .unwrap();
        assert!(
            responses.contains_key("500"),
            "{method} {template} documents 500"
        );
        for status in responses.keys() {
            let status: u16 = status.parse().expect("numeric status codes only");
            if status != 500 && !seen.contains(&(template.clone(), method.to_owned(), status)) {
                missing.push(format!("{method} {template} {status}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documented but never exercised: {missing:#?}"
    );
    let per_op: BTreeMap<(String, String), usize> =
        seen.iter().fold(BTreeMap::new(), |mut m, (t, meth, _)| {
            *m.entry((t.clone(), meth.clone())).or_default() += 1;
            m
        });
    for (template, method) in h.spec.operations() {
        assert!(
            per_op.contains_key(&(template.clone(), method.to_owned())),
            "{method} {template} never exercised"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The routers' source against the spec.

/// `(path, method)` of every `.route(...)` in the HTTP sources, and `/health` from `mount`.
fn mounted_routes() -> BTreeSet<(String, String)> {
    let sources = [
        include_str!("../src/http/intake.rs"),
        include_str!("../src/http/campus.rs"),
        include_str!("../src/http/audit.rs"),
        include_str!("../src/http/mod.rs"),
    ];
    let mut out = BTreeSet::new();
    for src in sources {
        let mut rest = src;
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            // The arguments run to the matching close parenthesis.
            let mut depth = 1usize;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("balanced parentheses");
            let args = &rest[..end];
            let q1 = args.find('"').expect("a literal path");
            let q2 = q1 + 1 + args[q1 + 1..].find('"').unwrap();
            let path = &args[q1 + 1..q2];
            let handlers = &args[q2 + 1..];
            let mut found = 0;
            for m in [
                "get", "post", "put", "delete", "patch", "head", "options", "any",
            ] {
                let mut from = 0;
                while let Some(j) = handlers[from..].find(&format!("{m}(")) {
                    let at = from + j;
                    let before = handlers[..at].chars().last();
                    if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        out.insert((path.to_owned(), m.to_owned()));
                        found += 1;
                    }
                    from = at + m.len();
                }
            }
            assert!(found > 0, "route {path} has a method: {args}");
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn the_spec_has_exactly_the_mounted_routes() {
    let spec = Spec::load();
    let mounted = mounted_routes();
    assert!(
        mounted.len() >= 16,
        "the source scan found the routes: {mounted:?}"
    );
    assert!(mounted.contains(&("/health".into(), "get".into())));
    let documented: BTreeSet<(String, String)> = spec
        .operations()
        .into_iter()
        .map(|(t, m)| (t, m.to_owned()))
        .collect();
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from docs/openapi.yaml: {undocumented:?}"
    );
    assert!(
        unmounted.is_empty(),
        "operations in docs/openapi.yaml no router mounts: {unmounted:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// What the spec promises everywhere.

#[test]
fn the_spec_is_consistent() {
    let spec = Spec::load();
    let mut ids = BTreeSet::new();
    for (template, method) in spec.operations() {
        let op = spec.operation(&template, method);
        let what = format!("{method} {template}");
        let id = op["operationId"].as_str().expect("an operationId");
        assert!(
            ids.insert(id.to_owned()),
            "{what}: operationId {id} is unique"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{what}: tagged"
        );

        // Path parameters are declared for every {name} in the template.
        let mut declared = BTreeSet::new();
        let params = spec.paths()[&template]["parameters"]
            .as_array()
            .into_iter()
            .chain(op["parameters"].as_array())
            .flatten();
        for p in params {
            let at = match p.get("$ref").and_then(Value::as_str) {
                Some(r) => spec.doc.pointer(&r[1..]).unwrap(),
                None => p,
            };
            if at["in"] == "path" {
                assert_eq!(at["required"], true, "{what}: path parameters are required");
                declared.insert(at["name"].as_str().unwrap().to_owned());
            }
        }
        let named: BTreeSet<String> = template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(declared, named, "{what}: path parameters");

        // Security: the public routes say so; keyed routes document 401, scoped ones 403.
        let security = op["security"].as_array().expect("explicit security");
        let schemes: BTreeSet<&str> = security
            .iter()
            .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
            .collect();
        for s in &schemes {
            assert!(
                spec.doc["components"]["securitySchemes"].get(*s).is_some(),
                "{what}: scheme {s} is defined"
            );
        }
        let responses = op["responses"].as_object().unwrap();
        let public = ["/health", "/v1/campuses"].contains(&template.as_str());
        assert_eq!(schemes.is_empty(), public, "{what}: public or keyed");
        if !public {
            assert!(responses.contains_key("401"), "{what}: documents 401");
            assert!(responses.contains_key("503"), "{what}: documents 503");
        }
        if schemes.contains("campusKey") || schemes.contains("auditorKey") {
            assert!(responses.contains_key("403"), "{what}: documents 403");
        }
        if schemes.contains("webhookSignature") {
            assert!(
                schemes.contains("webhookKeyId"),
                "{what}: key id with signature"
            );
            assert!(
                responses.contains_key("413"),
                "{what}: signed bodies are read"
            );
        }

        // Every answer is JSON with a request id; every error is an Error.
        for (status, _) in responses {
            let code: u16 = status.parse().unwrap();
            let at = spec.resolve(format!(
                "/paths/{}/{method}/responses/{status}",
                escape(&template)
            ));
            let response = spec.doc.pointer(&at).unwrap();
            assert!(
                response["headers"]["x-request-id"].is_object(),
                "{what} {status}: x-request-id"
            );
            let schema = spec.response_schema(&template, method, code).unwrap();
            if code >= 400 {
                let extra = json!({"code": "x", "message": "m", "detail": 1});
                let missing = json!({"code": "x"});
                assert!(
                    spec.check(&schema, &extra).is_err() && spec.check(&schema, &missing).is_err(),
                    "{what} {status}: errors are closed {{code, message}} objects"
                );
                assert_eq!(
                    spec.doc.pointer(&format!("{schema}/$ref")),
                    Some(&json!("#/components/schemas/Error")),
                    "{what} {status}: the shared Error schema"
                );
            }
        }

        // Request bodies are closed.
        if let Some(rs) = spec.request_schema(&template, method) {
            let target = spec
                .doc
                .pointer(&rs)
                .and_then(|s| s.get("$ref"))
                .and_then(Value::as_str)
                .map_or(rs.clone(), |r| r[1..].to_owned());
            assert_eq!(
                spec.doc.pointer(&format!("{target}/additionalProperties")),
                Some(&json!(false)),
                "{what}: request body refuses unknown fields"
            );
        }
    }

    // Every object schema in components is closed (the Rust structs are), except `days`.
    fn closed(v: &Value, at: &str, open: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if o.get("type") == Some(&json!("object"))
                    && o.get("additionalProperties").is_none()
                {
                    open.push(at.to_owned());
                }
                for (k, v) in o {
                    closed(v, &format!("{at}/{k}"), open);
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    closed(v, &format!("{at}/{i}"), open);
                }
            }
            _ => {}
        }
    }
    let mut open = Vec::new();
    closed(&spec.doc["components"]["schemas"], "schemas", &mut open);
    closed(&spec.doc["paths"], "paths", &mut open);
    assert!(
        open.is_empty(),
        "object schemas without additionalProperties: {open:?}"
    );

    // The Error schema itself.
    let error = "/components/schemas/Error";
    assert!(spec
        .check(error, &json!({"code": "c", "message": "m"}))
        .is_ok());
    assert!(spec.check(error, &json!({"code": "c"})).is_err());
    assert!(spec
        .check(error, &json!({"code": 1, "message": "m"}))
        .is_err());

    // Ledger entries: exactly the 21 fields of docs/ledger-format.md §2.1.
    let entry = &spec.doc["components"]["schemas"]["LedgerEntry"];
    let doc = include_str!("../../docs/ledger-format.md");
    let section = &doc[doc.find("### 2.1 Fields").unwrap()..doc.find("### 2.2").unwrap()];
    let fields: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(fields.len(), 21);
    let required: BTreeSet<String> = entry["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let properties: BTreeSet<String> = entry["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(required, fields, "LedgerEntry requires every entry field");
    assert_eq!(properties, fields, "LedgerEntry has no other field");
}

// ---------------------------------------------------------------------------------------------
// 500: no real route panics, so a test route does, mounted the way every function mounts.

#[tokio::test]
async fn a_panic_is_the_documented_500_with_a_request_id() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("open a fresh store"));
    let app = App::new(
        store,
        Pepper::new(PEPPER.to_vec()).unwrap(),
        Integrations::default(),
        Rules::defaults(),
    );
    async fn boom() -> &'static str {
        panic!("a handler bug")
    }
    let router = greenloop::http::mount(
        axum::Router::new().route("/boom", axum::routing::get(boom)),
        app,
    );
    let res = router
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .expect("the router answers");
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        res.headers()
            .get("x-request-id")
            .is_some_and(|v| !v.is_empty()),
        "a 500 carries x-request-id like every answer (headers: {:?})",
        res.headers()
    );
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("a JSON error");
    let spec = Spec::load();
    spec.check(&spec.component_response("Internal"), &body)
        .unwrap_or_else(|e| panic!("500 body does not match the spec: {e}"));
    assert_eq!(body["code"], "internal");
}
