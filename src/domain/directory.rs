//! Finding doctors by what callers say: a surname, a full name, a speciality, or the kind
//! of doctor ("heart doctor", "a dermatologist", "someone for my kids"), or what the visit
//! is about ("my knee", "a rash", "my son").

use super::numbers::tokens;
use super::store::Doctor;

/// Canonical speciality names (as stored) and the words that ask for them.
pub const SPECIALITIES: &[(&str, &[&str])] = &[
    (
        "cardiology",
        &[
            "cardiology",
            "cardiologist",
            "cardiologists",
            "cardiac",
            "heart",
            "heartbeat",
            "palpitations",
            "chest pain",
        ],
    ),
    (
        "dermatology",
        &[
            "dermatology",
            "dermatologist",
            "dermatologists",
            "skin",
            "skin's",
            "mole",
            "moles",
            "rash",
            "itchy",
            "acne",
            "eczema",
        ],
    ),
    (
        "paediatrics",
        &[
            "paediatrics",
            "pediatrics",
            "paediatrician",
            "pediatrician",
            "paediatric",
            "pediatric",
            "children's",
            "children",
            "child",
            "kids",
            "kid",
            "kid's",
            "son",
            "son's",
            "daughter",
            "daughter's",
            "little boy",
            "little boy's",
            "little girl",
            "baby",
            "toddler",
            "jabs",
        ],
    ),
    (
        "family medicine",
        &[
            "family medicine",
            "family doctor",
            "family doctors",
            "family physician",
            "family practice",
            "general practitioner",
            "general practice",
            "gp",
            "primary care",
            "regular doctor",
        ],
    ),
    (
        "orthopaedics",
        &[
            "orthopaedics",
            "orthopedics",
            "orthopaedic",
            "orthopedic",
            "orthopaedist",
            "orthopedist",
            "bone",
            "bones",
            "knee",
            "knees",
            "hip",
            "ankle",
            "shoulder",
            "joint",
            "joints",
            "sprained",
        ],
    ),
    (
        "neurology",
        &[
            "neurology",
            "neurologist",
            "neurologists",
            "neuro",
            "nerve",
            "brain",
            "migraine",
            "migraines",
            "numbness",
            "seizures",
            "epilepsy",
        ],
    ),
    (
        "ophthalmology",
        &[
            "ophthalmology",
            "ophthalmologist",
            "eye",
            "eyes",
            "vision",
            "blurry",
            "glaucoma",
            "cataracts",
        ],
    ),
];

/// The first speciality named in `text`, in reading order.
pub fn speciality_in(text: &str) -> Option<&'static str> {
    let toks = tokens(text);
    for i in 0..toks.len() {
        for (name, words) in SPECIALITIES {
            let hit = words.iter().any(|phrase| {
                let parts: Vec<&str> = phrase.split(' ').collect();
                toks.len() >= i + parts.len()
                    && parts.iter().enumerate().all(|(k, p)| toks[i + k] == *p)
            });
            if hit {
                return Some(name);
            }
        }
    }
    None
}

/// What a doctor query named.
#[derive(Clone, Debug, PartialEq)]
pub enum DoctorLookup {
    /// No preference ("any", "anyone", or nothing at all): every doctor.
    Any(Vec<Doctor>),
    /// Doctors whose name matches (usually one).
    Named(Vec<Doctor>),
    /// Doctors of a speciality.
    Speciality(String, Vec<Doctor>),
    /// Nothing matched.
    Unknown,
}

impl DoctorLookup {
    pub fn doctors(&self) -> &[Doctor] {
        match self {
            DoctorLookup::Any(d) | DoctorLookup::Named(d) | DoctorLookup::Speciality(_, d) => d,
            DoctorLookup::Unknown => &[],
        }
    }
}

const FILLER: &[&str] = &[
    "doctor",
    "doctors",
    "dr",
    "a",
    "an",
    "the",
    "with",
    "see",
    "to",
    "please",
    "someone",
    "somebody",
    "specialist",
    "appointment",
    "for",
    "my",
    "in",
    "of",
];

/// Split "chen's" / "chens" into candidate name words.
fn name_forms(word: &str) -> Vec<String> {
    let mut forms = vec![word.to_string()];
    if let Some(w) = word.strip_suffix("'s") {
        forms.push(w.to_string());
    } else if let Some(w) = word.strip_suffix('s') {
        forms.push(w.to_string());
    }
    forms
}

