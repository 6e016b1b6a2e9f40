//! One ledger entry (format v2): its fields, its canonical bytes and its hash.
//!
//! `hash` = lowercase hex of SHA-256(0x00 ‖ C), where C is the RFC 8785 (JCS) serialization of
//! the entry without its `hash` field. The serializer below writes the fields in JCS order
//! (keys sorted by UTF-16 code units; all keys are ASCII, so byte order), and every value is a
//! string, an integer within ±(2^53 - 1), null or a nested object of the same, for which
//! serde_json's compact output is exactly JCS. A property test checks this against an
//! independent JCS implementation (`serde_jcs`).

use super::{leaf_hash, Digest};
use crate::domain::{ActionKind, DayItems, Items, MemberId};
use crate::rulebook::Reason;
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

pub const FORMAT_VERSION: u32 = 2;

/// A ledger entry. See `docs/ledger-format.md` for the meaning of every field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub action: String,
    pub at: i64,
    pub bonus: i64,
    #[serde(deserialize_with = "crate::domain::required")]
    pub campus: Option<String>,
    pub chain: String,
    pub co2e_g: i64,
    pub day: String,
    pub day_before: i64,
    /// The items the member had accepted on `day` before this entry, in member-chain order:
    /// the input of the plausibility limits, as `day_before` is of the daily cap.
    pub day_items_before: DayItems,
    pub factors: String,
    pub hash: Digest,
    /// The key id of the integration that sent the action; with `action`, the action's key.
    pub integration: String,
    pub items: Items,
    pub kind: ActionKind,
    pub member: MemberId,
    pub member_prev: Digest,
    pub points: i64,
    pub prev: Digest,
    pub reason: Reason,
    pub rulebook: String,
    pub seq: u64,
    pub station: String,
    pub v: u32,
}

/// Serializes an entry in canonical field order, with or without `hash`.
struct Canonical<'a> {
    entry: &'a Entry,
    with_hash: bool,
}

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.entry;
        let mut st = s.serialize_struct("Entry", 23)?;
        st.serialize_field("action", &e.action)?;
        st.serialize_field("at", &e.at)?;
        st.serialize_field("bonus", &e.bonus)?;
        st.serialize_field("campus", &e.campus)?;
        st.serialize_field("chain", &e.chain)?;
        st.serialize_field("co2e_g", &e.co2e_g)?;
        st.serialize_field("day", &e.day)?;
        st.serialize_field("day_before", &e.day_before)?;
        st.serialize_field("day_items_before", &e.day_items_before)?;
        st.serialize_field("factors", &e.factors)?;
        if self.with_hash {
            st.serialize_field("hash", &e.hash)?;
        }
        st.serialize_field("integration", &e.integration)?;
        st.serialize_field("items", &e.items)?;
        st.serialize_field("kind", &e.kind)?;
        st.serialize_field("member", &e.member)?;
        st.serialize_field("member_prev", &e.member_prev)?;
        st.serialize_field("points", &e.points)?;
        st.serialize_field("prev", &e.prev)?;
        st.serialize_field("reason", &e.reason)?;
        st.serialize_field("rulebook", &e.rulebook)?;
        st.serialize_field("seq", &e.seq)?;
        st.serialize_field("station", &e.station)?;
        st.serialize_field("v", &e.v)?;
        st.end()
    }
}

impl Serialize for Entry {
    /// The stored and exported form: canonical, with `hash`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Canonical {
            entry: self,
            with_hash: true,
        }
        .serialize(s)
    }
}

impl Entry {
    /// The key of the action this entry credits, as the store names it.
    pub fn action_key(&self) -> String {
        crate::domain::action_key(&self.integration, &self.action)
    }

    /// Writes C, the canonical bytes of the entry without `hash`, into `buf` (cleared first).
    pub fn write_body(&self, buf: &mut Vec<u8>) {
        buf.clear();
        let body = Canonical {
            entry: self,
            with_hash: false,
        };
        serde_json::to_writer(&mut *buf, &body).expect("writing to a Vec cannot fail");
    }

    /// The hash this entry should carry, reusing `buf` for the canonical bytes.
    pub fn compute_hash(&self, buf: &mut Vec<u8>) -> Digest {
        self.write_body(buf);
        leaf_hash(buf)
    }

    /// Sets `hash` from the rest of the entry.
    pub fn seal(&mut self) {
        self.hash = self.compute_hash(&mut Vec::with_capacity(768));
    }

