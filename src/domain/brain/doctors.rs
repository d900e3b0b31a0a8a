//! Questions about doctors ("what are doctor Chen's hours", "who are your cardiologists"),
//! answered beside whatever the caller was doing: the lookup never touches the booking in
//! progress, and after the answer the interrupted question is asked again.

use serde_json::{json, Value};

use super::dialogue::{Action, Dialogue, Inquiry, Pending, Task};
use super::phrase;
use super::understand::Heard;

/// How the answer about the clinic's hours begins.
const CLINIC_HOURS_ANSWER: &str = "Our doctors see patients";

impl Dialogue {
    /// Look up what the caller asked about, remembering the question it interrupted.
    pub(super) fn inquire(&mut self, h: &Heard) -> Action {
        let resume = std::mem::take(&mut self.pending);
        self.look_up_doctors(Inquiry {
            doctor: h.doctor.clone(),
            language: h.language.clone(),
            about: h.about,
            clinic_hours: h.clinic_hours,
            resume,
        })
    }

    pub(super) fn look_up_doctors(&mut self, inquiry: Inquiry) -> Action {
        let args = match inquiry.doctor.as_deref().filter(|d| *d != "any") {
            Some(d) => json!({ "doctor": d }),
            None => json!({}),
        };
        self.inquiry = Some(inquiry);
        Action::Call {
            name: "get_doctor_info",
            args,
        }
    }

    /// The result of `get_doctor_info`.
    pub(super) fn on_doctors(&mut self, v: &Value) -> Action {
        let q = self.inquiry.take().unwrap_or_default();
        let mut doctors: Vec<Value> = v["doctors"].as_array().cloned().unwrap_or_default();
        let asked = q.doctor.clone().filter(|d| d != "any");
        let single = |ds: &[Value]| match ds {
            [d] => d["doctor"].as_str().map(str::to_string),
            _ => None,
        };
        if let Some(lang) = &q.language {
            doctors.retain(|d| {
                d["languages"]
                    .as_array()
                    .is_some_and(|ls| ls.iter().any(|l| l == lang.as_str()))
            });
            let names: Vec<String> = doctors.iter().map(doctor_name).collect();
            let text = match names.len() {
                0 => format!("Sorry, none of our doctors speak {lang}."),
                1 => format!("{} speaks {lang}.", names[0]),
                _ => format!("{} speak {lang}.", phrase::join_and(&names)),
            };
            let offer = single(&doctors);
            if let Some(d) = &offer {
                self.last_doctor = Some(d.clone());
            }
            return self.after_answer(text, offer, q.resume);
        }
        let text = match doctors.as_slice() {
            [] => "Sorry, I couldn't find that doctor.".to_string(),
            [d] if q.about => about(d),
            [d] => format!(
                "{} works in {} and sees patients {}.",
                doctor_name(d),
                d["speciality"].as_str().unwrap_or("our clinic"),
                phrase::weekly_hours(&d["hours"], &days_of(d))
            ),
            many if asked.is_some() => {
                let parts: Vec<String> = many
                    .iter()
                    .map(|d| {
                        format!(
                            "{}, who works {}",
                            doctor_name(d),
                            phrase::join_and(&days_of(d))
                        )
                    })
                    .collect();
                // ", and" between clauses that have their own "and" in them.
                let list = match parts.as_slice() {
                    [init @ .., last] if !init.is_empty() => {
                        format!("{}, and {last}", init.join(", "))
                    }
                    _ => parts.join(""),
                };
                format!(
                    "For {} we have {list}.",
                    many[0]["speciality"].as_str().unwrap_or("that"),
                )
            }
            many if q.clinic_hours => format!(
                "{CLINIC_HOURS_ANSWER} {}.",
                phrase::weekly_hours(&clinic_hours(many), &clinic_days(many))
            ),
            many => {
                // Nine names are too many to listen to; the specialities say what we cover.
                let mut specialities: Vec<String> = Vec::new();
                for d in many {
                    let s = d["speciality"].as_str().unwrap_or_default().to_string();
                    if !s.is_empty() && !specialities.contains(&s) {
                        specialities.push(s);
                    }
                }
                format!(
                    "We have {} doctors, in {}.",
                    phrase::count(many.len()),
                    phrase::join_and(&specialities)
                )
            }
        };
        // "Who's free among them": the one doctor, or the speciality asked about.
        let talked_about = single(&doctors).or(asked.clone().filter(|_| !doctors.is_empty()));
        if let Some(d) = talked_about {
            self.last_doctor = Some(d);
        }
        let offer = single(&doctors).or(asked);
        self.after_answer(text, offer, q.resume)
    }

    /// `get_doctor_info` failed: say so, and carry on with what the caller was doing.
    pub(super) fn on_doctors_error(&mut self, code: &str, v: &Value) -> Action {
        let q = self.inquiry.take().unwrap_or_default();
        let text = if code == "unknown_doctor" {
            let list = v["error"]
                .as_str()
                .and_then(|m| m.split("our specialities are ").nth(1))
                .map(|l| phrase::join_and(&l.split(", ").map(str::to_string).collect::<Vec<_>>()))
                .unwrap_or_else(|| "several specialities".to_string());
            format!("Sorry, I couldn't find that doctor. We have doctors in {list}.")
        } else {
            log::warn!("built-in receptionist: get_doctor_info failed with {code}: {v}");
            "Sorry, something went wrong looking that up.".to_string()
        };
        self.after_answer(text, None, q.resume)
    }

