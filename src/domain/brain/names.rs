//! Doctors' names as speech-to-text writes them: "chen's", "chens", or slightly misheard
//! ("patil" for Patel). Words are matched against the roster's name words with a small edit
//! distance, so a near miss still finds the doctor the caller meant.

use crate::domain::numbers::tokens;

/// The words of the doctors' full names ("priya", "patel", ...), lowercase.
pub struct Roster {
    names: Vec<Vec<String>>,
}

impl Roster {
    pub fn new(full_names: &[String]) -> Self {
        Self {
            names: full_names.iter().map(|n| tokens(n)).collect(),
        }
    }

    /// The roster word a spoken word stands for: itself, its possessive or plural
    /// ("chen's", "chens"), or the one roster word within a small edit distance. When two
    /// words are equally near, none (guessing a doctor would be worse than asking).
    pub fn word(&self, spoken: &str) -> Option<String> {
        let bare = spoken.trim_end_matches("'s");
        let words = || self.names.iter().flatten();
        if let Some(w) = words().find(|w| *w == bare || format!("{w}s") == bare) {
            return Some(w.clone());
        }
        self.nearest(bare, words().map(String::as_str), tolerance(bare))
    }

    /// A doctor's surname said without a title ("can i see patel"). Stricter than after
    /// "doctor": short everyday words are one letter from short surnames ("when"/"chen").
    pub fn surname(&self, spoken: &str) -> Option<String> {
        let bare = spoken.trim_end_matches("'s");
        if bare.chars().count() < 3 {
            return None;
        }
        let surnames = || self.names.iter().filter_map(|n| n.last());
        if let Some(s) = surnames().find(|s| *s == bare) {
            return Some(s.clone());
        }
        // Only long words against long surnames: "pastel" is no Patel.
        let long = surnames().filter(|s| s.chars().count() >= 6);
        let allowed = if bare.chars().count() >= 6 { 1 } else { 0 };
        self.nearest(bare, long.map(String::as_str), allowed)
    }

    fn nearest<'a>(
        &self,
        spoken: &str,
        candidates: impl Iterator<Item = &'a str>,
        allowed: usize,
    ) -> Option<String> {
        if allowed == 0 || !spoken.chars().all(|c| c.is_alphabetic() || c == '\'') {
            return None;
        }
        let mut best: Option<(usize, &str)> = None;
        let mut tie = false;
        for c in candidates {
            let d = edit_distance(spoken, c);
            if d > allowed {
                continue;
            }
            match best {
                Some((b, w)) if d == b && w != c => tie = true,
                Some((b, _)) if d >= b => {}
                _ => {
                    best = Some((d, c));
                    tie = false;
                }
            }
        }
        best.filter(|_| !tie).map(|(_, w)| w.to_string())
    }
}

/// Edits allowed for a word after "doctor": none for very short words, one for most
/// surnames, two for long ones.
fn tolerance(word: &str) -> usize {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster() -> Roster {
        Roster::new(&[
            "Priya Patel".to_string(),
            "Emily Chen".to_string(),
            "Hannah Becker".to_string(),
            "Marcus Okafor".to_string(),
        ])
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("patel", "patil"), 1);
        assert_eq!(edit_distance("chen", "chan"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn words_after_doctor_tolerate_small_slips() {
        let r = roster();
        assert_eq!(r.word("chen's").as_deref(), Some("chen"));
        assert_eq!(r.word("chens").as_deref(), Some("chen"));
        assert_eq!(r.word("patil").as_deref(), Some("patel"));
        assert_eq!(r.word("backer").as_deref(), Some("becker"));
        assert_eq!(r.word("okafur").as_deref(), Some("okafor"));
        assert_eq!(r.word("zowers"), None);
        assert_eq!(r.word("who"), None);
    }

    #[test]
    fn bare_surnames_are_stricter() {
        let r = roster();
        assert_eq!(r.surname("patel").as_deref(), Some("patel"));
        assert_eq!(r.surname("when"), None, "one letter from chen, but a word");
        assert_eq!(r.surname("pastel"), None);
        assert_eq!(r.surname("beckers").as_deref(), Some("becker"));
        assert_eq!(r.surname("priya"), None, "first names need a title");
    }
}
