//! The campaign's nouns: members (as pseudonyms), stations, campuses, brands, and the three
//! kinds of action that earn recycling bonuses.
//!
//! Everything here is plain data with validation; no I/O.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

/// Largest integer an entry may carry: RFC 8785 numbers are IEEE doubles, so anything above
/// 2^53 - 1 would not survive canonicalization exactly.
pub const MAX_SAFE_INT: u64 = (1 << 53) - 1;

/// Why input was refused. Carries a stable machine `code` and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            code,
            message: message.into(),
        }
    }
}

/// Checks an identifier from outside: 1 to 64 of `A-Z a-z 0-9 . _ : -`.
///
/// Keeping ids to this alphabet means they never need escaping in JSON, log lines or keys.
pub fn check_id(what: &'static str, id: &str) -> Result<(), Invalid> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "invalid_id",
            format!("{what} id must be 1-64 characters of A-Z a-z 0-9 . _ : -"),
        ))
    }
}

/// Whether `s` is exactly `len` lowercase hex digits (a pseudonym, an API key's id or secret).
pub fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The secret key under which platform user ids become [`Subject`]s: the keys of the mapping
/// from a person to their random member pseudonym (`docs/privacy.md`). It never appears in
/// `Debug` output.
#[derive(Clone)]
pub struct Pepper(Vec<u8>);

impl Pepper {
    /// A pepper must carry at least 16 bytes of key material.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, Invalid> {
        let key = key.into();
        if key.len() < 16 {
            return Err(Invalid::new(
                "weak_pepper",
                "the member pepper must be at least 16 bytes",
            ));
        }
        Ok(Pepper(key))
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

/// A platform user as the store looks them up: lowercase hex of HMAC-SHA256(pepper,
/// `greenloop-subject/v1` ‖ 0x00 ‖ user id). It keys the one item that maps the person to their
/// member pseudonym, and nothing else: erasing that item leaves no way from the user id to the
/// member. The domain tag keeps it apart from pseudonyms derived by [`MemberId::pseudonym`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Subject(String);

impl Subject {
    const DOMAIN: &'static [u8] = b"greenloop-subject/v1\0";

    pub fn of(pepper: &Pepper, platform_user_id: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(&pepper.0).expect("HMAC takes any key size");
        mac.update(Self::DOMAIN);
        mac.update(platform_user_id.as_bytes());
        Subject(hex::encode(mac.finalize().into_bytes()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Redacted, like the pepper: a subject next to a member in a log line would be the very link
/// erasure removes.
impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subject(<redacted>)")
    }
}

/// A member as the ledger knows them: 64 lowercase hex digits. Greenloop draws 32 random bytes
/// at a person's first action ([`MemberId::random`]), so the pseudonym carries nothing of the
/// person; only the erasable mapping from their [`Subject`] leads to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemberId(String);

impl MemberId {
    /// A fresh pseudonym from 32 random bytes (the caller draws them: the core does no I/O).
    pub fn random(bytes: [u8; 32]) -> Self {
        MemberId(hex::encode(bytes))
    }

    /// A pseudonym derived from a platform user id: how the ledger format's test vectors name
    /// their members (`docs/ledger-format.md` §8), and how fixtures do. Production draws
    /// [`MemberId::random`] instead, so that erasing the mapping erases the link.
    pub fn pseudonym(pepper: &Pepper, platform_user_id: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(&pepper.0).expect("HMAC takes any key size");
        mac.update(platform_user_id.as_bytes());
        MemberId(hex::encode(mac.finalize().into_bytes()))
    }

    /// Accepts an already-derived pseudonym (64 lowercase hex).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if is_lower_hex(s, 64) {
            Ok(MemberId(s.to_owned()))
        } else {
            Err(Invalid::new(
                "invalid_member",
                "a member pseudonym is 64 lowercase hex characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MemberId {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        MemberId::parse(&s)
    }
}

impl From<MemberId> for String {
    fn from(m: MemberId) -> String {
        m.0
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A university taking part in the Campus Carbon Asset Management System.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campus {
    pub id: String,
    pub name: String,
    pub city: String,
}

/// A partner brand of the "Domestic Brands Green Decrement Team" (its bonus multiplier lives in
/// the rulebook, because it is versioned with the rates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    pub id: String,
    pub name: String,
}

/// A post station. Its id also picks the ledger chain its actions are credited to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Station {
    pub id: String,
    pub city: String,
    pub campus: Option<String>,
    /// The key ids of the integrations that may record actions here. A station stored without
    /// the list accepts no one: a registry must say who owns a station.
    #[serde(default)]
    pub integrations: Vec<String>,
}

impl Station {
    pub fn validate(&self) -> Result<(), Invalid> {
        check_id("station", &self.id)?;
        if let Some(c) = &self.campus {
            check_id("campus", c)?;
        }
        if self.integrations.is_empty() {
            return Err(Invalid::new(
                "no_integration",
                "a station names the key ids of the integrations that may record there",
            ));
        }
        for i in &self.integrations {
            check_id("integration", i)?;
        }
        Ok(())
    }

    /// Whether integration `key_id` may record here.
    pub fn accepts(&self, key_id: &str) -> bool {
        self.integrations.iter().any(|i| i == key_id)
    }
}

/// The three ways to earn a recycling bonus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// On-site QR-scan drop-off at a station.
    Scan,
    /// In-app commitment to return boxes.
    Pledge,
    /// Old-clothes pickup: booked, then completed by a courier with a weighed amount.
    Pickup,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Scan => "scan",
            ActionKind::Pledge => "pledge",
            ActionKind::Pickup => "pickup",
        }
    }
}

/// Reads an `Option` whose key must be present (serde would otherwise default a missing key to
/// `None`).
pub fn required<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// Express boxes of one brand (or of no declared brand) in one action.
///
/// [`Action`], [`Items`] and `BoxLot` are read back from the store, where a newer version may
/// have written a field this one does not know: reading ignores unknown fields. The webhooks
/// refuse them, with strict types of their own; ledger entries, which are hashed, refuse them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxLot {
    /// Always present, `null` for no brand: a missing key would hash differently (RFC 8785
    /// hashes the object as stored), so it is refused rather than defaulted.
    #[serde(deserialize_with = "required")]
    pub brand: Option<String>,
    pub count: u32,
}

