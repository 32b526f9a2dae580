//! Input limits of conversations, messages and customers.

use std::collections::HashMap;

use ochre_sdk::v1::{Attachment, CustomFieldValue, custom_field_value::Value};
use serde_json::{Map, Value as Json, json};

use crate::error::ApiError;

pub const MAX_BODY_BYTES: usize = 65_536;
pub const MAX_MENTIONS: usize = 50;
pub const MAX_ATTACHMENTS: usize = 20;
pub const MAX_ATTACHMENT_BYTES: i64 = 100 * 1024 * 1024;
pub const MAX_SUBJECT_CHARS: usize = 500;
pub const MAX_CUSTOM_FIELDS: usize = 100;
pub const MAX_CUSTOM_STRING: usize = 2048;

/// Characters that reorder displayed text (bidi embeddings, overrides,
/// isolates and marks): in a name they disguise what another user reads.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A name shown to other people (org, customer and display names): trimmed,
/// at most 200 characters, no control or bidi-control character.
pub fn name(name: &str) -> Result<String, ApiError> {
    name_of("name", name)
}

/// An account's display name (may be empty), with the rules of [`name`].
pub fn display_name(name: &str) -> Result<String, ApiError> {
    name_of("display_name", name)
}

fn name_of(field: &str, name: &str) -> Result<String, ApiError> {
    label(field, name, 200)
}

/// A short printable label (trimmed): at most `max` characters, no control
/// or bidi-control character.
pub fn label(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let text = raw.trim();
    if text.chars().count() > max || text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(ApiError::invalid_field(
            field.to_owned(),
            format!(
                "{field} must be at most {max} printable characters (no control or bidi-control characters)"
            ),
        ));
    }
    Ok(text.to_owned())
}

pub fn body(body: &str) -> Result<(), ApiError> {
    if body.is_empty() {
        return Err(ApiError::required("body"));
    }
    if body.contains('\0') {
        return Err(ApiError::invalid_field(
            "body",
            "body must not contain NUL characters",
        ));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid_field(
            "body",
            format!("body is too large ({MAX_BODY_BYTES} bytes at most)"),
        ));
    }
    Ok(())
}

/// Most characters a survey comment may have.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// A survey comment (trimmed, may be empty): at most 2,000 characters; line
/// breaks and tabs are the only control characters allowed, and no
/// bidi-control character.
pub fn comment(raw: &str) -> Result<String, ApiError> {
    let text = raw.trim();
    let bad = |c: char| (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || is_bidi_control(c);
    if text.chars().count() > MAX_COMMENT_CHARS || text.chars().any(bad) {
        return Err(ApiError::invalid_field(
            "comment",
            format!(
                "comment must be at most {MAX_COMMENT_CHARS} characters, without control \
             characters other than line breaks and tabs"
            ),
        ));
    }
    Ok(text.to_owned())
}

pub fn subject(subject: &str) -> Result<String, ApiError> {
    let subject = subject.trim();
    if subject.chars().count() > MAX_SUBJECT_CHARS || subject.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid_field(
            "subject",
            format!("subject must be at most {MAX_SUBJECT_CHARS} printable characters"),
        ));
    }
    Ok(subject.to_owned())
}

pub fn phone(phone: &str) -> Result<String, ApiError> {
    let phone = phone.trim();
    let ok = phone.chars().count() <= 50
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !ok {
        return Err(ApiError::invalid_field(
            "phone",
            "phone must be at most 50 digits, spaces and + - ( ) .",
        ));
    }
    Ok(phone.to_owned())
}

/// Attachments as stored (a JSON array of metadata objects).
pub fn attachments(list: &[Attachment]) -> Result<Json, ApiError> {
    if list.len() > MAX_ATTACHMENTS {
        return Err(ApiError::invalid_field(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} attachments"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let f = |field: &str, why: &str| {
            let path = format!("attachments[{i}].{field}");
            ApiError::invalid_field(path.clone(), format!("{path} {why}"))
        };
        let name = a.file_name.as_str();
        if name.is_empty()
            || name.chars().count() > 255
            || name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(f(
                "file_name",
                "must be 1 to 255 characters with no path separator",
            ));
        }
        let ct = a.content_type.as_str();
        let ct_ok = ct.len() <= 255
            && ct
                .split_once('/')
                .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
            && ct.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if !ct_ok {
            return Err(f("content_type", "must be a media type such as text/plain"));
        }
        if !(0..=MAX_ATTACHMENT_BYTES).contains(&a.size_bytes) {
            return Err(f("size_bytes", "must be between 0 and 100 MiB"));
        }
        if a.sha256.len() != 64
            || !a
                .sha256
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err(f("sha256", "must be 64 lower-case hex characters"));
        }
        if a.storage_key.is_empty()
            || a.storage_key.len() > 1024
            || a.storage_key.chars().any(|c| c.is_control())
        {
            return Err(f("storage_key", "must be 1 to 1024 printable characters"));
        }
        out.push(json!({
            "file_name": name, "content_type": ct, "size_bytes": a.size_bytes,
            "sha256": a.sha256, "storage_key": a.storage_key,
        }));
    }
    Ok(Json::Array(out))
}

