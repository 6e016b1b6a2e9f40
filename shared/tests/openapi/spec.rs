//! `docs/openapi.yaml`, loaded once per test, and a JSON-Schema validator over it: the spec is the
//! root document, so every `$ref` in it resolves.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SPEC: &str = include_str!("../../../docs/openapi.yaml");

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub struct Spec {
    pub doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Spec {
    pub fn load() -> Spec {
        let doc: Value = serde_norway::from_str(SPEC).expect("docs/openapi.yaml is YAML");
        assert_eq!(doc["openapi"], "3.1.0", "an OpenAPI 3.1 document");
        Spec {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    }

    pub fn paths(&self) -> &serde_json::Map<String, Value> {
        self.doc["paths"].as_object().expect("paths is an object")
    }

    /// The operations of a path, as lowercase method names.
    pub fn methods(&self, template: &str) -> Vec<&'static str> {
        let item = &self.paths()[template];
        METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect()
    }

    pub fn operations(&self) -> Vec<(String, &'static str)> {
        self.paths()
            .keys()
            .flat_map(|t| self.methods(t).into_iter().map(move |m| (t.clone(), m)))
            .collect()
    }

    pub fn operation(&self, template: &str, method: &str) -> &Value {
        &self.paths()[template][method]
    }

    /// The spec path a concrete path (percent-encoded, without query) falls under: `{x}`
    /// matches one non-empty segment; literal segments must be equal.
    pub fn route_of(&self, path: &str) -> Option<String> {
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
    pub fn resolve(&self, mut pointer: String) -> String {
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
    pub fn response_schema(&self, template: &str, method: &str, status: u16) -> Option<String> {
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

    pub fn component_response(&self, name: &str) -> String {
        let p = format!("/components/responses/{name}/content/application~1json/schema");
        assert!(
            self.doc.pointer(&p).is_some(),
            "no response component {name}"
        );
        p
    }

    pub fn request_schema(&self, template: &str, method: &str) -> Option<String> {
        let p = format!(
            "/paths/{}/{method}/requestBody/content/application~1json/schema",
            escape(template)
        );
        self.doc.pointer(&p).map(|_| p)
    }

    /// Validates `instance` against the schema at `pointer`, with the whole spec as the root
    /// document so that every `$ref` resolves (OpenAPI 3.1 schemas are JSON Schema 2020-12).
    pub fn check(&self, pointer: &str, instance: &Value) -> Result<(), String> {
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
