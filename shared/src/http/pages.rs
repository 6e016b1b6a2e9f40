//! The web pages, compiled into the binary (`shared/web/`): the public transparency page at
//! `/`, the campus dashboard for portal staff at `/campus`, and their assets under `/assets/`.
//! The `campus` function and `greenloop serve` serve them; nothing is fetched from elsewhere.
//!
//! Every answer carries a strict Content-Security-Policy: scripts and styles from this origin
//! only, no inline code, WebAssembly allowed (the proof checker), connections to this origin
//! only. Only the dashboard may be framed, by the origins [`Site::portal_frame_ancestors`]
//! names; every other page refuses frames. Pages are revalidated on each visit, assets after
//! five minutes, both with an ETag of their bytes.

use super::{if_none_match, ApiError};
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use greenloop_core::checkpoint::PublicKey;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// What the pages and the public log publish about this deployment.
#[derive(Debug, Clone)]
pub struct Site {
    /// The log's public key: the public page shows it and checks checkpoints against it.
    pub log_key: Option<PublicKey>,
    /// The CSP `frame-ancestors` sources that may embed the dashboard.
    pub portal_frame_ancestors: String,
}

/// Any HTTPS page may embed the dashboard unless the operator narrows it: it shows nothing
/// without a portal key, the key is typed into our frame (which the embedding page cannot
/// read), and it changes nothing, so framing exposes no action to clickjacking.
pub const DEFAULT_PORTAL_FRAME_ANCESTORS: &str = "https:";

impl Default for Site {
    fn default() -> Self {
        Site {
            log_key: None,
            portal_frame_ancestors: DEFAULT_PORTAL_FRAME_ANCESTORS.into(),
        }
    }
}

/// A `frame-ancestors` source list from sources separated by spaces: each `https://host` with
/// an optional port, `'self'`, or `https:` (any HTTPS page, the default). Anything else (a path,
/// a quote, a semicolon) could change the policy, so it is refused.
pub fn frame_ancestors(list: &str) -> Result<String, String> {
    let sources: Vec<&str> = list.split_whitespace().collect();
    for s in &sources {
        let host = s.strip_prefix("https://").unwrap_or("");
        let ok = *s == "'self'"
            || *s == DEFAULT_PORTAL_FRAME_ANCESTORS
            || (!host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*')));
        if !ok {
            return Err(format!(
                "GREENLOOP_PORTAL_ORIGINS: {s:?} is not an https:// origin or 'self'"
            ));
        }
    }
    if sources.is_empty() {
        return Err("GREENLOOP_PORTAL_ORIGINS lists no origin".into());
    }
    Ok(sources.join(" "))
}

/// One file of `shared/web/`, served at `/assets/<name>` (the pages themselves at `/` and
/// `/campus`). Names are flat, so each is one path segment on every router.
struct Asset {
    name: &'static str,
    file: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($name:literal $(from $file:literal)? => $type:expr),* $(,)?) => {
        &[$(assets!(@one $name $(, $file)? => $type)),*]
    };
    (@one $name:literal => $type:expr) => { assets!(@one $name, $name => $type) };
    (@one $name:literal, $file:literal => $type:expr) => {
        Asset {
            name: $name,
            file: $file,
            content_type: $type,
            bytes: include_bytes!(concat!("../../web/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file served; a test checks that this is exactly what `shared/web/` holds.
static ASSETS: &[Asset] = assets! {
    "index.html" => HTML,
    "campus.html" => HTML,
    "style.css" => CSS,
    "common.js" => JS,
    "chart.js" => JS,
    "i18n.js" => JS,
    "public.js" => JS,
    "witness.js" => JS,
    "campus.js" => JS,
    "verifier.js" => JS,
    "verifier.wasm" => "application/wasm",
    "uPlot.iife.min.js" from "vendor/uplot-1.6.32/uPlot.iife.min.js" => JS,
    "uPlot.min.css" from "vendor/uplot-1.6.32/uPlot.min.css" => CSS,
    "uPlot.LICENSE.txt" from "vendor/uplot-1.6.32/LICENSE" => TEXT,
    "uPlot.README.txt" from "vendor/uplot-1.6.32/README.md" => TEXT,
};

/// The files [`ASSETS`] serves, relative to `shared/web/`.
pub fn asset_files() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.file)
}

/// An asset as served: its bytes gzipped, and the ETags of both forms.
struct Prepared {
    gzipped: Vec<u8>,
    etag: String,
    gzip_etag: String,
}

impl Prepared {
    fn of(bytes: &[u8]) -> Prepared {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, bytes).expect("writes to memory");
        let tag = &hex::encode(Sha256::digest(bytes))[..32];
        Prepared {
            gzipped: gz.finish().expect("writes to memory"),
            etag: format!("\"{tag}\""),
            gzip_etag: format!("\"{tag}-gz\""),
        }
    }
}

/// Asset `i` prepared once, at its first request, not at init: neither API Gateway nor the
/// local server compresses answers, and gzip saves a first visit two thirds of its bytes (the
/// WebAssembly checker alone is 535 KB), while a cold start compresses only what it serves.
fn prepared(i: usize) -> &'static Prepared {
    static PREPARED: OnceLock<Vec<OnceLock<Prepared>>> = OnceLock::new();
    PREPARED.get_or_init(|| ASSETS.iter().map(|_| OnceLock::new()).collect())[i]
        .get_or_init(|| Prepared::of(ASSETS[i].bytes))
}

/// Whether the request accepts gzip (RFC 9110 §12.5.3; a `q=0` refuses it).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The policy of every page: this origin only, no inline code; `frame` says who may embed it.
pub fn content_security_policy(frame_ancestors: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors {frame_ancestors}"
    )
}