/// What an action brought in. Field order is alphabetical because it is also the RFC 8785 order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Items {
    pub books: u32,
    pub boxes: Vec<BoxLot>,
    pub clothing_g: u64,
    pub shoes: u32,
}

/// Bounds on one action, so a single typo cannot mint a fortune or overflow arithmetic.
pub const MAX_BOXES: u64 = 1_000;
pub const MAX_CLOTHING_G: u64 = 500_000;
pub const MAX_SHOES: u32 = 100;
pub const MAX_BOOKS: u32 = 1_000;
pub const MAX_LOTS: usize = 32;

impl Items {
    pub fn box_count(&self) -> u64 {
        self.boxes.iter().map(|l| u64::from(l.count)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.books == 0 && self.box_count() == 0 && self.clothing_g == 0 && self.shoes == 0
    }

    /// Checks the items make sense for the kind of action that carries them.
    pub fn validate_for(&self, kind: ActionKind) -> Result<(), Invalid> {
        if self.boxes.len() > MAX_LOTS {
            return Err(Invalid::new(
                "too_many_lots",
                "at most 32 box lots per action",
            ));
        }
        for lot in &self.boxes {
            if lot.count == 0 {
                return Err(Invalid::new("empty_lot", "a box lot needs a count above 0"));
            }
            if let Some(b) = &lot.brand {
                check_id("brand", b)?;
            }
        }
        if self.box_count() > MAX_BOXES
            || self.clothing_g > MAX_CLOTHING_G
            || self.shoes > MAX_SHOES
            || self.books > MAX_BOOKS
        {
            return Err(Invalid::new(
                "too_much",
                "one action carries at most 1000 boxes, 500 kg of clothing, 100 pairs of shoes and 1000 books",
            ));
        }
        let only_boxes = self.books == 0 && self.clothing_g == 0 && self.shoes == 0;
        let only_clothing = self.books == 0 && self.boxes.is_empty() && self.shoes == 0;
        match kind {
            ActionKind::Scan if self.is_empty() => Err(Invalid::new(
                "no_items",
                "a drop-off must carry at least one item",
            )),
            ActionKind::Pledge if !only_boxes || self.box_count() == 0 => Err(Invalid::new(
                "bad_pledge",
                "a pledge carries only boxes, at least one",
            )),
            ActionKind::Pledge if self.boxes.iter().any(|l| l.brand.is_some()) => {
                Err(Invalid::new("bad_pledge", "a pledge does not name a brand"))
            }
            ActionKind::Pickup if !only_clothing || self.clothing_g == 0 => Err(Invalid::new(
                "bad_pickup",
                "a completed pickup carries only weighed clothing, more than 0 g",
            )),
            _ => Ok(()),
        }
    }
}

/// Amounts of each sort of item, summed over some actions: what a member had accepted on one
/// campaign day (`day_items_before` on an entry, `day_items` on an account), and what the
/// rulebook's plausibility limits bound. Boxes are counted over all lots. Field order is
/// alphabetical, the RFC 8785 order. Like [`Items`], reading ignores unknown fields: an entry
/// carrying one fails its hash instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayItems {
    pub books: u64,
    pub boxes: u64,
    pub clothing_g: u64,
    pub shoes: u64,
}

impl DayItems {
    /// What one action's items add.
    pub fn of(items: &Items) -> DayItems {
        DayItems {
            books: u64::from(items.books),
            boxes: items.box_count(),
            clothing_g: items.clothing_g,
            shoes: u64::from(items.shoes),
        }
    }

