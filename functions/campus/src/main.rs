//! The `campus` function: university portal queries and the public campus ranking.

use greenloop::{config, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    config::init_json_logs();
    let app = config::app().await?;
    lambda_http::run(http::mount(http::campus::routes(), app)).await
}
