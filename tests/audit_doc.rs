//! `docs/audit.md` works as written: every `cargo run --release -- …` command of its walkthrough
//! runs, in order, in one shell on a fresh data directory, against the binary under test. The
//! only change is the demo's size (`--members`, `--actions`), to keep the test short.

use std::process::Command;

#[test]
fn the_audit_walkthrough_runs_as_written() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/audit.md"))
        .expect("docs/audit.md");
    let bin = env!("CARGO_BIN_EXE_greenloop");
    let mut script = vec!["set -eu".to_owned()];
    let mut in_sh = false;
    for line in doc.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && l.starts_with("export GREENLOOP_") => script.push(l.to_owned()),
            l if in_sh && l.starts_with("cargo run --release -- ") => {
                let command = l.split("  #").next().unwrap().trim();
                let mut command = command.replacen("cargo run --release --", bin, 1);
                if command.starts_with(&format!("{bin} demo")) {
                    command = command.replacen(" demo", " demo --members 300 --actions 3000", 1);
                }
                script.push(format!("echo '$ {}'", command.replace('\'', "")));
                script.push(command);
            }
            _ => {}
        }
    }
    assert!(script.len() > 10, "the walkthrough has its commands");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(script.join("\n"))
        .current_dir(dir.path())
        .env("GREENLOOP_DATA", dir.path().join("data"))
        .env_remove("GREENLOOP_LOG_KEY")
        .env_remove("GREENLOOP_LOG_PUBLIC_KEY")
        .output()
        .expect("sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the walkthrough failed:\n{text}");
    for want in [
        "verification: OK",
        "checkpoint",
        "proof: OK: chain shard-01 seq 5",
        "proof: OK: member",
        "proof: OK: chain shard-01's checkpoint of",
        "proof: OK: brand brand-07 has",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    assert!(
        !text.contains("checkpoint signatures not checked"),
        "the walkthrough pins the demo's key:\n{text}"
    );
}

/// `docs/audit.md` §7.5: each saved proof file it shows checks with `greenloop proof check`
/// under the RFC 8032 test key and prints the line the doc shows after it; the same file with
/// one digit of its first hash changed fails.
#[test]
fn the_saved_proof_examples_check_as_shown() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/audit.md"))
        .expect("docs/audit.md");
    let bin = env!("CARGO_BIN_EXE_greenloop");
    let key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let dir = tempfile::tempdir().unwrap();
    let check = |file: &std::path::Path| {
        Command::new(bin)
            .args(["proof", "check", "--log-key", key])
            .arg(file)
            .output()
            .expect("greenloop runs")
    };
    for kind in ["inclusion", "consistency", "statement"] {
        let fence = format!("```json saved-{kind}\n");
        let start = doc
            .find(&fence)
            .unwrap_or_else(|| panic!("no {fence:?} block"))
            + fence.len();
        let body = &doc[start..start + doc[start..].find("\n```").unwrap()];
        let after = &doc[start + body.len()..];
        let shown = after
            .lines()
            .find(|l| l.starts_with("proof: OK"))
            .expect("the doc shows what proof check prints");
        let file = dir.path().join(format!("{kind}.json"));
        std::fs::write(&file, body).unwrap();
        let out = check(&file);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{kind}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(text.trim(), shown, "{kind}: what the doc shows");

        // One hex digit of the first "root" changed: the signature no longer holds.
        let at = body.find("\"root\": \"").unwrap() + "\"root\": \"".len();
        let mut tampered = body.to_owned();
        let flipped = if &body[at..at + 1] == "0" { "1" } else { "0" };
        tampered.replace_range(at..at + 1, flipped);
        std::fs::write(&file, tampered).unwrap();
        let out = check(&file);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{kind}: a changed root must fail"
        );
    }
}
