//! The fast path against the general one: it reads back exactly what the canonical serializer
//! writes, and refuses everything else.

use super::*;
use crate::ledger::entry::tests::sample;
use proptest::prelude::*;

#[test]
fn scans_what_it_writes_and_hashes_the_same() {
    let mut e = sample();
    e.seal();
    let json = e.to_json();
    let s = scan(&json).expect("canonical bytes scan");
    assert_eq!(s.entry, e);
    assert_eq!(s.leaf_hash(&json), e.hash);
}

#[test]
fn refuses_what_is_not_canonical() {
    let mut e = sample();
    e.seal();
    let json = String::from_utf8(e.to_json()).unwrap();
    for bad in [
        json.replace("\"at\":", "\"at\": "),
        json.replace("\"seq\":0", "\"seq\":-0"),
        json.replace("\"seq\":0", "\"seq\":00"),
        json.replace("\"bonus\":20", "\"bonus\":2e1"),
        json.replace(
            "\"day_items_before\":{\"books\":0",
            "\"day_items_before\":{\"books\":-1",
        ),
        json.replace(
            "\"day_items_before\":{\"books\":0",
            "\"day_items_before\":{\"books\":9007199254740992",
        ),
        json.replace(
            "\"clothing_g\":0,\"shoes\":0},\"factors\"",
            "\"clothing_g\":0},\"factors\"",
        ),
        json.replace("\"reason\":\"ok\"", "\"reason\":\"Implausible\""),
        json.replace("st-0001", "st-\\u0030001"),
        json.replace("{\"action\"", "{\"at\":1,\"action\""),
        // A multi-byte character where a digest's hex would be must be refused, not sliced.
        json.replacen("\"prev\":\"0", "\"prev\":\"\u{e9}", 1),
        format!("{json} "),
    ] {
        assert!(scan(bad.as_bytes()).is_none(), "accepted {bad}");
    }
}

proptest! {
    /// The in-place view reads the same entry, and judges its items as `validate_for` does.
    #[test]
    fn in_place_view_agrees_with_the_owned_entry(
        books in prop_oneof![Just(0u32), 0u32..1_100],
        shoes in prop_oneof![Just(0u32), 0u32..110],
        clothing_g in prop_oneof![Just(0u64), 0u64..600_000],
        lots in proptest::collection::vec(
            (
                proptest::option::of(prop_oneof![Just("brand-01".to_owned()), Just("no good".to_owned()), Just(String::new()), "[a-z]{1,3}"]),
                prop_oneof![Just(0u32), 1u32..700],
            ),
            0..36,
        ),
        kind in prop_oneof![Just(ActionKind::Scan), Just(ActionKind::Pledge), Just(ActionKind::Pickup)],
        before in proptest::array::uniform4(prop_oneof![Just(0u64), 0u64..(1 << 53)]),
        reason in prop_oneof![Just(Reason::Ok), Just(Reason::Capped), Just(Reason::OutsideWindow), Just(Reason::Implausible)],
    ) {
        let mut e = sample();
        e.kind = kind;
        let [books_before, boxes_before, clothing_g_before, shoes_before] = before;
        e.day_items_before = DayItems {
            books: books_before,
            boxes: boxes_before,
            clothing_g: clothing_g_before,
            shoes: shoes_before,
        };
        e.reason = reason;
        e.items = Items {
            books,
            boxes: lots.into_iter().map(|(brand, count)| BoxLot { brand, count }).collect(),
            clothing_g,
            shoes,
        };
        e.seal();
        let json = e.to_json();
        let s = scan_ref(&json).expect("canonical bytes scan");
        prop_assert_eq!(s.entry.items.valid_for(kind), e.items.validate_for(kind).is_ok());
        prop_assert_eq!(s.entry.items.box_count, e.items.box_count());
        prop_assert_eq!(s.entry.items.day_items(), DayItems::of(&e.items));
        prop_assert_eq!(s.entry.to_entry(), e.clone());
        prop_assert_eq!(s.leaf_hash(&json), e.hash);
    }

    /// Whatever bytes the fast path accepts are exactly the canonical form of what it read,
    /// so it can never disagree with the general path.
    #[test]
    fn accepts_only_canonical_bytes(pos in 0usize..2_000, byte in any::<u8>(), mode in 0u8..3, bonus in any::<i64>()) {
        let mut e = sample();
        e.bonus = bonus % (1 << 53);
        e.items.boxes.push(BoxLot { brand: None, count: 7 });
        e.day_items_before = DayItems { books: 3, boxes: 41, clothing_g: 2_500, shoes: 0 };
        e.reason = Reason::Implausible;
        e.seal();
        let mut bytes = e.to_json();
        let p = pos % bytes.len();
        match mode {
            0 => bytes[p] = byte,
            1 => bytes.insert(p, byte),
            _ => { bytes.remove(p); }
        }
        if let Some(s) = scan(&bytes) {
            prop_assert_eq!(s.entry.to_json(), bytes.clone());
            let general: Entry = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(&general, &s.entry);
            prop_assert_eq!(s.leaf_hash(&bytes), general.compute_hash(&mut Vec::new()));
        }
    }
}
