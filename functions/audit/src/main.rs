//! The `audit` function: chain heads, entries and derived state for auditors, the brand team's
//! ranking and statements, and the public log (checkpoints, consistency proofs) and packaging
//! figures. It holds no secret; `GREENLOOP_LOG_PUBLIC_KEY` is the key the public log names.

use greenloop::{config, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app(&[]).await?;
    let routes = http::audit::routes(&app)
        .merge(http::brand::routes(&app))
        .merge(http::public::routes(&app));
    lambda_http::run(http::mount(routes)).await
}
