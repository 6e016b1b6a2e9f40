//! Known answers of the partition-heat model (`tests/support/heat.rs`, `docs/scaling.md`):
//! DynamoDB's size and capacity rules, index writes from the shadow, the classes of partitions
//! and the projection to a rate over a number of chains, on hand-built requests in DynamoDB's
//! JSON wire format.

#[path = "support/heat.rs"]
mod heat;

use heat::{Access, Heat, Kind, Params, Phase, Shadow, Touch};
use serde_json::{json, Value};

/// A table of the store's shape: `pk`/`sk`, one index of each projection.
fn shadow() -> Shadow {
    let mut s = Shadow::default();
    let create = json!({
        "TableName": "t",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ],
        "GlobalSecondaryIndexes": [
            {"IndexName": "all", "KeySchema": [
                {"AttributeName": "gpk", "KeyType": "HASH"},
                {"AttributeName": "gsk", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "keys", "KeySchema": [
                {"AttributeName": "kpk", "KeyType": "HASH"},
                {"AttributeName": "ksk", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
            {"IndexName": "json", "KeySchema": [
                {"AttributeName": "jpk", "KeyType": "HASH"},
                {"AttributeName": "jn", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["json"]}}
        ]
    });
    let sent = s.sent("CreateTable", &create);
    s.answered(sent, 200, None, 0.0);
    s
}

fn send(s: &mut Shadow, op: &str, body: Value) -> heat::Request {
    let sent = s.sent(op, &body);
    s.answered(sent, 200, Some(&json!({})), 0.01)
}

/// An entry of exactly `bytes` bytes by DynamoDB's rules: names plus string values.
fn entry(chain: &str, seq: usize, bytes: usize) -> Value {
    let pk = format!("CHAIN#{chain}");
    let sk = format!("SEQ#{seq:020}");
    let fixed = "pk".len() + pk.len() + "sk".len() + sk.len() + "json".len();
    json!({"pk": {"S": pk}, "sk": {"S": sk}, "json": {"S": "x".repeat(bytes - fixed)}})
}

fn transaction(chain: &str, first: usize, n: usize, bytes: usize) -> Value {
    let items: Vec<Value> = (first..first + n)
        .map(|i| json!({"Put": {"TableName": "t", "Item": entry(chain, i, bytes)}}))
        .collect();
    json!({ "TransactItems": items })
}

fn units_on(r: &heat::Request, index: Option<&str>, partition: &str) -> f64 {
    r.touches
        .iter()
        .filter(|t| t.index.as_deref() == index && t.partition == partition)
        .map(Touch::units)
        .sum()
}

#[test]
fn sizes_follow_dynamodbs_rules() {
    let e = entry("shard-00", 1, 900);
    assert_eq!(heat::item_size(e.as_object().unwrap()), 900);
    // 1 byte per two significant digits, plus 1; leading and trailing zeros are not stored.
    assert_eq!(heat::number_size("7"), 2);
    assert_eq!(heat::number_size("100"), 2);
    assert_eq!(heat::number_size("123456"), 4);
    assert_eq!(heat::number_size("-12"), 3);
    // A map: 3 bytes, and each element its name, its value and 1 byte.
    assert_eq!(
        heat::value_size(&json!({"M": {"ab": {"S": "xyz"}}})),
        3 + 1 + 2 + 3
    );
    assert_eq!(heat::value_size(&json!({"B": "AAEC"})), 3);
}

#[test]
fn units_round_per_item_and_double_in_transactions() {
    let t = |access, transactional, bytes| {
        Touch {
            index: None,
            partition: "p".into(),
            sort: None,
            access,
            transactional,
            bytes,
        }
        .units()
    };
    assert_eq!(t(Access::Write, false, 1024), 1.0);
    assert_eq!(t(Access::Write, false, 1025), 2.0);
    assert_eq!(t(Access::Write, true, 1025), 4.0);
    assert_eq!(
        t(Access::Write, false, 0),
        1.0,
        "a write costs at least a unit"
    );
    let consistent = Access::Read { consistent: true };
    let eventual = Access::Read { consistent: false };
    assert_eq!(t(consistent, false, 4096), 1.0);
    assert_eq!(t(consistent, false, 4097), 2.0);
    assert_eq!(t(eventual, false, 4097), 1.0);
    assert_eq!(t(consistent, true, 100), 2.0);
}

#[test]
fn a_transaction_of_24_entries_of_900_bytes_is_48_wcu_on_its_chain() {
    let mut s = shadow();
    let r = send(
        &mut s,
        "TransactWriteItems",
        transaction("shard-00", 0, 24, 900),
    );
    assert_eq!(
        r.touches.len(),
        24,
        "no index holds an entry without index keys"
    );
    assert_eq!(units_on(&r, None, "CHAIN#shard-00"), 48.0);
    // The same items one PutItem at a time: half the units.
    let mut s = shadow();
    let one = send(
        &mut s,
        "PutItem",
        json!({"TableName": "t", "Item": entry("shard-00", 0, 900)}),
    );
    assert_eq!(units_on(&one, None, "CHAIN#shard-00"), 1.0);
}

#[test]
fn an_update_is_counted_at_the_larger_of_before_and_after() {
    let mut s = shadow();
    send(
        &mut s,
        "PutItem",
        json!({"TableName": "t", "Item": {"pk": {"S": "A"}, "sk": {"S": "A"}, "big": {"S": "x".repeat(3000)}}}),
    );
    let r = send(
        &mut s,
        "UpdateItem",
        json!({"TableName": "t", "Key": {"pk": {"S": "A"}, "sk": {"S": "A"}},
               "UpdateExpression": "REMOVE big"}),
    );
    assert_eq!(units_on(&r, None, "A"), 3.0, "3,009 bytes before, 6 after");
}

#[test]
fn index_writes_follow_keys_and_projections() {
    let mut s = shadow();
    let key = json!({"pk": {"S": "ACTION#1"}, "sk": {"S": "ACTION"}});
    // Entering the sparse index: one write on its partition.
    let put = send(
        &mut s,
        "PutItem",
        json!({"TableName": "t", "Item": {
            "pk": {"S": "ACTION#1"}, "sk": {"S": "ACTION"}, "state": {"S": "pending"},
            "gpk": {"S": "PENDING#03"}, "gsk": {"S": "0001"}}}),
    );
    assert_eq!(units_on(&put, Some("all"), "PENDING#03"), 1.0);
    let update = |expr: &str, values: Value| {
        json!({"TableName": "t", "Key": key, "UpdateExpression": expr,
               "ExpressionAttributeNames": {"#s": "state"},
               "ExpressionAttributeValues": values})
    };
    // Its key moves: a delete on the old partition and a put on the new one.
    let moved = send(
        &mut s,
        "UpdateItem",
        update("SET gpk = :q", json!({":q": {"S": "QUARANTINE"}})),
    );
    assert_eq!(units_on(&moved, Some("all"), "PENDING#03"), 1.0);
    assert_eq!(units_on(&moved, Some("all"), "QUARANTINE"), 1.0);
    assert_eq!(moved.touches.len(), 3);
    // A non-key attribute changes: the ALL index rewrites its entry in place.
    let changed = send(
        &mut s,
        "UpdateItem",
        update("SET #s = :c", json!({":c": {"S": "credited"}})),
    );
    assert_eq!(units_on(&changed, Some("all"), "QUARANTINE"), 1.0);
    assert_eq!(changed.touches.len(), 2);
    // Unchanged: nothing for the index.
    let same = send(
        &mut s,
        "UpdateItem",
        update("SET #s = :c", json!({":c": {"S": "credited"}})),
    );
    assert_eq!(same.touches.len(), 1);
    // Leaving it: one delete.
    let left = send(&mut s, "UpdateItem", update("REMOVE gpk, gsk", json!({})));
    assert_eq!(units_on(&left, Some("all"), "QUARANTINE"), 1.0);
    assert_eq!(left.touches.len(), 2);
}

#[test]
fn keys_only_and_include_indexes_write_only_when_theirs_change() {
    let mut s = shadow();
    let item = json!({"pk": {"S": "CHAIN#a"}, "sk": {"S": "SEQ#1"},
        "kpk": {"S": "K"}, "ksk": {"S": "1"}, "jpk": {"S": "MEMBER#m"}, "jn": {"N": "1"},
        "json": {"S": "{}"}, "other": {"S": "x"}});
    let first = send(&mut s, "PutItem", json!({"TableName": "t", "Item": item}));
    assert_eq!(units_on(&first, Some("keys"), "K"), 1.0);
    assert_eq!(units_on(&first, Some("json"), "MEMBER#m"), 1.0);
    let key = json!({"pk": {"S": "CHAIN#a"}, "sk": {"S": "SEQ#1"}});
    let set = |attr: &str| {
        json!({"TableName": "t", "Key": key, "UpdateExpression": format!("SET {attr} = :v"),
               "ExpressionAttributeValues": {":v": {"S": "changed"}}})
    };
    let other = send(&mut s, "UpdateItem", set("other"));
    assert_eq!(other.touches.len(), 1, "neither index projects `other`");
    let json_changed = send(&mut s, "UpdateItem", set("json"));
    assert_eq!(units_on(&json_changed, Some("json"), "MEMBER#m"), 1.0);
    assert_eq!(units_on(&json_changed, Some("keys"), "K"), 0.0);
}

#[test]
fn update_expressions_are_applied_as_dynamodb_would() {
    let before = json!({"pk": {"S": "CAMPUS#c"}, "n": {"N": "5"}, "gone": {"S": "x"},
                        "kept": {"S": "old"}});
    let (after, approximate) = heat::apply_update(
        before.as_object().unwrap(),
        "SET #k = if_not_exists(#k, :new), fresh = if_not_exists(fresh, :new), m = n + :two \
         ADD n :two, total :two REMOVE gone",
        json!({"#k": "kept"}).as_object(),
        json!({":new": {"S": "new"}, ":two": {"N": "2"}}).as_object(),
    );
    assert_eq!(approximate, 0);
    assert_eq!(after["kept"], json!({"S": "old"}));
    assert_eq!(after["fresh"], json!({"S": "new"}));
    assert_eq!(
        after["m"],
        json!({"N": "7"}),
        "operands read the item before the update"
    );
    assert_eq!(after["n"], json!({"N": "7"}));
    assert_eq!(after["total"], json!({"N": "2"}));
    assert!(!after.contains_key("gone"));
}

#[test]
fn a_query_sums_its_items_before_rounding_and_names_its_partition() {
    let mut s = shadow();
    let body = json!({"TableName": "t", "IndexName": "all",
        "KeyConditionExpression": "#p = :p AND gsk > :after",
        "ExpressionAttributeNames": {"#p": "gpk"},
        "ExpressionAttributeValues": {":p": {"S": "PENDING#07"}, ":after": {"S": "0"}}});
    let sent = s.sent("Query", &body);
    let item = |i: usize| {
        let mut it = json!({"pk": {"S": format!("ACTION#{i}")}, "sk": {"S": "ACTION"},
                            "gpk": {"S": "PENDING#07"}, "gsk": {"S": format!("{i}")}});
        let size = heat::item_size(it.as_object().unwrap()) as usize;
        it["pad"] = json!({"S": "x".repeat(1500 - size - 3)});
        it
    };
    let answer = json!({"Items": [item(1), item(2), item(3)], "Count": 3});
    let r = s.answered(sent, 200, Some(&answer), 0.01);
    assert_eq!(r.touches.len(), 1);
    let t = &r.touches[0];
    assert_eq!(
        (t.index.as_deref(), t.partition.as_str()),
        (Some("all"), "PENDING#07")
    );
    assert_eq!(t.bytes, 4500);
    // ceil(4,500 / 4,096) = 2 units, halved for an eventually consistent read: 1, where
    // rounding each 1,500-byte item would make 1.5.
    assert_eq!(t.units(), 1.0);
}

#[test]
fn a_refused_write_costs_units_but_changes_nothing() {
    let mut s = shadow();
    let body = json!({"TableName": "t", "Item": {"pk": {"S": "A"}, "sk": {"S": "A"},
        "gpk": {"S": "G"}, "gsk": {"S": "1"}}});
    let refused =
        json!({"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"});
    let sent = s.sent("PutItem", &body);
    let r = s.answered(sent, 400, Some(&refused), 0.01);
    assert_eq!(units_on(&r, None, "A"), 1.0);
    assert_eq!(units_on(&r, Some("all"), "G"), 0.0);
    // Throttled or failed inside DynamoDB: not charged (the SDK's retry is).
    let throttled = json!({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"});
    let sent = s.sent("PutItem", &body);
    assert!(s
        .answered(sent, 400, Some(&throttled), 0.01)
        .touches
        .is_empty());
    let sent = s.sent("PutItem", &body);
    assert!(s.answered(sent, 500, None, 0.01).touches.is_empty());
    // So the next put of it enters the index.
    let again = send(&mut s, "PutItem", body);
    assert_eq!(units_on(&again, Some("all"), "G"), 1.0);
}

#[test]
fn partitions_are_classed_by_chain_campus_and_spread() {
    let chains = ["shard-1".to_owned(), "shard-10".to_owned()];
    let campuses = ["campus-2".to_owned()];
    let (class, chain, _) = heat::classify("CHAIN#shard-10", &chains, &campuses);
    assert_eq!(
        (class.as_str(), chain.as_deref()),
        ("CHAIN#<chain>", Some("shard-10"))
    );
    let (class, chain, _) = heat::classify("PENDING#shard-1", &chains, &campuses);
    assert_eq!(
        (class.as_str(), chain.as_deref()),
        ("PENDING#<chain>", Some("shard-1"))
    );
    let (class, _, campus) = heat::classify("BOARD#campus-2", &chains, &campuses);
    assert_eq!(
        (class.as_str(), campus.as_deref()),
        ("BOARD#<campus>", Some("campus-2"))
    );
    assert_eq!(heat::classify("HEADS", &chains, &campuses).0, "HEADS");
    assert_eq!(
        heat::classify("MEMBER#ab12", &chains, &campuses).0,
        "MEMBER#<id>"
    );
    assert_eq!(heat::classify("campus-20", &chains, &campuses).2, None);
    // An id without a prefix (a member's pseudonym as an index key) is an id all the same.
    assert_eq!(heat::classify("95aa0a906ed0", &chains, &campuses).0, "<id>");
}

/// A phase of 24-entry transactions of 900-byte entries: `per_chain[i]` of them on chain `i`,
/// one put of a singleton `RANKING`, and one 300-byte write per action on its own member.
fn phase(per_chain: &[usize]) -> Phase {
    let mut s = shadow();
    let mut requests = Vec::new();
    let chains: Vec<String> = (0..per_chain.len())
        .map(|i| format!("shard-{i:02}"))
        .collect();
    let mut actions = 0;
    for (chain, &n) in chains.iter().zip(per_chain) {
        for b in 0..n {
            requests.push(send(
                &mut s,
                "TransactWriteItems",
                transaction(chain, b * 24, 24, 900),
            ));
            actions += 24;
        }
    }
    for m in 0..actions {
        requests.push(send(
            &mut s,
            "PutItem",
            json!({"TableName": "t", "Item": {"pk": {"S": format!("MEMBER#{m:04}")},
                   "sk": {"S": "ACCOUNT"}, "x": {"S": "y".repeat(250)}}}),
        ));
    }
    requests.push(send(
        &mut s,
        "PutItem",
        json!({"TableName": "t", "Item": {"pk": {"S": "RANKING"}, "sk": {"S": "RANKING"}}}),
    ));
    Phase {
        actions: actions as u64,
        chains,
        campuses: vec![],
        campus_actions: 0,
        secs: 1.0,
        tasks: 1,
        batch: 24,
        requests,
    }
}

#[test]
fn per_chain_load_divides_over_the_chains_times_the_imbalance() {
    let p = Params::default();
    // Even: 2 WCU per action on the chains (48 per 24 actions), so 1,000 actions/s over 4
    // chains is 500 WCU/s on each.
    let even = Heat::of(&phase(&[1, 1]));
    let chain = even
        .classes
        .iter()
        .find(|c| c.class == "CHAIN#<chain>")
        .unwrap();
    assert_eq!(chain.kind, Some(Kind::PerChain));
    let (w, _) = even.class_load(chain, &p, 1_000.0, 4);
    assert!((w - 500.0).abs() < 1e-9, "{w}");
    // Uneven, 2:1: the busiest chain carries 4/3 of the mean.
    let uneven = Heat::of(&phase(&[2, 1]));
    let chain = uneven
        .classes
        .iter()
        .find(|c| c.class == "CHAIN#<chain>")
        .unwrap();
    let (w, _) = uneven.class_load(chain, &p, 1_000.0, 4);
    assert!((w - 1_000.0 * 2.0 * (4.0 / 3.0) / 4.0).abs() < 1e-9, "{w}");
}

#[test]
fn the_chains_formula_keeps_every_chain_partition_under_half_its_limit() {
    let p = Params::default();
    let h = Heat::of(&phase(&[1, 1]));
    // N = ceil(R × w / (0.5 × 1,000)) with w = 2 WCU per action.
    assert_eq!(h.chains_needed(&p, 50_000.0), 200);
    assert_eq!(h.chains_needed(&p, 1_000.0), 4);
    let chain = h
        .classes
        .iter()
        .find(|c| c.class == "CHAIN#<chain>")
        .unwrap();
    let (w, _) = h.class_load(chain, &p, 50_000.0, 200);
    assert!((w - 0.5 * heat::PARTITION_WCU).abs() < 1e-9, "{w}");
    // A fixed partition is no chain's: more chains do not cool it.
    let at = h.project(&p, 50_000.0, 200);
    let table = at.hot.iter().find(|x| x.index.is_none()).unwrap();
    assert_eq!(table.write_class, "RANKING");
}

#[test]
fn fixed_keys_grow_with_the_rate_and_spread_keys_are_bounded_by_their_entity() {
    let p = Params::default();
    let h = Heat::of(&phase(&[1, 1]));
    // One 1-WCU put of the ranking in 48 actions.
    let ranking = h.classes.iter().find(|c| c.class == "RANKING").unwrap();
    assert_eq!(ranking.kind, Some(Kind::Fixed));
    let (w, _) = h.class_load(ranking, &p, 48_000.0, 2);
    assert!((w - 1_000.0).abs() < 1e-9, "{w}");
    // 48 members, one write each: spread, one member at `entity_rate` actions/s.
    let members = h.classes.iter().find(|c| c.class == "MEMBER#<id>").unwrap();
    assert_eq!(members.kind, Some(Kind::Spread));
    let (w, _) = h.class_load(members, &p, 48_000.0, 2);
    assert!((w - p.entity_rate).abs() < 1e-9, "{w}");
}

#[test]
fn campus_partitions_carry_the_busiest_campus_share() {
    let mut s = shadow();
    let mut requests = Vec::new();
    // 40 actions, 20 of them a campus's, each adding to its campus row once.
    for i in 0..20 {
        requests.push(send(
            &mut s,
            "UpdateItem",
            json!({"TableName": "t", "Key": {"pk": {"S": format!("CAMPUS#c{}", i % 4)},
                   "sk": {"S": "DAY#1"}}, "UpdateExpression": "ADD n :one",
                   "ExpressionAttributeValues": {":one": {"N": "1"}}}),
        ));
    }
    let h = Heat::of(&Phase {
        actions: 40,
        chains: vec!["shard-00".into()],
        campuses: (0..4).map(|c| format!("c{c}")).collect(),
        campus_actions: 20,
        secs: 1.0,
        tasks: 1,
        batch: 1,
        requests,
    });
    let p = Params::default();
    let campus = h
        .classes
        .iter()
        .find(|c| c.class == "CAMPUS#<campus>")
        .unwrap();
    assert_eq!(campus.kind, Some(Kind::Campus));
    // 1 WCU per campus action; the busiest campus has 5% of 10,000 actions/s.
    let (w, _) = h.class_load(campus, &p, 10_000.0, 8);
    assert!((w - 10_000.0 * p.busiest_campus_share).abs() < 1e-9, "{w}");
}

/// A campus's day rows, one per chain (the chain in the sort key), are split along those rows:
/// each chain's rows are a unit of their own, and the load divides over the chains.
#[test]
fn a_partitions_rows_of_one_chain_each_count_per_chain() {
    let mut s = shadow();
    let mut requests = Vec::new();
    for i in 0..40 {
        let chain = format!("shard-{:02}", i % 2);
        requests.push(send(
            &mut s,
            "UpdateItem",
            json!({"TableName": "t", "Key": {"pk": {"S": "CAMPUS#c0"},
                   "sk": {"S": format!("DAY#1#{chain}")}}, "UpdateExpression": "ADD n :one",
                   "ExpressionAttributeValues": {":one": {"N": "1"}}}),
        ));
    }
    let h = Heat::of(&Phase {
        actions: 40,
        chains: vec!["shard-00".into(), "shard-01".into()],
        campuses: vec!["c0".into()],
        campus_actions: 40,
        secs: 1.0,
        tasks: 1,
        batch: 1,
        requests,
    });
    let rows = (h.classes.iter())
        .find(|c| c.class == "CAMPUS#<campus>#<chain>")
        .expect("the campus's rows are classed per chain");
    assert_eq!(rows.kind, Some(Kind::CampusPerChain));
    assert_eq!(rows.keys(), 2, "one unit per chain's rows");
    let p = Params::default();
    // The busiest campus's load, divided over twice as many chains, halves.
    let (at_8, _) = h.class_load(rows, &p, 10_000.0, 8);
    let (at_16, _) = h.class_load(rows, &p, 10_000.0, 16);
    assert!((at_8 - 2.0 * at_16).abs() < 1e-9, "{at_8} {at_16}");
}