    /// Sort by sort; saturating, so no input can overflow it.
    pub fn plus(self, o: DayItems) -> DayItems {
        DayItems {
            books: self.books.saturating_add(o.books),
            boxes: self.boxes.saturating_add(o.boxes),
            clothing_g: self.clothing_g.saturating_add(o.clothing_g),
            shoes: self.shoes.saturating_add(o.shoes),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == DayItems::default()
    }

    /// The amounts as (books, boxes, clothing_g, shoes).
    pub fn sorts(&self) -> [u64; 4] {
        [self.books, self.boxes, self.clothing_g, self.shoes]
    }
}

impl fmt::Display for DayItems {
    /// As the entry writes it: `{"books":0,"boxes":3,"clothing_g":0,"shoes":0}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"{{"books":{},"boxes":{},"clothing_g":{},"shoes":{}}}"#,
            self.books, self.boxes, self.clothing_g, self.shoes
        )
    }
}

/// The store key of integration `integration`'s action `id`. `/` is outside the id alphabet
/// ([`check_id`]), so the pair is unambiguous.
pub fn action_key(integration: &str, id: &str) -> String {
    format!("{integration}/{id}")
}

/// One action from a source system. `id` is the source's own id (for a scan, the scan id),
/// unique within its `integration`: the pair ([`Action::key`]) is recognised forever, so a
/// second delivery is a replay, and two platforms may use the same id without colliding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    /// The key id of the integration that sent it, taken from the signature it was sent under.
    pub integration: String,
    pub kind: ActionKind,
    pub member: MemberId,
    pub station: String,
    /// When it happened, in Unix seconds.
    pub at: i64,
    pub items: Items,
}

impl Action {
    /// Where the action is stored and how the operator names it: `<integration>/<id>`.
    pub fn key(&self) -> String {
        action_key(&self.integration, &self.id)
    }

    /// Validates an action as it arrives. A pickup booking arrives with no items yet.
    pub fn validate(&self) -> Result<(), Invalid> {
        check_id("action", &self.id)?;
        check_id("integration", &self.integration)?;
        check_id("station", &self.station)?;
        if self.at < 0 || self.at as u64 > MAX_SAFE_INT {
            return Err(Invalid::new("bad_time", "action time is out of range"));
        }
        if self.kind == ActionKind::Pickup && self.items.is_empty() {
            return Ok(()); // a booking; the weight comes with completion
        }
        self.items.validate_for(self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonym_is_keyed_and_stable() {
        let a = Pepper::new(*b"pepper-one-0123456789").unwrap();
        let b = Pepper::new(*b"pepper-two-0123456789").unwrap();
        let m1 = MemberId::pseudonym(&a, "user-42");
        assert_eq!(m1, MemberId::pseudonym(&a, "user-42"));
        assert_ne!(m1, MemberId::pseudonym(&b, "user-42"));
        assert_ne!(m1, MemberId::pseudonym(&a, "user-43"));
        assert!(!m1.as_str().contains("user-42"));
        assert!(MemberId::parse(m1.as_str()).is_ok());
        assert!(format!("{a:?}").contains("redacted"));
    }

    #[test]
    fn pseudonym_is_hmac_sha256_of_the_user_id() {
        // Expected value from Python: hmac.new(b"greenloop-test-pepper", b"alice", sha256).
        let p = Pepper::new(b"greenloop-test-pepper".to_vec()).unwrap();
        assert_eq!(
            MemberId::pseudonym(&p, "alice").as_str(),
            "2edc31d15e78a426ac8b873cab9103cae785a6148594d501ea67f5eb7edac51b"
        );
    }

    #[test]
    fn weak_pepper_and_bad_ids_are_refused() {
        assert_eq!(
            Pepper::new(b"short".to_vec()).unwrap_err().code,
            "weak_pepper"
        );
        assert!(check_id("station", "st-001").is_ok());
        assert!(check_id("station", "").is_err());
        assert!(check_id("station", "a b").is_err());
        assert!(check_id("station", &"x".repeat(65)).is_err());
        assert!(MemberId::parse("ABC").is_err());
    }

    #[test]
    fn items_must_fit_the_kind() {
        let boxes = Items {
            boxes: vec![BoxLot {
                brand: None,
                count: 2,
            }],
            ..Items::default()
        };
        assert!(boxes.validate_for(ActionKind::Scan).is_ok());
        assert!(boxes.validate_for(ActionKind::Pledge).is_ok());
        assert!(boxes.validate_for(ActionKind::Pickup).is_err());
        assert!(Items::default().validate_for(ActionKind::Scan).is_err());
        let clothes = Items {
            clothing_g: 1200,
            ..Items::default()
        };
        assert!(clothes.validate_for(ActionKind::Pickup).is_ok());
        assert!(clothes.validate_for(ActionKind::Pledge).is_err());
        assert!(Items::default().validate_for(ActionKind::Pickup).is_err());
        let lot: Result<BoxLot, _> = serde_json::from_str(r#"{"count":1}"#);
        assert!(lot.is_err(), "a lot without its brand key must be refused");
        let huge = Items {
            clothing_g: MAX_CLOTHING_G + 1,
            ..Items::default()
        };
        assert_eq!(
            huge.validate_for(ActionKind::Scan).unwrap_err().code,
            "too_much"
        );
    }
}