/// Resolve a doctor query against the doctors.
pub fn lookup(doctors: &[Doctor], query: &str) -> DoctorLookup {
    let toks: Vec<String> = tokens(query)
        .into_iter()
        .filter(|t| !FILLER.contains(&t.as_str()))
        .collect();
    let any = [
        "any",
        "anyone",
        "anybody",
        "whoever",
        "whichever",
        "all",
        "available",
    ];
    if toks.is_empty() || toks.iter().all(|t| any.contains(&t.as_str())) {
        return DoctorLookup::Any(doctors.to_vec());
    }
    let named: Vec<Doctor> = doctors
        .iter()
        .filter(|d| {
            let name_words: Vec<String> = tokens(&d.name.replace('\'', ""));
            toks.iter().all(|t| {
                name_forms(&t.replace('\'', ""))
                    .iter()
                    .any(|f| name_words.contains(&f.replace('\'', "")))
            })
        })
        .cloned()
        .collect();
    if !named.is_empty() {
        return DoctorLookup::Named(named);
    }
    let wanted = speciality_in(query).map(str::to_string).or_else(|| {
        // A speciality stored in the database but missing from our word list.
        let q = toks.join(" ");
        doctors
            .iter()
            .map(|d| d.speciality.to_lowercase())
            .find(|s| q.contains(s.as_str()))
    });
    match wanted {
        Some(s) => {
            let found: Vec<Doctor> = doctors
                .iter()
                .filter(|d| d.speciality.eq_ignore_ascii_case(&s))
                .cloned()
                .collect();
            if found.is_empty() {
                DoctorLookup::Unknown
            } else {
                DoctorLookup::Speciality(s, found)
            }
        }
        None => DoctorLookup::Unknown,
    }
}

/// The distinct specialities, in doctor order.
pub fn specialities(doctors: &[Doctor]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in doctors {
        if !out.contains(&d.speciality) {
            out.push(d.speciality.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: i64, name: &str, speciality: &str) -> Doctor {
        Doctor {
            id,
            name: name.into(),
            speciality: speciality.into(),
            bio: String::new(),
            languages: vec!["English".into()],
        }
    }

    fn roster() -> Vec<Doctor> {
        vec![
            doc(1, "Priya Patel", "cardiology"),
            doc(2, "Marcus Okafor", "cardiology"),
            doc(3, "Emily Chen", "dermatology"),
            doc(4, "Sean O'Brien", "sports medicine"),
        ]
    }

    fn ids(l: &DoctorLookup) -> Vec<i64> {
        l.doctors().iter().map(|d| d.id).collect()
    }

    #[test]
    fn names_in_any_form() {
        let r = roster();
        assert_eq!(ids(&lookup(&r, "Dr. Patel")), vec![1]);
        assert_eq!(ids(&lookup(&r, "doctor priya patel")), vec![1]);
        assert_eq!(ids(&lookup(&r, "chen's")), vec![3]);
        assert_eq!(ids(&lookup(&r, "doctor chens")), vec![3]);
        assert_eq!(ids(&lookup(&r, "obrien")), vec![4]);
        assert!(matches!(lookup(&r, "patel"), DoctorLookup::Named(_)));
    }

    #[test]
    fn specialities_by_any_word() {
        let r = roster();
        for q in ["cardiology", "a cardiologist", "heart doctor", "Cardiology"] {
            match lookup(&r, q) {
                DoctorLookup::Speciality(s, d) => {
                    assert_eq!(s, "cardiology");
                    assert_eq!(d.len(), 2);
                }
                other => panic!("{q}: {other:?}"),
            }
        }
        assert_eq!(ids(&lookup(&r, "skin specialist")), vec![3]);
        assert_eq!(ids(&lookup(&r, "sports medicine")), vec![4]);
    }

    #[test]
    fn any_and_unknown() {
        let r = roster();
        assert_eq!(ids(&lookup(&r, "")).len(), 4);
        assert_eq!(ids(&lookup(&r, "any doctor")).len(), 4);
        assert_eq!(lookup(&r, "doctor who"), DoctorLookup::Unknown);
        assert_eq!(
            lookup(&r, "neurologist"),
            DoctorLookup::Unknown,
            "none on staff"
        );
    }

    #[test]
    fn speciality_words_in_sentences() {
        assert_eq!(
            speciality_in("book me with a cardiologist tomorrow"),
            Some("cardiology")
        );
        assert_eq!(
            speciality_in("i need a family doctor"),
            Some("family medicine")
        );
        assert_eq!(speciality_in("my family is fine"), None);
        assert_eq!(speciality_in("something for my kids"), Some("paediatrics"));
        assert_eq!(speciality_in("hello"), None);
    }

    #[test]
    fn specialities_are_distinct_in_order() {
        assert_eq!(
            specialities(&roster()),
            vec!["cardiology", "dermatology", "sports medicine"]
        );
    }
}
