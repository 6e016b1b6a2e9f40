//! The `scan` function: signed QR-scan, pledge and pickup webhooks, and action status.

use greenloop::{config, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app().await?;
    lambda_http::run(http::mount(http::intake::routes(), app)).await
}