    /// The stored form: one line of canonical JSON including `hash`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an entry always serializes")
    }

    /// Every integer must survive RFC 8785's IEEE-double numbers exactly.
    pub fn integers_are_safe(&self) -> bool {
        let safe = |n: i64| n.unsigned_abs() <= crate::domain::MAX_SAFE_INT;
        [
            self.at,
            self.bonus,
            self.co2e_g,
            self.day_before,
            self.points,
        ]
        .into_iter()
        .all(safe)
            && self.seq <= crate::domain::MAX_SAFE_INT
            && self.items.clothing_g <= crate::domain::MAX_SAFE_INT
            && (self.day_items_before.sorts())
                .iter()
                .all(|&n| n <= crate::domain::MAX_SAFE_INT)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::BoxLot;
    use crate::ledger::ZERO;
    use proptest::prelude::*;

    pub fn sample() -> Entry {
        Entry {
            action: "scan:0001".into(),
            at: 1_793_462_400,
            bonus: 20,
            campus: Some("sjtu".into()),
            chain: "shard-00".into(),
            co2e_g: 74,
            day: "2026-11-01".into(),
            day_before: 0,
            day_items_before: DayItems::default(),
            factors: "factors-2026.1".into(),
            hash: ZERO,
            integration: "qr-1".into(),
            items: Items {
                boxes: vec![BoxLot {
                    brand: Some("brand-01".into()),
                    count: 1,
                }],
                ..Items::default()
            },
            kind: ActionKind::Scan,
            member: MemberId::parse(&"ab".repeat(32)).unwrap(),
            member_prev: ZERO,
            points: 20,
            prev: ZERO,
            reason: Reason::Ok,
            rulebook: "double11-2026.2".into(),
            seq: 0,
            station: "st-0001".into(),
            v: 1,
        }
    }

    /// The reference path an independent auditor would take: parse to a generic JSON value,
    /// drop `hash`, canonicalize with an RFC 8785 library, hash.
    fn reference_hash(stored: &[u8]) -> Digest {
        let mut v: serde_json::Value = serde_json::from_slice(stored).unwrap();
        v.as_object_mut().unwrap().remove("hash");
        leaf_hash(&serde_jcs::to_vec(&v).unwrap())
    }

    #[test]
    fn stored_form_parses_back_and_rehashes() {
        let mut e = sample();
        e.seal();
        let json = e.to_json();
        let back: Entry = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.compute_hash(&mut Vec::new()), e.hash);
        assert_eq!(reference_hash(&json), e.hash);
    }

    #[test]
    fn missing_or_unknown_fields_are_malformed() {
        let mut e = sample();
        e.seal();
        let mut v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        v.as_object_mut().unwrap().remove("campus");
        assert!(serde_json::from_value::<Entry>(v.clone()).is_err());
        v["campus"] = serde_json::Value::Null;
        assert!(serde_json::from_value::<Entry>(v.clone()).is_ok());
        v["extra"] = 1.into();
        assert!(serde_json::from_value::<Entry>(v.clone()).is_err());
        v.as_object_mut().unwrap().remove("extra");
        let mut no_totals = v.clone();
        no_totals["day_items_before"]
            .as_object_mut()
            .unwrap()
            .remove("shoes");
        assert!(serde_json::from_value::<Entry>(no_totals).is_err());
        let mut negative = v.clone();
        negative["day_items_before"]["boxes"] = (-1).into();
        assert!(serde_json::from_value::<Entry>(negative).is_err());
        v["bonus"] = serde_json::json!(1.5);
        assert!(serde_json::from_value::<Entry>(v).is_err());
    }

    fn text() -> impl Strategy<Value = String> {
        // Any Unicode, including quotes, backslashes, controls and non-BMP characters: the
        // canonical encoder must agree with JCS on all of them, not only on ids.
        proptest::string::string_regex("(.|[\"\\\\\u{0}-\u{1f}\u{7f}\u{2028}\u{1F600}]){0,12}")
            .unwrap()
    }

    proptest! {
        #[test]
        fn canonical_bytes_equal_rfc8785(
            action in text(), campus in proptest::option::of(text()), station in text(),
            at in 0i64..(1 << 53), bonus in -(1i64 << 53)..(1 << 53), seq in 0u64..(1 << 53),
            brand in proptest::option::of(text()), count in any::<u32>(), clothing in 0u64..(1 << 53),
            before in proptest::array::uniform4(0u64..(1 << 53)),
        ) {
            let mut e = sample();
            e.action = action;
            e.campus = campus;
            e.station = station;
            e.at = at;
            e.bonus = bonus;
            e.seq = seq;
            e.items.boxes[0] = BoxLot { brand, count };
            e.items.clothing_g = clothing;
            let [books, boxes, clothing_g, shoes] = before;
            e.day_items_before = DayItems { books, boxes, clothing_g, shoes };
            e.seal();
            let mut body = Vec::new();
            e.write_body(&mut body);
            let mut v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
            v.as_object_mut().unwrap().remove("hash");
            prop_assert_eq!(String::from_utf8(body).unwrap(), String::from_utf8(serde_jcs::to_vec(&v).unwrap()).unwrap());
            prop_assert_eq!(reference_hash(&e.to_json()), e.hash);
        }
    }
}
