//! The `scan` function: signed QR-scan, pledge and pickup webhooks, and action status. It holds
//! the member pepper and the webhook secrets, and serves erasure, whose receipts it signs with
//! the receipt key.

use greenloop::config::{self, Secret};
use greenloop::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app(&[Secret::Pepper, Secret::WebhookSecrets, Secret::ReceiptKey]).await?;
    lambda_http::run(http::mount(http::scan::routes(&app))).await
}
