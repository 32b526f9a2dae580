//! Well-formed random messages of a descriptor: every field kind, strings
//! from a nasty pool (with the ids, emails and tokens of the run's cast),
//! integers at their extremes, enums with unknown numbers, repeated and map
//! fields empty or long, nested messages, one member of each oneof.

use std::collections::HashMap;

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};
use rand::{Rng as _, RngCore as _, rngs::StdRng, seq::IndexedRandom as _};

use super::pools::{NASTY, ODD_EMAILS, ODD_IDS};

/// One mebibyte: the size of the huge strings and bytes.
pub const HUGE: usize = 1 << 20;

/// How deep generated messages nest at most.
const MAX_DEPTH: usize = 4;

/// The values worth trying that the run knows: ids of the cast's own rows
/// and of another org's, its members' emails.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Ids of real rows: the caller's org, its members, customers,
    /// conversations, keys, invitations; another org and its rows.
    pub ids: Vec<String>,
    /// Email addresses of real accounts and customers.
    pub emails: Vec<String>,
}

/// A generator of well-formed messages for one call.
#[derive(Debug)]
pub struct Generator<'a> {
    pub rng: &'a mut StdRng,
    pub known: &'a Known,
    /// Whether this message already holds a huge value (one at most).
    huge_used: bool,
}

impl<'a> Generator<'a> {
    pub fn new(rng: &'a mut StdRng, known: &'a Known) -> Self {
        Generator {
            rng,
            known,
            huge_used: false,
        }
    }

    /// A random message of `desc`.
    pub fn message(&mut self, desc: &MessageDescriptor) -> DynamicMessage {
        self.message_at(desc, 0)
    }

    fn message_at(&mut self, desc: &MessageDescriptor, depth: usize) -> DynamicMessage {
        let mut message = DynamicMessage::new(desc.clone());
        let presence = [0.3, 0.7, 1.0].choose(self.rng).copied().unwrap_or(0.7);
        for field in desc.fields() {
            if !self.rng.random_bool(presence) {
                continue;
            }
            if depth >= MAX_DEPTH && matches!(field.kind(), Kind::Message(_)) {
                continue;
            }
            let value = self.field(&field, depth);
            // Setting a member of a oneof clears the others: one stays.
            message.set_field(&field, value);
        }
        message
    }