/// Pages are revalidated on every visit; assets after five minutes.
const PAGE_CACHE: &str = "no-cache";
const ASSET_CACHE: &str = "public, max-age=300";

pub fn routes(site: &Site) -> Router {
    let policy = |frame_ancestors: &str| {
        HeaderValue::from_str(&content_security_policy(frame_ancestors))
            .expect("a checked source list is a header value")
    };
    let (unframed, portal) = (policy("'none'"), policy(&site.portal_frame_ancestors));
    let asset_policy = unframed.clone();
    Router::new()
        .route(
            "/",
            get(move |h: HeaderMap| async move {
                serve(&h, "index.html", PAGE_CACHE, &unframed, true)
            }),
        )
        .route(
            "/campus",
            get(move |h: HeaderMap| async move {
                serve(&h, "campus.html", PAGE_CACHE, &portal, false)
            }),
        )
        .route(
            "/assets/{name}",
            get(move |Path(name): Path<String>, h: HeaderMap| async move {
                serve(&h, &name, ASSET_CACHE, &asset_policy, true)
            }),
        )
}

/// The asset `name` with its headers, 304 to a matching `If-None-Match`, 404 if unknown.
fn serve(
    headers: &HeaderMap,
    name: &str,
    cache: &'static str,
    csp: &HeaderValue,
    deny_frames: bool,
) -> Result<Response, ApiError> {
    let i = ASSETS
        .iter()
        .position(|a| a.name == name)
        .ok_or_else(|| ApiError::not_found(format!("asset {name}")))?;
    let (asset, prepared) = (&ASSETS[i], prepared(i));
    let gzip = accepts_gzip(headers);
    let etag = if gzip {
        &prepared.gzip_etag
    } else {
        &prepared.etag
    };
    let mut out: Vec<(HeaderName, HeaderValue)> = vec![
        (
            header::ETAG,
            HeaderValue::from_str(etag).expect("a hex tag is a header value"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::VARY, HeaderValue::from_static("accept-encoding")),
        (header::CONTENT_SECURITY_POLICY, csp.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if deny_frames {
        out.push((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
    }
    let mut res = if if_none_match(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        out.push((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
        let bytes: &'static [u8] = &prepared.gzipped;
        ([(header::CONTENT_TYPE, asset.content_type)], bytes).into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    res.headers_mut().extend(out);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(router: &Router, uri: &str, etag: Option<&str>) -> Response {
        let mut req = Request::builder().uri(uri);
        if let Some(tag) = etag {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn head(res: &Response, name: header::HeaderName) -> &str {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn every_file_of_the_web_folder_is_served_and_nothing_else() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path.strip_prefix(&root).unwrap().to_string_lossy();
                    on_disk.push(rel.into_owned());
                }
            }
        }
        on_disk.sort();
        let mut served: Vec<String> = asset_files().map(str::to_owned).collect();
        served.sort();
        assert_eq!(served, on_disk);
    }

    #[tokio::test]
    async fn only_the_dashboard_may_be_framed_and_only_by_the_portals() {
        let site = Site {
            portal_frame_ancestors: frame_ancestors("https://portal.example.edu").unwrap(),
            ..Site::default()
        };
        let router = routes(&site);
        for uri in ["/", "/assets/public.js", "/assets/verifier.wasm"] {
            let res = get(&router, uri, None).await;
            assert_eq!(res.status(), StatusCode::OK, "{uri}");
            let csp = head(&res, header::CONTENT_SECURITY_POLICY);
            assert!(csp.ends_with("frame-ancestors 'none'"), "{uri}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{uri}: {csp}");
            assert_eq!(head(&res, header::X_FRAME_OPTIONS), "DENY", "{uri}");
            assert_eq!(head(&res, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        }
        let res = get(&router, "/campus", None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let csp = head(&res, header::CONTENT_SECURITY_POLICY);
        assert!(
            csp.ends_with("frame-ancestors https://portal.example.edu"),
            "{csp}"
        );
        assert_eq!(head(&res, header::X_FRAME_OPTIONS), "");
    }

    #[tokio::test]
    async fn assets_carry_their_type_and_revalidate_by_etag() {
        let router = routes(&Site::default());
        let wasm = get(&router, "/assets/verifier.wasm", None).await;
        assert_eq!(head(&wasm, header::CONTENT_TYPE), "application/wasm");
        assert_eq!(head(&wasm, header::CACHE_CONTROL), "public, max-age=300");
        let tag = head(&wasm, header::ETAG).to_owned();
        let again = get(&router, "/assets/verifier.wasm", Some(&tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let page = get(&router, "/", None).await;
        assert_eq!(
            head(&page, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(head(&page, header::CACHE_CONTROL), "no-cache");
        let other = get(&router, "/assets/style.css", Some(&tag)).await;
        assert_eq!(other.status(), StatusCode::OK, "another asset's tag");
        for missing in [
            "/assets/nope.js",
            "/assets/..%2FCargo.toml",
            "/assets/index.htm",
        ] {
            let res = get(&router, missing, None).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{missing}");
        }
    }

    #[test]
    fn frame_ancestors_take_https_origins_only() {
        assert_eq!(
            frame_ancestors(" https://portal.sjtu.edu.cn  https://a.b:8443 'self'").unwrap(),
            "https://portal.sjtu.edu.cn https://a.b:8443 'self'"
        );
        // The template's default.
        assert_eq!(frame_ancestors("https:").unwrap(), "https:");
        for bad in [
            "",
            "http://a.b",
            "https://a.b/path",
            "https://a.b; script-src *",
            "*",
            "http:",
        ] {
            assert!(frame_ancestors(bad).is_err(), "{bad:?}");
        }
    }
}
