//! `greenloop affiliate`, end to end on the embedded store: the operator moves a member between
//! campuses (by platform user id or by pseudonym), which a portal cannot; what it cannot do is
//! refused in one line and writes nothing.

#[path = "support/one_line.rs"]
mod one_line;

use greenloop::domain::{Campus, MemberId, Pepper, Subject};
use greenloop::store::embedded::EmbeddedStore;
use greenloop::store::{Affiliation, Consent, Members, Pseudonyms, Registry, PORTAL};
use one_line::assert_one_line_error;
use std::path::Path;
use std::process::{Command, Output};

const PEPPER: &str = "affiliate-cli-pepper-0123";

fn greenloop(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greenloop"))
        .env_remove("GREENLOOP_TABLE")
        .env("GREENLOOP_PEPPER", PEPPER)
        .arg("--data")
        .arg(data)
        .arg("affiliate")
        .args(args)
        .output()
        .expect("the greenloop binary runs")
}

async fn campus_of(data: &Path, member: &MemberId) -> Option<String> {
    let store = EmbeddedStore::open_existing(data).expect("open");
    let mut accounts = store
        .accounts(std::slice::from_ref(member))
        .await
        .expect("accounts");
    accounts.pop().and_then(|a| a.campus)
}

#[tokio::test]
async fn the_operator_moves_a_member_a_portal_cannot() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path();
    let subject = Subject::of(&Pepper::new(PEPPER.as_bytes().to_vec()).unwrap(), "u-7");
    let member = {
        let store = EmbeddedStore::open(data).expect("open");
        let member = store
            .member_or_new(&subject, PORTAL)
            .await
            .expect("first sight");
        for id in ["campus-a", "campus-b"] {
            let campus = Campus {
                id: id.into(),
                name: format!("{id} University"),
                city: "Hefei".into(),
            };
            store.put_campus(&campus).await.expect("put_campus");
        }
        store
            .affiliate(&member, "campus-a", Consent::Enrol)
            .await
            .expect("enrol");
        assert_eq!(
            store
                .affiliate(&member, "campus-b", Consent::Enrol)
                .await
                .expect("a portal's try"),
            greenloop::store::Affiliated::Elsewhere
        );
        member
    };

    let m = member.as_str();
    let out = greenloop(data, &["--campus", "campus-b", "--user", "u-7"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("member {m} moved from campus-a to campus-b\n")
    );
    assert_eq!(campus_of(data, &member).await.as_deref(), Some("campus-b"));

    let out = greenloop(data, &["--campus", "campus-b", "--member", m]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("member {m} is already at campus-b\n")
    );

    for (args, expect) in [
        (
            vec!["--campus", "campus-x", "--member", m],
            "campus campus-x not found",
        ),
        (vec!["--campus", "campus a", "--member", m], "--campus"),
        (
            vec!["--campus", "campus-a", "--user", "never-seen"],
            "no member is known by this user id",
        ),
        (
            vec!["--campus", "campus-a", "--member", "not-hex"],
            "--member",
        ),
    ] {
        assert_one_line_error(&greenloop(data, &args), expect);
    }
    // The deployment's pepper is needed to name a member by user id on a table.
    let out = Command::new(env!("CARGO_BIN_EXE_greenloop"))
        .env_remove("GREENLOOP_PEPPER")
        .args([
            "--table",
            "t",
            "affiliate",
            "--campus",
            "campus-a",
            "--user",
            "u-7",
        ])
        .output()
        .expect("runs");
    assert_one_line_error(&out, "GREENLOOP_PEPPER");
    assert_eq!(
        campus_of(data, &member).await.as_deref(),
        Some("campus-b"),
        "refusals write nothing"
    );
}
