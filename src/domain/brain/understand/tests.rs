use super::*;

fn today() -> Date {
    Date::from_ymd(2026, 3, 4).unwrap()
}

fn hear(t: &str) -> Heard {
    let names = vec!["Priya Patel".to_string(), "Emily Chen".to_string()];
    understand(t, &names, today())
}

#[test]
fn intents_from_everyday_requests() {
    assert_eq!(hear("cancel my appointment").intent, Some(Intent::Cancel));
    assert_eq!(
        hear("i'd like to see doctor patel on tuesday at three").intent,
        Some(Intent::Book)
    );
    assert_eq!(
        hear("book me with a cardiologist tomorrow morning").intent,
        Some(Intent::Book)
    );
    assert_eq!(
        hear("what are doctor chen's hours").intent,
        Some(Intent::DoctorInfo)
    );
    assert_eq!(
        hear("is there anything free on friday").intent,
        Some(Intent::Availability)
    );
    assert_eq!(
        hear("when is my appointment").intent,
        Some(Intent::PatientInfo)
    );
    assert_eq!(
        hear("which doctors do you have").intent,
        Some(Intent::DoctorInfo)
    );
    assert_eq!(hear("hello").intent, None);
}

#[test]
fn details_from_the_same_sentence() {
    let h = hear("i'd like to see doctor patel on tuesday at three");
    assert_eq!(h.doctor.as_deref(), Some("patel"));
    assert_eq!(h.dates.len(), 1);
    assert_eq!(h.time, Time::from_hm(15, 0));
    let h = hear("book me with a cardiologist tomorrow morning");
    assert_eq!(h.doctor.as_deref(), Some("cardiology"));
    assert_eq!(h.dates, vec![DateExpr::Tomorrow]);
    assert_eq!(h.part, Some(PartOfDay::Morning));
    assert_eq!(
        hear("what are doctor chen's hours").doctor.as_deref(),
        Some("chen")
    );
    assert_eq!(hear("can i see patel").doctor.as_deref(), Some("patel"));
    assert_eq!(hear("any doctor is fine").doctor.as_deref(), Some("any"));
}

#[test]
fn names_and_birth_dates() {
    let h = hear("my name is john smith and my date of birth is march fourth nineteen eighty five");
    assert_eq!(h.name.as_deref(), Some("John Smith"));
    assert_eq!(h.dob, Date::from_ymd(1985, 3, 4));
    assert!(h.dates.is_empty(), "a birth date is no appointment day");
    assert_eq!(
        hear("hi this is maria gonzalez").name.as_deref(),
        Some("Maria Gonzalez")
    );
    assert_eq!(hear("i'm calling to book").name, None);
    assert_eq!(hear("i was born on march fourth").partial_dob, Some((3, 4)));
    assert_eq!(hear("nineteen eighty five").year, Some(1985));
}

#[test]
fn reasons_yes_no_and_choices() {
    assert_eq!(hear("for a checkup").reason.as_deref(), Some("check-up"));
    assert_eq!(
        hear("i have a rash on my arm on tuesday").reason.as_deref(),
        Some("rash on my arm")
    );
    assert_eq!(
        hear("it's about my knee pain please").reason.as_deref(),
        Some("knee pain")
    );
    assert_eq!(hear("for tomorrow morning").reason, None);
    assert_eq!(hear("for my son").reason, None);
    assert!(hear("yes please").yes);
    assert!(hear("no that's wrong").no);
    assert!(!hear("no thanks").yes);
    assert_eq!(hear("the second one").ordinal, Some(1));
    assert_eq!(hear("the earliest").ordinal, Some(0));
}

#[test]
fn a_yes_or_filler_is_no_reason() {
    for t in [
        "yes please book it",
        "yes",
        "no",
        "just book it",
        "that's fine go ahead",
    ] {
        assert_eq!(hear(t).reason, None, "{t}");
    }
    assert!(!plausible_reason(&["yes", "please", "book", "it"]));
    assert!(plausible_reason(&["knee", "pain"]));
    assert_eq!(
        hear("yes it's about my chest pains").reason.as_deref(),
        Some("chest pains")
    );
}

