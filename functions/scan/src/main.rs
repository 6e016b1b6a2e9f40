//! The `scan` function: signed QR-scan, pledge and pickup webhooks, and action status. It holds
//! the member pepper and the webhook secrets.

use greenloop::config::{self, Secret};
use greenloop::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app(&[Secret::Pepper, Secret::WebhookSecrets]).await?;
    lambda_http::run(http::mount(http::scan::routes(&app))).await
}
