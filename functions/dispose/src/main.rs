//! The `dispose` function: stations' signed disposition reports, each entered on its
//! station's chain with the mass balance. It holds the webhook secrets, not the member pepper:
//! a report names no member. Its own function, so that the intake of actions (`scan`) keeps a
//! role that cannot write the ledger.

use greenloop::config::{self, Secret};
use greenloop::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app(&[Secret::WebhookSecrets]).await?;
    lambda_http::run(http::mount(http::disposal::routes(&app))).await
}
