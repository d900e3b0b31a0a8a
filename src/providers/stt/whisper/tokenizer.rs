//! Whisper's vocabulary (`vocabulary.txt`: line number = token id) and GPT-2 byte-level decoding.

use std::collections::HashMap;
use std::path::Path;

use crate::providers::models::ModelError;

pub struct Tokenizer {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    /// GPT-2 maps every byte to a printable char; this is the inverse.
    byte_of: HashMap<char, u8>,
}

impl Tokenizer {
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        crate::providers::models::require("Whisper vocabulary", path)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| ModelError::Runtime(format!("reading {}: {e}", path.display())))?;
        Ok(Self::from_lines(text.lines().map(str::to_string).collect()))
    }

    pub fn from_lines(tokens: Vec<String>) -> Self {
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let byte_of = gpt2_byte_chars()
            .into_iter()
            .enumerate()
            .map(|(b, c)| (c, b as u8))
            .collect();
        Self {
            tokens,
            ids,
            byte_of,
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of a token such as `<|endoftext|>`.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Text of `ids`; special tokens (`<|...|>`) and unknown ids are skipped, invalid UTF-8 is
    /// replaced (a cut-off multi-byte character at the end of a partial transcript).
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let Some(token) = self.tokens.get(id as usize) else {
                continue;
            };
            if token.starts_with("<|") && token.ends_with("|>") {
                continue;
            }
            bytes.extend(token.chars().filter_map(|c| self.byte_of.get(&c)));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to 256, 257, ...
fn gpt2_byte_chars() -> Vec<char> {
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut next = 256;
    (0..256u32)
        .map(|b| {
            if printable(b) {
                char::from_u32(b)
            } else {
                next += 1;
                char::from_u32(next - 1)
            }
        })
        // Every value here is a valid scalar below 0x200: a true invariant.
        .map(|c| c.expect("byte chars are valid code points"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_byte_level_tokens_and_skips_specials() {
        let tok = Tokenizer::from_lines(
            ["Hello", "Ġworld", ",", "<|endoftext|>", "Ġcaf", "Ã©", "Ċ"]
                .map(String::from)
                .to_vec(),
        );
        assert_eq!(tok.decode(&[0, 1, 2, 3]), "Hello world,");
        assert_eq!(tok.decode(&[4, 5]), " café");
        assert_eq!(tok.decode(&[6]), "\n");
        assert_eq!(tok.id("<|endoftext|>"), Some(3));
        assert_eq!(tok.decode(&[99]), "");
    }

    #[test]
    fn byte_map_is_a_bijection() {
        let chars = gpt2_byte_chars();
        let unique: std::collections::HashSet<_> = chars.iter().collect();
        assert_eq!(unique.len(), 256);
        assert_eq!(chars[b' ' as usize], 'Ġ');
        assert_eq!(chars[b'\n' as usize], 'Ċ');
    }
}