#[test]
fn questions_about_a_doctor_even_when_misheard() {
    for t in [
        "What are Dr. Chen's hours?",
        "What are Dr. Chen Zowers?",
        "What does doctor Chen do?",
        "Tell me about doctor Chen",
        "and who is doctor chan",
    ] {
        let h = hear(t);
        assert_eq!(h.intent, Some(Intent::DoctorInfo), "{t}");
        assert_eq!(h.doctor.as_deref(), Some("chen"), "{t}");
    }
    let h = hear("Who are your cardiologists?");
    assert_eq!(h.intent, Some(Intent::DoctorInfo));
    assert_eq!(h.doctor.as_deref(), Some("cardiology"));
    assert!(hear("what does doctor chen do").about);
    assert!(!hear("what are doctor chen's hours").about);
    // Offering another doctor, or asking for a day, is no question about them.
    assert_ne!(
        hear("what about doctor chen").intent,
        Some(Intent::DoctorInfo)
    );
    assert_ne!(
        hear("what about doctor chen on monday").intent,
        Some(Intent::DoctorInfo)
    );
    assert_eq!(hear("can i see doctor chen").intent, Some(Intent::Book));
    assert_eq!(
        hear("actually is there anything with doctor chen that day").intent,
        Some(Intent::Availability)
    );
    assert!(hear("what are your hours").clinic_hours);
    assert_eq!(hear("what are your hours").intent, Some(Intent::DoctorInfo));
}

#[test]
fn doctor_names_with_small_slips() {
    assert_eq!(
        hear("book with doctor patil").doctor.as_deref(),
        Some("patel")
    );
    assert_eq!(
        hear("doctor emily chen please").doctor.as_deref(),
        Some("emily chen")
    );
    assert_eq!(hear("when can i come in").doctor, None, "'when' is no Chen");
}

#[test]
fn questions_about_him_or_her() {
    assert!(hear("what does he do").about_them);
    assert!(hear("and what are her hours").about_them);
    assert!(!hear("what are doctor chen's hours").about_them, "named");
    assert!(!hear("her name is maria").about_them, "no question");
}

#[test]
fn a_birth_year_said_again_replaces_the_first() {
    let h = hear("i'm michael brown, august thirtieth sixty six, sorry sixty five");
    assert_eq!(h.dob, Date::from_ymd(1965, 8, 30));
    let h = hear(
        "born june twenty fifth nineteen ninety one, no, nineteen ninety, and i need to cancel",
    );
    assert_eq!(h.dob, Date::from_ymd(1990, 6, 25));
    assert_eq!(h.intent, Some(Intent::Cancel));
    // A day corrected after a birth date is no birth year.
    let h = hear("born june twenty fifth ninety, book me tuesday, no, wednesday");
    assert_eq!(h.dob, Date::from_ymd(1990, 6, 25));
}

#[test]
fn holidays_are_dates() {
    let h = hear("yuki sato here, christmas eve ninety two");
    assert_eq!(h.dob, Date::from_ymd(1992, 12, 24));
    assert_eq!(h.name.as_deref(), Some("Yuki Sato"));
}

#[test]
fn a_move_splits_where_the_new_day_begins() {
    let names = vec!["Emily Chen".to_string()];
    let split = |t: &str| split_move(t, &names, today());
    assert_eq!(
        split("move my appointment with doctor chen to thursday"),
        Some((
            "move my appointment with doctor chen".into(),
            "to thursday".into()
        ))
    );
    assert_eq!(
        split("can i change my appointment from tuesday to next friday"),
        Some((
            "can i change my appointment from tuesday".into(),
            "to next friday".into()
        ))
    );
    // Not a move, or no new day.
    assert_eq!(split("i want to book for thursday"), None);
    assert_eq!(split("i need to move my appointment"), None);
}

#[test]
fn asking_who_a_specialist_is() {
    assert_eq!(
        hear("i want to know who the eye doctor is").intent,
        Some(Intent::DoctorInfo)
    );
    assert_eq!(
        hear("i'd like to know who i'd be seeing about my knee").intent,
        Some(Intent::DoctorInfo)
    );
}

#[test]
fn the_title_as_recognisers_write_it() {
    let h = hear("is docker patel free on tuesday");
    assert_eq!(h.doctor.as_deref(), Some("patel"));
    // Still a doctor's title before a name only heard by its sound.
    assert!(hear("what days does dokkur chan work")
        .tokens
        .contains(&"doctor".to_string()));
}
