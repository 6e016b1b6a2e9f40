//! Where an end-to-end test's store lives, embedded or on DynamoDB Local, and the `greenloop`
//! command set up to use it. Include it after `dynamodb_local`.
#![allow(dead_code)] // each test binary uses only part of it

use std::path::Path;
use std::process::Command;

pub enum Place<'a> {
    Embedded(&'a Path),
    Dynamo { endpoint: &'a str, table: &'a str },
}

impl Place<'_> {
    /// The binary, on this place's store and nothing from the caller's environment's.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenloop"));
        cmd.env_remove("GREENLOOP_DATA")
            .env_remove("GREENLOOP_TABLE");
        match self {
            Place::Embedded(dir) => cmd.arg("--data").arg(dir),
            Place::Dynamo { endpoint, table } => cmd
                .args(["--table", table])
                .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
                .env("AWS_REGION", super::dynamodb_local::REGION)
                .env("AWS_ACCESS_KEY_ID", "local")
                .env("AWS_SECRET_ACCESS_KEY", "local"),
        };
        cmd
    }
}
