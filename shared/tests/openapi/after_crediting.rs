//! The scenario from crediting on: action status with ledger places and pledge progress, the
//! campus and audit routes, and the store going away.

use crate::harness::{
    boxes, rehash, scan, Harness, Req, AUDITOR_KEY, CAMPUS_A_KEY, CAMPUS_B_KEY, GHOST_KEY, NOW,
    TODAY,
};
use greenloop::domain::MemberId;
use greenloop::store::LedgerSource;
use greenloop::store::Members;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// Crediting, then status with the ledger place and pledge progress.
pub async fn crediting(h: &Harness) {
    h.credit().await;
    let s1 = h.ok(Req::get("/v1/actions/scan-1").signed(), 200).await;
    assert_eq!(s1["status"], "credited");
    // 3 partner boxes ×10 ×200% + 1 box ×10 + 1 pair of shoes ×8 + 2 books ×3.
    assert_eq!(s1["bonus"], 60 + 10 + 8 + 6);
    let p1 = h.ok(Req::get("/v1/actions/pledge-1").signed(), 200).await;
    assert_eq!(p1["status"], "credited");
    assert_eq!(p1["bonus"], 4);
    assert_eq!(
        p1["pledge"],
        json!({"boxes": 2, "returned": 0, "fulfilled": false})
    );
    let ap = h.ok(Req::get("/v1/actions/appt-1").signed(), 200).await;
    assert_eq!(ap["status"], "credited");
    assert_eq!(ap["bonus"], 12);

    // The member's view has the open pledge; a later drop-off returns its boxes.
    let m = h
        .ok(
            Req::get("/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(
        m["open_pledges"],
        json!([{"action": "qr-1/pledge-1", "boxes": 2, "returned": 0}])
    );
    let scan2 = scan("scan-2", "alice", "st-0001", NOW - 10, boxes(2));
    h.ok(Req::post("/v1/scans", &scan2).signed(), 202).await;
    h.credit().await;
    let p1 = h.ok(Req::get("/v1/actions/pledge-1").signed(), 200).await;
    assert_eq!(
        p1["pledge"],
        json!({"boxes": 2, "returned": 2, "fulfilled": true})
    );
}

/// Campus routes.
pub async fn campus_routes(h: &Harness) {
    let alice = h.member("alice").await;
    let answer = h.send(Req::get("/v1/campuses"), 200).await;
    let ranking = answer.json["campuses"].clone();
    let ranked: Vec<_> = ranking
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rank"].clone(), r["campus"].clone(), r["co2e_g"].clone()))
        .collect();
    // bob: 2.5 kg of clothes × 3000 g/kg; alice: 6 boxes × 37 + 1 pair × 2000 + 2 books × 1026.
    assert_eq!(
        ranked,
        vec![
            (json!(1), json!("campus-b"), json!(7500)),
            (json!(2), json!("campus-a"), json!(6 * 37 + 2000 + 2 * 1026)),
        ]
    );

    // The same ranking again is 304 to a client that names its tag, weakly or in a list.
    let etag = answer.etag.clone().expect("the ranking carries an ETag");
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"x\", {etag}"),
        "*".into(),
    ] {
        h.send(Req::get("/v1/campuses").header("if-none-match", tag), 304)
            .await;
    }
    h.ok(
        Req::get("/v1/campuses").header("if-none-match", "\"other\""),
        200,
    )
    .await;

    let sum = h
        .ok(
            Req::get("/v1/campuses/campus-a/summary").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(sum["campus"], "campus-a");
    assert_eq!(sum["name"], "Campus A University");
    assert_eq!(
        sum["campaign"],
        json!({"bonus": 84 + 4 + 20, "co2e_g": 4274, "entries": 3})
    );
    assert_eq!(
        sum["today"],
        json!({"day": TODAY, "bonus": 108, "co2e_g": 4274, "entries": 3})
    );
    assert_eq!(
        sum["days"],
        json!([{"campus": "campus-a", "day": TODAY, "bonus": 108, "co2e_g": 4274, "entries": 3}])
    );
    let summary = |campus: &str| Req::get(format!("/v1/campuses/{campus}/summary"));
    h.err(summary("campus-a"), 401, "unauthorized").await;
    h.err(
        summary("campus-a").header("authorization", CAMPUS_A_KEY),
        401,
        "unauthorized",
    )
    .await;
    h.err(summary("campus-a").bearer(CAMPUS_B_KEY), 403, "forbidden")
        .await;
    h.err(summary("campus-b").bearer(CAMPUS_A_KEY), 403, "forbidden")
        .await;
    h.err(summary("campus-ghost").bearer(GHOST_KEY), 404, "not_found")
        .await;
    h.err(summary("%FF").bearer(CAMPUS_A_KEY), 400, "bad_path")
        .await;

    let board = h
        .ok(
            Req::get("/v1/campuses/campus-a/leaderboard?limit=5").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(
        board,
        json!({
            "leaders": [{"rank": 1, "member": alice, "co2e_g": 4274, "balance": 108, "entries": 3}],
            "next": null,
        })
    );
    let lb = |q: &str| Req::get(format!("/v1/campuses/campus-a/leaderboard{q}"));
    for (q, code) in [
        ("?limit=0", "bad_limit"),
        ("?limit=101", "bad_limit"),
        ("?limit=ten", "bad_query"),
        ("?top=3", "bad_query"),
        ("?after=1:0:zz", "bad_cursor"),
    ] {
        h.err(lb(q).bearer(CAMPUS_A_KEY), 400, code).await;
    }
    h.err(lb(""), 401, "unauthorized").await;
    h.err(lb("").bearer(AUDITOR_KEY), 403, "forbidden").await;
    h.err(
        Req::get("/v1/campuses/campus-ghost/leaderboard").bearer(GHOST_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        Req::get("/v1/campuses/%FF/leaderboard").bearer(CAMPUS_A_KEY),
        400,
        "bad_path",
    )
    .await;

    let acct = h
        .send(
            Req::get("/v1/campuses/campus-a/members/alice?limit=2").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(acct.json["member"], alice.as_str());
    assert_eq!(acct.json["balance"], 108);
    assert_eq!(acct.json["entries"], 3);
    assert_eq!(acct.json["open_pledges"], json!([]));
    #[derive(serde::Deserialize)]
    struct Recent {
        recent: Vec<Box<RawValue>>,
    }
    let recent: Recent = serde_json::from_str(&acct.text).unwrap();
    let stored = h
        .store
        .member_entries(&MemberId::parse(&alice).unwrap(), None, 2)
        .await
        .unwrap();
    assert_eq!(recent.recent.len(), 2, "limit applies");
    for (got, want) in recent.recent.iter().zip(&stored) {
        assert_eq!(
            got.get().as_bytes(),
            want.1.as_slice(),
            "entries are byte-exact"
        );
        let (hash, recomputed) = rehash(got.get());
        assert_eq!(hash, recomputed, "a served entry re-hashes to its hash");
    }
    let newest: Value = serde_json::from_str(recent.recent[0].get()).unwrap();
    assert_eq!(newest["action"], "scan-2", "newest first");
    // Alice's entries are numbered 0 to 2: the page of 2 goes on before her number 1.
    assert_eq!(acct.json["next"], 1);
    let rest = h
        .ok(
            Req::get("/v1/campuses/campus-a/members/alice?before=1").bearer(CAMPUS_A_KEY),
            200,
        )
        .await;
    assert_eq!(rest["recent"].as_array().unwrap().len(), 1);
    assert_eq!(
        rest["recent"][0]["hash"].as_str(),
        Some(stored_first_hash(h, &alice).await.as_str())
    );
    assert_eq!(
        rest["next"],
        Value::Null,
        "her first entry ends the history"
    );
    let member = |c: &str, u: &str| Req::get(format!("/v1/campuses/{c}/members/{u}"));
    h.err(
        member("campus-a", "bob").bearer(CAMPUS_A_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        member("campus-a", "never-seen").bearer(CAMPUS_A_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        member("campus-ghost", "alice").bearer(GHOST_KEY),
        404,
        "not_found",
    )
    .await;
    h.err(
        member("campus-a", "%7F").bearer(CAMPUS_A_KEY),
        422,
        "invalid_user",
    )
    .await;
    h.err(
        member("campus-a", "alice?limit=0").bearer(CAMPUS_A_KEY),
        400,
        "bad_limit",
    )
    .await;
    for q in ["from=1", "before=x", "before=-1"] {
        h.err(
            member("campus-a", &format!("alice?{q}")).bearer(CAMPUS_A_KEY),
            400,
            "bad_query",
        )
        .await;
    }
    h.err(
        member("campus-a", "alice?limit=101").bearer(CAMPUS_A_KEY),
        400,
        "bad_limit",
    )
    .await;
    h.err(member("%FF", "alice").bearer(CAMPUS_A_KEY), 400, "bad_path")
        .await;
    h.err(member("campus-a", "alice"), 401, "unauthorized")
        .await;
    h.err(
        member("campus-a", "alice").bearer(CAMPUS_B_KEY),
        403,
        "forbidden",
    )
    .await;
}

/// The hash of a member's first entry, as stored.
async fn stored_first_hash(h: &Harness, member: &str) -> String {
    let first = h
        .store
        .member_entries(&MemberId::parse(member).unwrap(), Some(1), 1)
        .await
        .unwrap();
    let entry: Value = serde_json::from_slice(&first[0].1).unwrap();
    entry["hash"].as_str().unwrap().to_owned()
}

/// Audit routes.
pub async fn audit_routes(h: &Harness) {
    let alice = h.member("alice").await;
    let bob = h.member("bob").await;
    let heads = h
        .ok(Req::get("/v1/audit/heads").bearer(AUDITOR_KEY), 200)
        .await;
    let heads = heads.as_array().unwrap().clone();
    let names: Vec<&str> = heads.iter().map(|h| h["chain"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "heads come by chain name");
    let total: u64 = heads.iter().map(|h| h["size"].as_u64().unwrap()).sum();
    assert_eq!(
        total, 4,
        "scan-1, pledge-1, appt-1 and scan-2 are on the ledger"
    );
    #[derive(serde::Deserialize)]
    struct Page {
        chain: String,
        entries: Vec<Box<RawValue>>,
        next: Option<u64>,
    }
    for head in &heads {
        let chain = head["chain"].as_str().unwrap();
        let size = head["size"].as_u64().unwrap();
        let a = h
            .send(
                Req::get(format!("/v1/audit/chains/{chain}/entries")).bearer(AUDITOR_KEY),
                200,
            )
            .await;
        let page: Page = serde_json::from_str(&a.text).unwrap();
        assert_eq!(page.chain, chain);
        assert_eq!(page.entries.len() as u64, size);
        assert_eq!(page.next, None, "a short page is the last");
        let stored = h.store.entries(chain, 0, 1000).await.unwrap();
        let mut prev = "0".repeat(64);
        for (i, (got, want)) in page.entries.iter().zip(&stored).enumerate() {
            assert_eq!(
                got.get().as_bytes(),
                want.as_slice(),
                "entries are byte-exact"
            );
            let e: Value = serde_json::from_str(got.get()).unwrap();
            assert_eq!(e["seq"], i as u64);
            assert_eq!(e["prev"], prev.as_str());
            let (hash, recomputed) = rehash(got.get());
            assert_eq!(hash, recomputed);
            prev = hash;
        }
        assert_eq!(
            head["hash"],
            prev.as_str(),
            "the head is the last entry's hash"
        );
        let one = h
            .ok(
                Req::get(format!("/v1/audit/chains/{chain}/entries?from=0&limit=1"))
                    .bearer(AUDITOR_KEY),
                200,
            )
            .await;
        if size >= 1 {
            assert_eq!(one["next"], 1, "a full page names the next seq");
        }
        let end = h
            .ok(
                Req::get(format!("/v1/audit/chains/{chain}/entries?from={size}"))
                    .bearer(AUDITOR_KEY),
                200,
            )
            .await;
        assert_eq!(end, json!({"chain": chain, "entries": [], "next": null}));
    }
    let empty = h
        .ok(
            Req::get("/v1/audit/chains/shard-99/entries").bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(empty["entries"], json!([]));
    let entries = |q: &str| Req::get(format!("/v1/audit/chains/shard-00/entries{q}"));
    for (q, code) in [
        ("?limit=0", "bad_limit"),
        ("?limit=1001", "bad_limit"),
        ("?from=-1", "bad_query"),
        ("?seq=1", "bad_query"),
    ] {
        h.err(entries(q).bearer(AUDITOR_KEY), 400, code).await;
    }
    h.err(
        Req::get("/v1/audit/chains/%FF/entries").bearer(AUDITOR_KEY),
        400,
        "bad_path",
    )
    .await;
    h.err(
        Req::get("/v1/audit/chains/shard%2000/entries").bearer(AUDITOR_KEY),
        422,
        "invalid_id",
    )
    .await;
    h.err(entries(""), 401, "unauthorized").await;
    h.err(entries("").bearer(CAMPUS_A_KEY), 403, "forbidden")
        .await;

    let accounts = h
        .ok(Req::get("/v1/audit/accounts").bearer(AUDITOR_KEY), 200)
        .await;
    let members: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["member"].as_str().unwrap())
        .collect();
    // carol has an account with no entries: she chose a campus and has not recycled yet.
    let carol = h.member("carol").await;
    let mut want = vec![alice.as_str(), bob.as_str(), carol.as_str()];
    want.sort_unstable();
    assert_eq!(members, want, "accounts in member order");
    let first = h
        .ok(
            Req::get("/v1/audit/accounts?limit=1").bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(first.as_array().unwrap().len(), 1);
    let rest = h
        .ok(
            Req::get(format!("/v1/audit/accounts?after={}", want[0])).bearer(AUDITOR_KEY),
            200,
        )
        .await;
    assert_eq!(rest[0]["member"], want[1]);
    let accts = |q: &str| Req::get(format!("/v1/audit/accounts{q}"));
    h.err(
        accts("?after=ABC").bearer(AUDITOR_KEY),
        422,
        "invalid_member",
    )
    .await;
    h.err(accts("?limit=0").bearer(AUDITOR_KEY), 400, "bad_limit")
        .await;
    h.err(accts("?before=x").bearer(AUDITOR_KEY), 400, "bad_query")
        .await;
    h.err(accts(""), 401, "unauthorized").await;
    h.err(accts("").bearer(CAMPUS_B_KEY), 403, "forbidden")
        .await;

    let totals = h
        .ok(Req::get("/v1/audit/campus-totals").bearer(AUDITOR_KEY), 200)
        .await;
    assert_eq!(
        totals,
        json!([
            {"campus": "campus-a", "bonus": 108, "co2e_g": 4274, "entries": 3},
            {"campus": "campus-b", "bonus": 12, "co2e_g": 7500, "entries": 1},
        ])
    );
    h.err(Req::get("/v1/audit/campus-totals"), 401, "unauthorized")
        .await;
    h.err(
        Req::get("/v1/audit/campus-totals").bearer(CAMPUS_A_KEY),
        403,
        "forbidden",
    )
    .await;
    let rules = h
        .ok(Req::get("/v1/audit/rules").bearer(AUDITOR_KEY), 200)
        .await;
    assert_eq!(rules["rulebooks"][0]["version"], "double11-2026.2");
    assert_eq!(rules["rulebooks"][0]["daily_cap"], 200);
    assert_eq!(rules["factors"][0]["version"], "factors-2026.1");
    h.err(Req::get("/v1/audit/rules"), 401, "unauthorized")
        .await;
    h.err(
        Req::get("/v1/audit/rules").bearer(GHOST_KEY),
        403,
        "forbidden",
    )
    .await;
    h.err(
        Req::get("/v1/audit/heads").bearer("Bearer-less"),
        401,
        "unauthorized",
    )
    .await;
    h.err(
        Req::get("/v1/audit/heads").bearer(CAMPUS_A_KEY),
        403,
        "forbidden",
    )
    .await;
}

/// The store goes away: every route that reads it answers 503; health does not.
pub async fn store_outage(h: &Harness) {
    let done = json!({"clothing_g": 2500, "at": NOW - 30});
    h.store.down.store(true, Ordering::SeqCst);
    let down: Vec<Req> = vec![
        Req::post("/v1/scans", &scan("scan-3", "alice", "st-0001", NOW, boxes(1))).signed(),
        Req::post("/v1/pledges", &json!({"pledge_id": "pledge-3", "user": "alice", "station": "st-0001", "at": NOW, "boxes": 1})).signed(),
        Req::post("/v1/appointments", &json!({"appointment_id": "appt-3", "user": "bob", "station": "st-0002", "at": NOW})).signed(),
        Req::post("/v1/appointments/appt-3/complete", &done).signed(),
        Req::get("/v1/actions/scan-1").signed(),
        Req::get("/v1/campuses"),
        Req::get("/v1/campuses/campus-a/summary").bearer(CAMPUS_A_KEY),
        Req::get("/v1/campuses/campus-a/leaderboard").bearer(CAMPUS_A_KEY),
        Req::get("/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
        Req::new("PUT", "/v1/campuses/campus-a/members/alice").bearer(CAMPUS_A_KEY),
        Req::new("PUT", "/v1/members/alice/campus")
            .raw(br#"{"campus":"campus-a"}"#.to_vec())
            .signed(),
        Req::post("/v1/members/alice/erasure", &json!({"request": "erase-down"})).signed(),
        Req::get("/v1/audit/heads").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/chains/shard-00/entries").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/accounts").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/campus-totals").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/backlog").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/rules").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/chains/shard-00/checkpoints").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/chains/shard-00/checkpoint").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/chains/shard-00/inclusion?seq=0").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/chains/shard-00/consistency?first=1").bearer(AUDITOR_KEY),
        Req::get(format!("/v1/audit/members/{}/statement", "0".repeat(64))).bearer(AUDITOR_KEY),
        Req::post("/v1/disposition", &json!({"report_id": "out-9", "station": "st-0001", "at": NOW, "report": {"kind": "outgoing", "parcels": 1, "reused_boxes": 0}})).signed(),
        Req::get("/v1/audit/disposition").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/disposition/stations/st-0001").bearer(AUDITOR_KEY),
        Req::get("/v1/brands"),
        Req::get("/v1/brands/brand-01/statement").bearer(AUDITOR_KEY),
        Req::get("/v1/log"),
        Req::get("/v1/log/chains/shard-00/consistency?first=1"),
        Req::get("/v1/packaging"),
    ];
    for req in down {
        h.err(req, 503, "unavailable").await;
    }
    h.ok(Req::get("/health"), 200).await;
    h.store.down.store(false, Ordering::SeqCst);
    h.ok(Req::get("/v1/campuses"), 200).await;
}

/// The store holds data this version cannot read: a 500 `corrupt` naming the request id, not a
/// 503, because retrying does not help.
pub async fn store_corrupt(h: &Harness) {
    h.store.corrupt.store(true, Ordering::SeqCst);
    let reads: Vec<Req> = vec![
        Req::get("/v1/actions/scan-1").signed(),
        Req::get("/v1/campuses"),
        Req::get("/v1/campuses/campus-a/summary").bearer(CAMPUS_A_KEY),
        Req::get("/v1/audit/heads").bearer(AUDITOR_KEY),
        Req::get("/v1/audit/chains/shard-00/inclusion?seq=0").bearer(AUDITOR_KEY),
    ];
    for req in reads {
        let what = format!("{} {}", req.method, req.uri);
        let a = h.send(req, 500).await;
        assert_eq!(a.json["code"], "corrupt", "{what}: {}", a.text);
        let message = a.json["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&a.request_id),
            "{what}: the message names the request id {}: {message}",
            a.request_id
        );
    }
    h.ok(Req::get("/health"), 200).await;
    h.store.corrupt.store(false, Ordering::SeqCst);
    h.ok(Req::get("/v1/campuses"), 200).await;
}
