//! The scenario's fixture and harness: a registry on a [`Flaky`] store, requests, and a `send`
//! that checks every answer against the spec and records which (route, method, status) it was.

use crate::flaky::Flaky;
use crate::spec::Spec;
use crate::support::{self, http_app};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use greenloop::catalog::Rules;
use greenloop::credit::credit_pending;
use greenloop::domain::{Pepper, Subject};
use greenloop::ledger::leaf_hash;
use greenloop::store::{ApiKey, Grant};
use greenloop::store::{Crediting, Pseudonyms, Registry};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// 2026-11-07 12:00:00 +08:00, inside the Double 11 window.
pub const NOW: i64 = 1_794_024_000;
pub const TODAY: &str = "2026-11-07";
pub const SECRET: &str = "qr-secret-0123456789abcdef";
pub const PEPPER: &[u8] = b"openapi-test-pepper-0123456789";
pub const CAMPUS_A_KEY: &str =
    "glk_ca0000000000000a_0001000100010001000100010001000100010001000100010001000100010001";
pub const CAMPUS_B_KEY: &str =
    "glk_cb0000000000000b_0002000200020002000200020002000200020002000200020002000200020002";
pub const GHOST_KEY: &str =
    "glk_c90000000000000c_0003000300030003000300030003000300030003000300030003000300030003";
pub const AUDITOR_KEY: &str =
    "glk_a0000000000000d1_0004000400040004000400040004000400040004000400040004000400040004";
/// Keys of partner brands `brand-01` (named by the scenario's scans) and `brand-02`.
pub const BRAND_01_KEY: &str =
    "glk_b0000000000000b1_0005000500050005000500050005000500050005000500050005000500050005";
pub const BRAND_02_KEY: &str =
    "glk_b0000000000000b2_0006000600060006000600060006000600060006000600060006000600060006";

