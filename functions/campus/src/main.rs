//! The `campus` function: university portal queries and the public campus ranking. It holds the
//! member pepper, to find a member's account from their platform id.

use greenloop::config::{self, Secret};
use greenloop::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app(&[Secret::Pepper]).await?;
    lambda_http::run(http::mount(http::campus::routes(&app))).await
}
