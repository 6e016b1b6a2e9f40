//! The `audit` function: chain heads, entries and derived state for auditors, and the brand
//! team's ranking and statements. It holds no secret.

use greenloop::{config, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app(&[]).await?;
    let routes = http::audit::routes(&app).merge(http::brand::routes(&app));
    lambda_http::run(http::mount(routes)).await
}