    fn field(&mut self, field: &FieldDescriptor, depth: usize) -> Value {
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return Value::Map(HashMap::new());
            };
            let (k, v) = (entry.map_entry_key_field(), entry.map_entry_value_field());
            // One entry at most: a map's encoding follows its hash order,
            // so more would not replay; see `extra_map_entries`.
            let mut map = HashMap::new();
            for _ in 0..self.count().min(1) {
                let key = match self.single(&k, depth + 1) {
                    Value::String(s) => MapKey::String(s),
                    Value::I32(i) => MapKey::I32(i),
                    Value::I64(i) => MapKey::I64(i),
                    Value::U32(i) => MapKey::U32(i),
                    Value::U64(i) => MapKey::U64(i),
                    Value::Bool(b) => MapKey::Bool(b),
                    _ => continue,
                };
                map.insert(key, self.single(&v, depth + 1));
            }
            return Value::Map(map);
        }
        if field.is_list() {
            let n = self.count();
            return Value::List((0..n).map(|_| self.single(field, depth + 1)).collect());
        }
        self.single(field, depth)
    }

    /// Many entries of the top-level map fields of `desc`, encoded in a
    /// fixed order (appended to the encoded message, they merge into it).
    pub fn extra_map_entries(&mut self, desc: &MessageDescriptor) -> Vec<u8> {
        use prost::Message as _;
        let mut out = Vec::new();
        for field in desc.fields().filter(|f| f.is_map()) {
            let Kind::Message(entry) = field.kind() else {
                continue;
            };
            if !self.rng.random_bool(0.2) {
                continue;
            }
            for _ in 0..self.rng.random_range(2..300) {
                let mut pair = DynamicMessage::new(entry.clone());
                for part in [entry.map_entry_key_field(), entry.map_entry_value_field()] {
                    let value = self.single(&part, 1);
                    pair.set_field(&part, value);
                }
                let bytes = pair.encode_to_vec();
                super::mutate::tag(field.number(), 2, &mut out);
                super::mutate::varint(bytes.len() as u64, &mut out);
                out.extend_from_slice(&bytes);
            }
        }
        out
    }

    /// How many elements a repeated field gets: none, a few, or many.
    fn count(&mut self) -> usize {
        match self.rng.random_range(0..20) {
            0..=7 => 0,
            8..=17 => self.rng.random_range(1..4),
            18 => self.rng.random_range(10..100),
            _ => self.rng.random_range(500..2000),
        }
    }

    fn single(&mut self, field: &FieldDescriptor, depth: usize) -> Value {
        match field.kind() {
            Kind::Double => Value::F64(self.float()),
            Kind::Float => Value::F32(self.float() as f32),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(self.int() as i32),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(self.int()),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(self.int() as u32),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(self.int() as u64),
            Kind::Bool => Value::Bool(self.rng.random_bool(0.5)),
            Kind::String => Value::String(self.string(field.name())),
            Kind::Bytes => Value::Bytes(self.bytes().into()),
            Kind::Enum(e) => {
                let known: Vec<i32> = e.values().map(|v| v.number()).collect();
                Value::EnumNumber(match self.rng.random_range(0..10) {
                    0..=6 => known.choose(self.rng).copied().unwrap_or(0),
                    7 => -1,
                    8 => i32::MAX,
                    _ => self.rng.random_range(known.len() as i32..1000),
                })
            }
            Kind::Message(m) => Value::Message(self.message_at(&m, depth + 1)),
        }
    }

    /// Integers at the extremes of every width, small ones, random ones.
    fn int(&mut self) -> i64 {
        const EDGES: &[i64] = &[
            0,
            1,
            -1,
            2,
            100,
            1000,
            i32::MIN as i64,
            i32::MAX as i64,
            i32::MAX as i64 + 1,
            u32::MAX as i64,
            i64::MIN,
            i64::MAX,
            i64::MIN + 1,
            -1_000_000_000_000,
        ];
        match self.rng.random_range(0..4) {
            0 | 1 => *EDGES.choose(self.rng).unwrap_or(&0),
            2 => self.rng.random_range(-1000..1000),
            _ => self.rng.next_u64() as i64,
        }
    }

    fn float(&mut self) -> f64 {
        const EDGES: &[f64] = &[
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            1e300,
        ];
        if self.rng.random_bool(0.7) {
            *EDGES.choose(self.rng).unwrap_or(&0.0)
        } else {
            self.rng.random_range(-1e6..1e6)
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = match self.rng.random_range(0..40) {
            0..=9 => 0,
            10..=36 => self.rng.random_range(1..64),
            37 | 38 => self.rng.random_range(64..5000),
            _ if !self.huge_used => {
                self.huge_used = true;
                HUGE
            }
            _ => 1,
        };
        let mut out = vec![0u8; len];
        self.rng.fill_bytes(&mut out);
        out
    }

    /// A string for a field: ids, emails and cursors where the name calls
    /// for them (most of the time), else the nasty pool and random text.
    pub fn string(&mut self, name: &str) -> String {
        let likely = self.rng.random_bool(0.6);
        if likely && (name.ends_with("_id") || name.ends_with("_ids") || name == "id") {
            return self.id();
        }
        if likely && name.contains("email") {
            return self.email();
        }
        if likely && name.contains("token") {
            return self.token();
        }
        match self.rng.random_range(0..100) {
            0..=39 => (*NASTY.choose(self.rng).unwrap_or(&"")).to_owned(),
            40..=49 => self.id(),
            50..=54 => self.email(),
            55..=59 => self.token(),
            60..=79 => self.ascii(),
            80..=94 => self.unicode(),
            95..=98 => "x".repeat(self.rng.random_range(200..70_000)),
            _ if !self.huge_used => {
                self.huge_used = true;
                let unit = ["a", "\u{202e}", "%", "\u{1f600}"]
                    .choose(self.rng)
                    .unwrap_or(&"a");
                unit.repeat(HUGE / unit.len())
            }
            _ => String::new(),
        }
    }

    fn id(&mut self) -> String {
        match self.rng.random_range(0..10) {
            0..=4 if !self.known.ids.is_empty() => {
                self.known.ids.choose(self.rng).cloned().unwrap_or_default()
            }
            5 | 6 => uuid::Builder::from_random_bytes(self.rng.random())
                .into_uuid()
                .to_string(),
            7 => (*ODD_IDS.choose(self.rng).unwrap_or(&"")).to_owned(),
            8 => String::new(),
            _ => (*NASTY.choose(self.rng).unwrap_or(&"")).to_owned(),
        }
    }

    fn email(&mut self) -> String {
        match self.rng.random_range(0..3) {
            0 if !self.known.emails.is_empty() => {
                let email = self
                    .known
                    .emails
                    .choose(self.rng)
                    .cloned()
                    .unwrap_or_default();
                if self.rng.random_bool(0.3) {
                    email.to_uppercase()
                } else {
                    email
                }
            }
            _ => (*ODD_EMAILS.choose(self.rng).unwrap_or(&"")).to_owned(),
        }
    }

    /// Cursor and token look-alikes: random base64url of random length,
    /// prefixes of the server's token formats, truncated ones.
    fn token(&mut self) -> String {
        use base64::Engine as _;
        let mut raw = vec![0u8; self.rng.random_range(0..96)];
        self.rng.fill_bytes(&mut raw);
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
        let prefix = [
            "",
            "ochre_rt_FAKE",
            "ochre_at_v1.FAKE.",
            "ochre_tk_FAKE",
            "ochre_inv_FAKE",
            "v1.",
            "eyJ",
        ]
        .choose(self.rng)
        .copied()
        .unwrap_or("");
        let token = format!("{prefix}{body}");
        let cut = self.rng.random_range(0..=token.len());
        token[..cut].to_owned()
    }

    fn ascii(&mut self) -> String {
        let len = self.rng.random_range(1..80);
        (0..len)
            .map(|_| char::from(self.rng.random_range(0x20u8..0x7f)))
            .collect()
    }

    fn unicode(&mut self) -> String {
        let len = self.rng.random_range(1..40);
        (0..len)
            .map(|_| {
                loop {
                    if let Some(c) = char::from_u32(self.rng.random_range(0..0x11_0000)) {
                        break c;
                    }
                }
            })
            .collect()
    }
}
