//! Word error rate, for checking speech recognition against known text.

/// Words for comparison: lowercase, punctuation dropped, "dr" read as "doctor" (Whisper writes
/// "Dr." where a voice says "doctor").
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-' || c == ',')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == ':')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .map(|w| match w.as_str() {
            "dr" => "doctor".to_string(),
            // "30th" and "30" are the same spoken number.
            _ if w.len() > 2
                && w.as_bytes()[0].is_ascii_digit()
                && ["st", "nd", "rd", "th"].iter().any(|s| w.ends_with(s)) =>
            {
                w[..w.len() - 2].to_string()
            }
            _ => w,
        })
        .collect()
}

/// Word-level edit distance over the reference length.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (words(reference), words(hypothesis));
    let mut row: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, hw) in h.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(rw != hw)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[h.len()] as f64 / r.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_substitutions_insertions_and_deletions() {
        assert_eq!(wer("book it now", "book it now"), 0.0);
        assert_eq!(wer("book it now", "book now"), 1.0 / 3.0);
        assert_eq!(wer("book it now", "book it right now"), 1.0 / 3.0);
        assert_eq!(wer("Dr. Patel, at 9:30.", "doctor patel at 9:30"), 0.0);
        assert_eq!(wer("", ""), 0.0);
        assert_eq!(wer("November 30 at 10 AM", "November 30th at 10 a.m."), 0.0);
    }
}
