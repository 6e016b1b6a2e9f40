//! `greenloop affiliate`: the operator sets a member's campus, moving them from another campus
//! if need be. It is the support desk's path for a member who cannot use their app; a portal
//! can only enrol a member who has no campus, and the member's own path is their integration's
//! signed `PUT /v1/members/{user}/campus`.

use crate::backend::Backend;
use clap::Args;
use greenloop::domain::{check_id, MemberId};
use greenloop::store::{Affiliated, Consent};
use std::path::Path;
use std::process::ExitCode;

#[derive(Args)]
pub struct AffiliateArgs {
    /// The campus id.
    #[arg(long)]
    campus: String,
    /// The member's platform user id, looked up in the pseudonym mapping with GREENLOOP_PEPPER
    /// (which a DynamoDB table requires: it must be the deployment's).
    #[arg(long, required_unless_present = "member", conflicts_with = "member")]
    user: Option<String>,
    /// The member's pseudonym (64 lowercase hex), as leaderboards and statements show it.
    #[arg(long)]
    member: Option<String>,
}

pub async fn run(
    data: &Path,
    table: Option<&str>,
    args: AffiliateArgs,
) -> Result<ExitCode, String> {
    check_id("campus", &args.campus).map_err(|e| format!("--campus: {e}"))?;
    let named = match (&args.member, &args.user) {
        (Some(m), _) => Ok(MemberId::parse(m).map_err(|e| format!("--member: {e}"))?),
        (None, Some(user)) => Err(crate::erase::subject(table, user)?),
        (None, None) => return Err("name the member with --user or --member".into()),
    };
    // Opened only once the arguments are good.
    let backend = Backend::open(data, table, true).await?;
    let member = match named {
        Ok(member) => member,
        Err(subject) => {
            let mapping = backend.store().mapping(&subject).await;
            mapping
                .map_err(|e| e.to_string())?
                .ok_or("no member is known by this user id (never seen, or erased)")?
                .member
        }
    };
    let done = backend
        .store()
        .affiliate(&member, &args.campus, Consent::Transfer)
        .await
        .map_err(|e| e.to_string())?;
    let m = member.as_str();
    let campus = &args.campus;
    match done {
        Affiliated::Joined => println!("member {m} joined {campus}"),
        Affiliated::Unchanged => println!("member {m} is already at {campus}"),
        Affiliated::Moved { from } => println!("member {m} moved from {from} to {campus}"),
        Affiliated::Elsewhere => return Err(format!("member {m} was not moved")),
    }
    Ok(ExitCode::SUCCESS)
}