    /// The answer, then the interrupted question again; with nothing in progress, an offer
    /// to book.
    fn after_answer(&mut self, text: String, doctor: Option<String>, resume: Pending) -> Action {
        if let Some(question) = self.resume_question(&resume) {
            return self.ask(resume, format!("{text} {question}"));
        }
        self.task = Task::default();
        let offer = if doctor.is_some() || text.starts_with(CLINIC_HOURS_ANSWER) {
            "Would you like to book an appointment?"
        } else {
            "Would you like to book with one of them?"
        };
        self.ask(Pending::OfferBooking(doctor), format!("{text} {offer}"))
    }

    /// The interrupted question, asked again briefly; none when nothing was in progress.
    fn resume_question(&self, resume: &Pending) -> Option<String> {
        self.task.intent?;
        let with = self
            .booking_doctor()
            .map(|d| format!(" with {d}"))
            .unwrap_or_default();
        let text = match resume {
            Pending::Nothing | Pending::AnythingElse | Pending::OfferBooking(_) => return None,
            Pending::Name => "Now, can I have your full name and date of birth?".to_string(),
            Pending::Dob => "Now, what's your date of birth?".to_string(),
            Pending::Doctor | Pending::ConfirmDoctor { .. } => {
                "Now, which doctor would you like to see?".to_string()
            }
            Pending::Date => format!("Now, what day would you like to come in{with}?"),
            Pending::ConfirmBook => format!("Now, shall I book {}?", self.booking_summary()),
            Pending::ChooseSlot(offers) => {
                let first = offers.first().map(|o| o.doctor.as_str());
                if offers.iter().all(|o| Some(o.doctor.as_str()) == first) {
                    format!(
                        "Now, which time would you like with {}?",
                        phrase::doctor(first.unwrap_or_default())
                    )
                } else {
                    "Now, which of those times would you like?".to_string()
                }
            }
            Pending::ConfirmCancel => "Now, shall I cancel that appointment?".to_string(),
            Pending::NewPatient => "Now, is this your first visit with us?".to_string(),
            Pending::ChooseAppointment(_) => {
                "Now, which appointment would you like to cancel?".to_string()
            }
        };
        Some(text)
    }

    /// "Doctor Patel" for the booking in progress, when it names one doctor.
    pub(super) fn booking_doctor(&self) -> Option<String> {
        if let Some((d, _)) = &self.task.checked {
            return Some(phrase::doctor(d));
        }
        let d = self.task.doctor.as_deref()?;
        let on_roster = self
            .doctor_names
            .iter()
            .any(|n| n.to_lowercase().ends_with(d));
        on_roster.then(|| phrase::doctor(d))
    }
}

/// "Doctor Chen" from a doctor object.
fn doctor_name(d: &Value) -> String {
    phrase::doctor(d["doctor"].as_str().unwrap_or_default())
}

/// The days any doctor works, in week order.
fn clinic_days(doctors: &[Value]) -> Vec<String> {
    const WEEK: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    WEEK.iter()
        .filter(|day| doctors.iter().any(|d| days_of(d).iter().any(|x| x == *day)))
        .map(|d| d.to_string())
        .collect()
}

/// Every doctor's hours as one list: the clinic is open from the earliest start to the
/// latest end of each day.
fn clinic_hours(doctors: &[Value]) -> Value {
    Value::Array(
        doctors
            .iter()
            .flat_map(|d| d["hours"].as_array().cloned().unwrap_or_default())
            .collect(),
    )
}

fn days_of(d: &Value) -> Vec<String> {
    d["works_on"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// "Doctor Chen is a dermatologist for skin, hair and nail conditions, ..., and works
/// Monday, Wednesday and Friday." from the doctor's bio.
fn about(d: &Value) -> String {
    let name = doctor_name(d);
    let days = phrase::join_and(&days_of(d));
    let bio = d["bio"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .trim_end_matches('.');
    let mut chars = bio.chars();
    let Some(first) = chars.next() else {
        return format!(
            "{name} works in {} and sees patients {days}.",
            d["speciality"].as_str().unwrap_or("our clinic")
        );
    };
    let bio = first.to_lowercase().collect::<String>() + chars.as_str();
    let article = if bio.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{name} is {article} {bio}, and works {days}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clinic_hours_span_all_doctors() {
        let doctors = [
            json!({"works_on": ["Tuesday"], "hours": [{"day": "Tuesday", "from": "09:00", "to": "12:00"}]}),
            json!({"works_on": ["Monday", "Tuesday"], "hours": [
                {"day": "Monday", "from": "08:00", "to": "17:00"},
                {"day": "Tuesday", "from": "13:00", "to": "17:00"}]}),
        ];
        let days = clinic_days(&doctors);
        assert_eq!(days, ["Monday", "Tuesday"]);
        assert_eq!(
            phrase::weekly_hours(&clinic_hours(&doctors), &days),
            "Monday from 8 AM to 5 PM, and Tuesday from 9 AM to 5 PM"
        );
    }

    #[test]
    fn about_reads_the_bio_as_a_sentence() {
        let d = json!({
            "doctor": "Dr. Kenji Tanaka",
            "bio": "Ophthalmologist for eye exams, cataracts and glaucoma.",
            "works_on": ["Wednesday", "Thursday"],
        });
        assert_eq!(
            about(&d),
            "Doctor Tanaka is an ophthalmologist for eye exams, cataracts and glaucoma, and works Wednesday and Thursday."
        );
    }
}
