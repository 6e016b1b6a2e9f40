//! The spec on its own: it has exactly the routes the routers mount, and it keeps what the API
//! promises everywhere (closed objects, the shared `Error`, request ids).

use crate::spec::{escape, Spec};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// `(path, method)` of every `.route(...)` in the HTTP sources, and `/health` from `mount`.
fn mounted_routes() -> BTreeSet<(String, String)> {
    let sources = [
        include_str!("../../src/http/scan.rs"),
        include_str!("../../src/http/disposal.rs"),
        include_str!("../../src/http/campus.rs"),
        include_str!("../../src/http/audit.rs"),
        include_str!("../../src/http/brand.rs"),
        include_str!("../../src/http/public.rs"),
        include_str!("../../src/http/pages.rs"),
        include_str!("../../src/http/mod.rs"),
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
        let public = [
            "/health",
            "/v1/campuses",
            "/v1/brands",
            "/v1/log",
            "/v1/log/chains/{chain}/consistency",
            "/v1/packaging",
            "/",
            "/campus",
            "/assets/{name}",
        ]
        .contains(&template.as_str());
        assert_eq!(schemes.is_empty(), public, "{what}: public or keyed");
        if !public {
            assert!(responses.contains_key("401"), "{what}: documents 401");
            assert!(responses.contains_key("503"), "{what}: documents 503");
        }
        if ["campusKey", "auditorKey", "brandKey"]
            .iter()
            .any(|k| schemes.contains(k))
        {
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

        // Every answer is JSON with a request id (but a 304, which has no body); every error
        // is an Error.
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
            if code == 304 {
                assert!(
                    response.get("content").is_none(),
                    "{what} 304: not modified has no body"
                );
                continue;
            }
            // The pages' successes are HTML, scripts, styles and WebAssembly, not JSON.
            let is_page = op["tags"] == json!(["pages"]);
            if is_page && code < 400 && response["content"].get("application/json").is_none() {
                assert!(response["content"].is_object(), "{what} {status}: a type");
                continue;
            }
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

    // Ledger entries: exactly the 23 fields of docs/ledger-format.md §2.1.
    let entry = &spec.doc["components"]["schemas"]["LedgerEntry"];
    let doc = include_str!("../../../docs/ledger-format.md");
    let section = &doc[doc.find("### 2.1 Fields").unwrap()..doc.find("### 2.2").unwrap()];
    let fields: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(fields.len(), 23);
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
