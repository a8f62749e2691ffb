//! Helpers for the unit tests only.

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub struct VectorCase {
    pub input_len: usize,
    pub hash: String,
    pub keyed_hash: String,
    pub derive_key: String,
}

fn string_field(obj: &str, name: &str) -> String {
    let key = format!("\"{}\": \"", name);
    let start = obj.find(&key).expect("field present") + key.len();
    let end = start + obj[start..].find('"').expect("closing quote");
    obj[start..end].to_string()
}

/// Reads the cases of the official BLAKE3 test_vectors.json. Just enough
/// JSON for that one file's fixed shape: each case is a flat object.
pub fn json_cases(text: &str) -> Vec<VectorCase> {
    let cases_at = text.find("\"cases\"").expect("cases array");
    let mut out = Vec::new();
    for obj in text[cases_at..].split('{').skip(1) {
        let obj = &obj[..obj.find('}').expect("object end")];
        let key = "\"input_len\": ";
        let start = obj.find(key).expect("input_len") + key.len();
        let digits: String = obj[start..].chars().take_while(|c| c.is_ascii_digit()).collect();
        out.push(VectorCase {
            input_len: digits.parse().expect("number"),
            hash: string_field(obj, "hash"),
            keyed_hash: string_field(obj, "keyed_hash"),
            derive_key: string_field(obj, "derive_key"),
        });
    }
    out
}
