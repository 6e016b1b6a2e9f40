//! `greenloop register`: loads campuses and post stations into a store from a JSON file, the
//! way a deployment gets its registry (intake refuses actions from unknown stations).
//!
//! The file is `{"campuses": [{"id", "name", "city"}], "stations": [{"id", "city", "campus",
//! "integrations"}]}`; a station's `campus` is a campus id or null, and `integrations` lists
//! the key ids of the integrations that may record there (at least one). Everything is checked
//! before anything is written, and writing again is harmless (a put per item). The public
//! ranking is computed again, so that a new campus is on it at once.

use crate::backend::Backend;
use greenloop::domain::{Campus, Station};
use greenloop::store::Store;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    #[serde(default)]
    campuses: Vec<Campus>,
    #[serde(default)]
    stations: Vec<Station>,
}

pub async fn run(data: &Path, table: Option<&str>, file: &Path) -> Result<ExitCode, String> {
    let backend = Backend::open(data, table, false).await?;
    println!("{}", register(backend.store(), file).await?);
    Ok(ExitCode::SUCCESS)
}

/// Registers the file's campuses, then its stations; returns a one-line summary.
pub async fn register(store: &dyn Store, file: &Path) -> Result<String, String> {
    let text = crate::read(file, "registry")?;
    let registry: Registry =
        serde_json::from_str(&text).map_err(|e| format!("registry {}: {e}", file.display()))?;
    let mut known: BTreeSet<String> = store
        .campuses()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|c| c.id)
        .collect();
    known.extend(registry.campuses.iter().map(|c| c.id.clone()));
    for c in &registry.campuses {
        greenloop::domain::check_id("campus", &c.id)
            .map_err(|e| format!("campus {}: {e}", c.id))?;
    }
    for s in &registry.stations {
        s.validate().map_err(|e| format!("station {}: {e}", s.id))?;
        if let Some(c) = s.campus.as_ref().filter(|c| !known.contains(*c)) {
            return Err(format!("station {}: unknown campus {c}", s.id));
        }
    }
    for c in &registry.campuses {
        store.put_campus(c).await.map_err(|e| e.to_string())?;
    }
    for s in &registry.stations {
        store.put_station(s).await.map_err(|e| e.to_string())?;
    }
    // A new campus is on the public ranking at once, with zeros.
    let now = chrono::Utc::now().timestamp();
    greenloop::credit::ranking::keep(store, now, 0)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "registered {} campuses and {} stations",
        registry.campuses.len(),
        registry.stations.len()
    ))
}