pub fn attachments_from(json: &Json) -> Vec<Attachment> {
    json.as_array()
        .map(|items| {
            items
                .iter()
                .map(|a| Attachment {
                    file_name: a["file_name"].as_str().unwrap_or_default().to_owned(),
                    content_type: a["content_type"].as_str().unwrap_or_default().to_owned(),
                    size_bytes: a["size_bytes"].as_i64().unwrap_or_default(),
                    sha256: a["sha256"].as_str().unwrap_or_default().to_owned(),
                    storage_key: a["storage_key"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Custom fields as stored: `{"key": {"s": ".."} | {"n": 1.0} | {"b": true} | {"t": [secs, nanos]}}`.
pub fn custom_fields(fields: &HashMap<String, CustomFieldValue>) -> Result<Json, ApiError> {
    if fields.len() > MAX_CUSTOM_FIELDS {
        return Err(ApiError::invalid_field(
            "custom_fields",
            format!("at most {MAX_CUSTOM_FIELDS} custom fields"),
        ));
    }
    let mut out = Map::new();
    for (key, value) in fields {
        let key_ok = (1..=64).contains(&key.len())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(ApiError::invalid_field(
                "custom_fields",
                "custom field keys must be 1 to 64 characters of a-z, 0-9 and _",
            ));
        }
        let stored = match &value.value {
            Some(Value::StringValue(s)) if s.chars().count() <= MAX_CUSTOM_STRING => {
                json!({ "s": s })
            }
            Some(Value::StringValue(_)) => {
                return Err(ApiError::invalid_field(
                    format!("custom_fields[{key}]"),
                    format!(
                        "custom field {key}: strings are at most {MAX_CUSTOM_STRING} characters"
                    ),
                ));
            }
            Some(Value::NumberValue(n)) if n.is_finite() => json!({ "n": n }),
            Some(Value::NumberValue(_)) => {
                return Err(ApiError::invalid_field(
                    format!("custom_fields[{key}]"),
                    format!("custom field {key}: the number is not finite"),
                ));
            }
            Some(Value::BoolValue(b)) => json!({ "b": b }),
            Some(Value::TimestampValue(t)) => json!({ "t": [t.seconds, t.nanos] }),
            None => {
                return Err(ApiError::invalid_field(
                    format!("custom_fields[{key}]"),
                    format!("custom field {key} has no value"),
                ));
            }
        };
        out.insert(key.clone(), stored);
    }
    Ok(Json::Object(out))
}

pub fn custom_fields_from(json: &Json) -> HashMap<String, CustomFieldValue> {
    let mut out = HashMap::new();
    for (key, v) in json.as_object().into_iter().flatten() {
        let value = if let Some(s) = v.get("s").and_then(Json::as_str) {
            Value::StringValue(s.to_owned())
        } else if let Some(n) = v.get("n").and_then(Json::as_f64) {
            Value::NumberValue(n)
        } else if let Some(b) = v.get("b").and_then(Json::as_bool) {
            Value::BoolValue(b)
        } else if let Some(t) = v.get("t").and_then(Json::as_array) {
            Value::TimestampValue(prost_types::Timestamp {
                seconds: t.first().and_then(Json::as_i64).unwrap_or_default(),
                nanos: t.get(1).and_then(Json::as_i64).unwrap_or_default() as i32,
            })
        } else {
            continue;
        };
        out.insert(key.clone(), CustomFieldValue { value: Some(value) });
    }
    out
}

/// Normalises an email (trimmed, lower case) and checks its shape.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty()
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let (local, domain) = email.rsplit_once('@')?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    let local_ok = !local.is_empty() && local.len() <= 64 && !local.contains('@');
    (domain_ok && local_ok).then_some(email)
}

#[cfg(test)]
mod name_tests {
    use super::{body, display_name, name};

    #[test]
    fn names_with_control_or_bidi_control_characters_are_refused() {
        for bad in [
            "Ada\u{202E}evil",
            "\u{2066}Ada",
            "Ada\u{200F}",
            "A\0da",
            "Ada\nLovelace",
        ] {
            assert!(name(bad).is_err(), "{bad:?}");
            assert!(display_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(display_name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert_eq!(display_name("").unwrap(), "");
        assert_eq!(name("Zoë Ünal").unwrap(), "Zoë Ünal");
    }

    #[test]
    fn a_body_may_hold_newlines_but_not_nul() {
        assert!(body("line one\nline two\ttabbed").is_ok());
        assert!(body("before\0after").is_err());
    }
}

#[cfg(test)]
mod email_tests {
    use super::normalize_email;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Ada@Example.COM "),
            Some("ada@example.com".to_owned())
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a da@example.com",
            "ada@exa..mple.com",
            "ada@.example.com",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
