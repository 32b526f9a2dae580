//! Normalisation before the rules: Unicode NFKC, invisible and tag
//! characters removed (tag characters also read back as the ASCII they
//! smuggle), and base64, HTML-entity and percent-encoded segments decoded so
//! the rules see them too.

use base64::Engine as _;
use unicode_normalization::UnicodeNormalization as _;

/// How a decoded segment was hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base64,
    HtmlEntities,
    Percent,
    TagCharacters,
}

/// The text the rules read: the normalised text, what was decoded out of
/// it, and how many hidden characters were removed.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    pub text: String,
    pub decoded: Vec<(Encoding, String)>,
    pub tag_characters: usize,
    pub invisible_characters: usize,
}

/// Decoding goes this deep (base64 inside percent-encoding, say).
const MAX_DEPTH: usize = 2;
/// At most this many decoded segments per text.
const MAX_SEGMENTS: usize = 32;
/// The shortest base64 run worth decoding.
const MIN_BASE64: usize = 16;

/// Zero-width, joiner, bidi-control and other invisible format characters.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1D173}'..='\u{1D17A}')
}

fn tag(c: char) -> bool {
    ('\u{E0000}'..='\u{E007F}').contains(&c)
}

/// NFKC with invisible and tag characters removed; the ASCII that tag
/// characters spell is returned beside it.
fn clean(input: &str, out: &mut Normalized) -> (String, String) {
    let mut smuggled = String::new();
    let mut kept = String::with_capacity(input.len());
    for c in input.chars() {
        if tag(c) {
            out.tag_characters += 1;
            let ascii = (c as u32) - 0xE0000;
            if (0x20..0x7F).contains(&ascii)
                && let Some(a) = char::from_u32(ascii)
            {
                smuggled.push(a);
            }
        } else if invisible(c) {
            out.invisible_characters += 1;
        } else {
            kept.push(c);
        }
    }
    // NFKC can itself produce nothing invisible, but compose first so
    // combining sequences split by removed characters rejoin.
    let text: String = kept.nfkc().filter(|c| !invisible(*c)).collect();
    (text, smuggled)
}

/// Normalises `input` and decodes what it hides.
pub fn normalize(input: &str) -> Normalized {
    let mut out = Normalized::default();
    let (text, smuggled) = clean(input, &mut out);
    if !smuggled.trim().is_empty() {
        let (s, _) = clean(&smuggled, &mut Normalized::default());
        out.decoded.push((Encoding::TagCharacters, s));
    }
    let mut frontier = vec![text.clone()];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for t in &frontier {
            for (enc, d) in decode_all(t) {
                if out.decoded.len() >= MAX_SEGMENTS {
                    break;
                }
                let (d, _) = clean(&d, &mut Normalized::default());
                if d.trim().is_empty() || out.decoded.iter().any(|(_, x)| *x == d) || d == text {
                    continue;
                }
                next.push(d.clone());
                out.decoded.push((enc, d));
            }
        }
        frontier = next;
    }
    out.text = text;
    out
}

/// Every decoding of `text` that changes it.
fn decode_all(text: &str) -> Vec<(Encoding, String)> {
    let mut v = Vec::new();
    for run in base64_runs(text) {
        if let Some(d) = decode_base64(run) {
            v.push((Encoding::Base64, d));
        }
    }
    if let Some(d) = decode_entities(text) {
        v.push((Encoding::HtmlEntities, d));
    }
    if let Some(d) = decode_percent(text) {
        v.push((Encoding::Percent, d));
    }
    v
}

fn base64_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_')
}

/// Runs of base64 alphabet long enough to hide a sentence.
fn base64_runs(text: &str) -> Vec<&str> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (start, base64_char(c) || c == '=') {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                let run = text[s..i].trim_end_matches('=');
                if run.len() >= MIN_BASE64 {
                    runs.push(&text[s..i]);
                }
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// The run decoded, when it is mostly printable UTF-8 text.
pub fn decode_base64(run: &str) -> Option<String> {
    let trimmed = run.trim_end_matches('=');
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    // A run may start mid-stream (glued to a word): try each alignment.
    for skip in 0..4 {
        let Some(part) = trimmed.get(skip..) else {
            break;
        };
        let usable = part.len() - part.len() % 4;
        let candidate = if part.len() % 4 == 1 {
            &part[..usable]
        } else {
            part
        };
        for e in &engines {
            if let Ok(bytes) = e.decode(candidate)
                && let Ok(s) = String::from_utf8(bytes)
                && printable(&s)
            {
                return Some(s);
            }
        }
    }
    None
}

/// Text a person would write: at least 8 characters, 90% letters, digits,
/// punctuation or spaces, and some spaces or letters.
fn printable(s: &str) -> bool {
    let n = s.chars().count();
    if n < 8 {
        return false;
    }
    let good = s
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_ascii_punctuation() || c.is_whitespace())
        .count();
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    good * 10 >= n * 9 && letters * 2 >= n && s.contains(' ')
}

/// HTML character references decoded (numeric, and the common named ones).
pub fn decode_entities(text: &str) -> Option<String> {
    if !text.contains('&') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| entity(&after[..e]));
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &after[e + 1..];
                changed = true;
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    changed.then_some(out)
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "excl" => '!',
        "lpar" => '(',
        "rpar" => ')',
        "lsqb" | "lbrack" => '[',
        "rsqb" | "rbrack" => ']',
        "colon" => ':',
        "sol" => '/',
        "quest" => '?',
        "equals" => '=',
        _ => return None,
    })
}

/// `%XX` sequences decoded, when there are at least three of them.
pub fn decode_percent(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let escapes = b
        .windows(3)
        .filter(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
        .count();
    if escapes < 3 {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .replace('+', " ");
    (decoded != text).then_some(decoded)
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
