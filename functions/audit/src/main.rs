//! The `audit` function: chain heads, entries and derived state for auditors. It holds no secret.

use greenloop::{config, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app(&[]).await?;
    lambda_http::run(http::mount(http::audit::routes(&app))).await
}
