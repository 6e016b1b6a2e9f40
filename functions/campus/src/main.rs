//! The `campus` function: university portal queries, the public campus ranking, and the web
//! pages (the public transparency page and the campus dashboard). It holds the
//! member pepper, to find a member's account from their platform id. Deployed a second time as
//! the affiliation function, it also verifies the integrations' signed campus transfers, and
//! only that deployment is given the webhook secrets.

use greenloop::config::{self, Secret};
use greenloop::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let mut needed = vec![Secret::Pepper];
    if Secret::WebhookSecrets.configured() {
        needed.push(Secret::WebhookSecrets);
    }
    let app = config::app(&needed).await?;
    let routes = http::campus::routes(&app).merge(http::pages::routes(&app.site));
    lambda_http::run(http::mount(routes)).await
}