pub struct Req {
    pub method: Method,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn new(method: &str, uri: impl Into<String>) -> Req {
        Req {
            method: Method::from_bytes(method.as_bytes()).expect("a method"),
            uri: uri.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(uri: impl Into<String>) -> Req {
        Req::new("GET", uri)
    }

    pub fn post(uri: impl Into<String>, body: &Value) -> Req {
        Req::new("POST", uri).raw(serde_json::to_vec(body).unwrap())
    }

    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Req {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn bearer(self, key: &str) -> Req {
        self.header("authorization", format!("Bearer {key}"))
    }

    /// Signs the request as integration `qr-1` at `t`.
    pub fn signed_at(self, t: i64) -> Req {
        self.signed_as(http_app::KEY_ID, SECRET, t)
    }

    /// Signs the request as integration `key_id` with `secret` at `t`.
    pub fn signed_as(self, key_id: &str, secret: &str, t: i64) -> Req {
        let headers = http_app::signature_headers_as(
            key_id,
            secret,
            self.method.as_str(),
            &self.uri,
            t,
            &self.body,
        );
        headers
            .into_iter()
            .fold(self, |req, (name, value)| req.header(name, value))
    }

    pub fn signed(self) -> Req {
        self.signed_at(NOW)
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub json: Value,
    pub text: String,
    pub request_id: String,
}

pub struct Harness {
    pub spec: Spec,
    pub app: axum::Router,
    pub store: Arc<Flaky>,
    pub pepper: Pepper,
    /// (path template or "<no route>", method, status) of every answer.
    pub seen: Mutex<BTreeSet<(String, String, u16)>>,
}

impl Harness {
    pub async fn new() -> (Harness, tempfile::TempDir) {
        let (inner, dir) = support::temp_store();
        let store = Arc::new(Flaky {
            inner,
            down: AtomicBool::new(false),
            corrupt: AtomicBool::new(false),
            orphans: Mutex::new(HashMap::new()),
            unreadable: Mutex::new(HashMap::new()),
        });
        http_app::put_campuses(
            store.as_ref(),
            &[
                ("campus-a", "Campus A University", "Hangzhou"),
                ("campus-b", "Campus B Institute", "Shanghai"),
            ],
        )
        .await;
        http_app::put_stations(
            store.as_ref(),
            &[
                ("st-0001", "Hangzhou", Some("campus-a")),
                ("st-0002", "Hangzhou", None),
            ],
        )
        .await;
        // Another platform's station: qr-1 may not record there.
        http_app::put_station_of(
            store.as_ref(),
            "st-0003",
            "Hangzhou",
            None,
            &[http_app::OTHER_KEY_ID],
        )
        .await;
        http_app::put_api_keys(
            store.as_ref(),
            &[
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
                (
                    BRAND_01_KEY,
                    Grant::Brand {
                        brand: "brand-01".into(),
                    },
                ),
                (
                    BRAND_02_KEY,
                    Grant::Brand {
                        brand: "brand-02".into(),
                    },
                ),
            ],
        )
        .await;
        let ghost = Grant::Campus {
            campus: "campus-ghost".into(),
        };
        let ghost = ApiKey::of_key(GHOST_KEY, ghost, 0, None).expect("a well-formed key");
        assert!(
            store.put_api_key(&ghost).await.is_err(),
            "the store mints keys only for registered campuses"
        );
        store
            .orphans
            .lock()
            .unwrap()
            .insert(ghost.id.clone(), ghost);
        let mut app = http_app::app(store.clone(), PEPPER, SECRET, NOW);
        // The public log names the key the scenario signs with.
        app.site = Arc::new(greenloop::http::Site {
            log_key: Some(
                greenloop::checkpoint::LogKey::from_hex(greenloop_testkit::TEST_LOG_KEY)
                    .unwrap()
                    .public(),
            ),
            ..Default::default()
        });
        let h = Harness {
            spec: Spec::load(),
            pepper: Pepper::new(PEPPER.to_vec()).unwrap(),
            app: greenloop::http::router(app),
            store,
            seen: Mutex::new(BTreeSet::new()),
        };
        (h, dir)
    }

    /// The member `user` stands for: their mapping's pseudonym, drawn now if the harness asks
    /// before the user's first action (as that action would have).
    pub async fn member(&self, user: &str) -> String {
        let subject = Subject::of(&self.pepper, user);
        self.store
            .member_or_new(&subject, http_app::KEY_ID)
            .await
            .expect("the mapping")
            .to_string()
    }

    /// Credits everything pending and computes the public ranking, as the sweep does.
    pub async fn credit(&self) {
        credit_pending(self.store.as_ref(), &Rules::defaults(), 4)
            .await
            .expect("crediting runs");
        let now = chrono::Utc::now().timestamp();
        greenloop::credit::ranking::keep(self.store.as_ref(), now, 0)
            .await
            .expect("the ranking is kept");
        assert!(
            self.store
                .pending_actions(None, 10)
                .await
                .unwrap()
                .is_empty(),
            "crediting leaves nothing pending"
        );
    }

    /// Sends `req`, checks the status, the request id, the content type and the body against
    /// the spec, and records what was exercised.
    pub async fn send(&self, req: Req, want: u16) -> Answer {
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
        let etag = res
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = http_app::body_bytes(res).await;
        // The pages' assets include a WebAssembly module, which is not text.
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert_eq!(status.as_u16(), want, "{what}: status; body {text}");
        assert!(
            request_id.as_ref().is_some_and(|id| !id.is_empty()),
            "{what}: every answer carries x-request-id"
        );
        let request_id = request_id.unwrap_or_default();
        if want == 304 {
            assert!(text.is_empty(), "{what}: 304 answers without a body");
            let route = self.spec.route_of(req.uri.split('?').next().unwrap());
            let route = route.expect("a documented route");
            assert!(
                self.spec.operation(&route, &method)["responses"]["304"].is_object(),
                "{what}: 304 is documented"
            );
            self.seen.lock().unwrap().insert((route, method, want));
            return Answer {
                status,
                etag,
                json: Value::Null,
                text,
                request_id,
            };
        }
        let media = content_type
            .as_deref()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap();
        if media != "application/json" {
            // A page or an asset: the spec must document this type for this status.
            let route = self.spec.route_of(req.uri.split('?').next().unwrap());
            let route =
                route.unwrap_or_else(|| panic!("{what}: {media} from an undocumented route"));
            let documented = self.spec.operation(&route, &method)["responses"][want.to_string()]
                ["content"][media]
                .is_object();
            assert!(documented, "{what}: {want} {media} is not documented");
            assert!(!bytes.is_empty(), "{what}: an empty {media} body");
            self.seen.lock().unwrap().insert((route, method, want));
            return Answer {
                status,
                etag,
                json: Value::Null,
                text,
                request_id,
            };
        }
        let json: Value = if method == "head" {
            assert!(text.is_empty(), "{what}: HEAD answers without a body");
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: JSON body: {e}: {text}"))
        };

        let path = req.uri.split('?').next().unwrap();
        let (route, schema) = match self.spec.route_of(path) {
            // Our limits on the request line and headers hold on every path, routed or not.
            _ if want == 414 => (
                "<any path>".to_owned(),
                self.spec.component_response("UriTooLong"),
            ),
            _ if want == 431 => (
                "<any path>".to_owned(),
                self.spec.component_response("HeadersTooLarge"),
            ),
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
        Answer {
            status,
            etag,
            json,
            text,
            request_id,
        }
    }

    pub async fn ok(&self, req: Req, want: u16) -> Value {
        self.send(req, want).await.json
    }

    /// Sends `req` and expects an error with this status and code.
    pub async fn err(&self, req: Req, want: u16, code: &str) {
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
pub fn rehash(raw: &str) -> (String, String) {
    let entry: Value = serde_json::from_str(raw).unwrap();
    let hash = entry["hash"].as_str().unwrap().to_owned();
    let cut = raw.replacen(&format!(",\"hash\":\"{hash}\""), "", 1);
    assert_ne!(cut, raw, "hash member where canonical order puts it");
    (hash, leaf_hash(cut.as_bytes()).to_string())
}

pub fn scan(id: &str, user: &str, station: &str, at: i64, items: Value) -> Value {
    json!({"scan_id": id, "user": user, "station": station, "at": at, "items": items})
}

pub fn boxes(n: u32) -> Value {
    json!({"books": 0, "boxes": [{"brand": null, "count": n}], "clothing_g": 0, "shoes": 0})
}
