//! The receptionist's dialogue state: which task the caller wants, the details gathered so
//! far, and the question last asked. Each caller turn either asks for the next missing
//! detail, confirms, or calls a tool; tool results are read in [`super::results`].

use std::sync::Arc;

use serde_json::{json, Value};

use super::phrase;
use super::understand::{split_move, split_requests, understand, Heard, Intent};
use crate::domain::calendar::{Clock, Date, Time};
use crate::domain::dates::{DateExpr, PartOfDay};

/// What the brain does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Say(String),
    Call { name: &'static str, args: Value },
}

/// Free times of one doctor on one day, as offered to the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    /// "Dr. Priya Patel".
    pub doctor: String,
    pub date: Date,
    /// The times in the order said ("the first one" is the first of them).
    pub times: Vec<Time>,
    /// Every free time of the doctor that day: a caller may name one not said.
    pub free: Vec<Time>,
    /// How the times were said: "at 9, 9:30 and 10 AM", "from 9 to 11:30 AM".
    pub said: String,
}

/// The question the caller is answering.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Pending {
    #[default]
    Nothing,
    Name,
    Dob,
    Doctor,
    /// "Did you mean Doctor Patel?" about a name only heard by its sound (one surname, or two
    /// as likely); `info`: the caller asked about the doctor rather than for an appointment.
    ConfirmDoctor {
        surnames: Vec<String>,
        info: bool,
    },
    Date,
    ConfirmBook,
    ConfirmCancel,
    ChooseSlot(Vec<Offer>),
    ChooseAppointment(Vec<Value>),
    /// After doctor information: "Would you like to book?" (with that doctor, if one).
    OfferBooking(Option<String>),
    /// A booking found no record for the name and birth date: "Is this your first visit?"
    NewPatient,
    AnythingElse,
}

/// The details of the current request.
#[derive(Clone, Debug, Default)]
pub struct Task {
    pub intent: Option<Intent>,
    /// A doctor query: surname, full title, speciality or "any".
    pub doctor: Option<String>,
    pub date: Option<DateExpr>,
    pub time: Option<Time>,
    pub part: Option<PartOfDay>,
    /// Why the caller is coming in; optional (a booking without one is a general visit).
    pub reason: Option<String>,
    /// A patient-information request is about the record, not the appointments.
    pub details: bool,
    pub appointment_id: Option<i64>,
    /// The caller wants to move an appointment: cancel it, then book a new time.
    pub rebook: bool,
    /// The slot was just seen free with this doctor ("Dr. ...") on this day.
    pub checked: Option<(String, Date)>,
    /// Moving an appointment: the new day asked for, booked once the old one is cancelled.
    pub move_to: Option<DateExpr>,
}

/// A question about doctors, answered beside whatever the caller was doing: it never
/// changes the task, and afterwards the question it interrupted is asked again.
#[derive(Clone, Debug, Default)]
pub struct Inquiry {
    /// The doctor or speciality asked about; none for all doctors.
    pub doctor: Option<String>,
    /// "Which doctors speak Spanish".
    pub language: Option<String>,
    /// What the doctor does, rather than when they work.
    pub about: bool,
    /// When the clinic is open.
    pub clinic_hours: bool,
    /// The question that was pending when the caller asked.
    pub resume: Pending,
}

/// Who the caller is (kept across requests in one call).
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub name: Option<String>,
    pub dob: Option<Date>,
    pub partial_dob: Option<(u32, u32)>,
    /// The caller said this is their first visit: a booking makes their record.
    pub new_patient: bool,
}

/// The reason stored when the caller gave none.
pub const GENERAL_VISIT: &str = "general appointment";

pub const GREETING: &str = "Hello, thanks for calling Riverside Medical Clinic. I can check \
availability, book or cancel an appointment, look up your details, or tell you about our doctors. \
How can I help?";
const NOT_UNDERSTOOD: &str = "Sorry, I didn't quite get that. I can check availability, book or \
cancel an appointment, look up your details, or tell you about our doctors. What would you like to do?";
const OUT_OF_SCOPE_REPLY: &str = "I'm sorry, that's not something I can help with here: I \
can't give medical advice or handle prescriptions or bills. I can check availability, book or \
cancel an appointment, look up your details, or tell you about our doctors.";
const NOT_HEARD: &str = "Sorry, I didn't hear anything. How can I help?";

/// Which details of an utterance the pending question already used.
#[derive(Default)]
pub(super) struct Used {
    pub doctor: bool,
    pub dates: bool,
    pub intent: bool,
}

pub(super) enum Flow {
    Done(Action),
    Continue(Used),
}

#[derive(Clone)]
pub struct Dialogue {
    pub task: Task,
    pub caller: Caller,
    pub pending: Pending,
    pub doctor_names: Vec<String>,
    pub clock: Arc<dyn Clock>,
    pub last_reply: String,
    /// The doctor question being looked up.
    pub inquiry: Option<Inquiry>,
    /// The one doctor last talked about, for "what are her hours".
    pub last_doctor: Option<String>,
    /// The day last talked about, for "anything that afternoon".
    pub last_date: Option<DateExpr>,
    /// A second request said with the first ("... and is she free thursday"), answered once
    /// the first has been.
    pub follow_up: Option<String>,
    /// The follow-up is a cancellation put after the search for a new time ("cancel my
    /// Monday and see if she has Friday instead"): it goes on whatever the search left
    /// pending, and times found wait in `set_aside` until it is done.
    pub cancel_after: bool,
    /// Words said before the next tool call: the answer to what was settled first (a first
    /// request, a cancellation before the booking that follows it).
    pub lead: Option<String>,
    /// A booking's offered times, set aside while a cancellation is settled; offered again
    /// once it is done or declined.
    pub set_aside: Option<(Task, Pending)>,
}

impl Dialogue {
    pub fn new(doctor_names: Vec<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            task: Task::default(),
            caller: Caller::default(),
            pending: Pending::Nothing,
            doctor_names,
            clock,
            last_reply: String::new(),
            inquiry: None,
            last_doctor: None,
            last_date: None,
            follow_up: None,
            cancel_after: false,
            lead: None,
            set_aside: None,
        }
    }

    pub fn today(&self) -> Date {
        self.clock.now().date
    }

    pub fn say(&mut self, text: impl Into<String>) -> Action {
        let text = text.into();
        self.last_reply = text.clone();
        Action::Say(text)
    }

    pub fn ask(&mut self, pending: Pending, text: impl Into<String>) -> Action {
        self.pending = pending;
        self.say(text)
    }

    /// Finish the request and offer more help.
    pub fn done(&mut self, text: impl Into<String>) -> Action {
        self.task = Task::default();
        self.set_aside = None;
        let text = format!("{} Is there anything else I can help with?", text.into());
        self.ask(Pending::AnythingElse, text)
    }

    /// One caller turn.
    pub fn on_user(&mut self, text: &str) -> Action {
        let (mut text, mut rest) = match split_requests(text, &self.doctor_names, self.today()) {
            Some((first, rest)) => (first, Some(rest)),
            None => match split_move(text, &self.doctor_names, self.today()) {
                Some((old, new)) => (old, Some(new)),
                None => (text.to_string(), None),
            },
        };
        // A cancellation with a new time asked for: look for the new time first, so that
        // the caller decides with the choice in hand and never loses an appointment for
        // nothing; the cancellation follows (see `BuiltinReceptionist::go_on`).
        self.cancel_after = false;
        let (mut moved_doctor, mut move_to) = (None, None);
        if let Some(second) = rest.clone() {
            let first = understand(&text, &self.doctor_names, self.today());
            let next = understand(&second, &self.doctor_names, self.today());
            let searches = matches!(next.intent, Some(Intent::Availability | Intent::Book))
                || (next.intent.is_none() && !next.dates.is_empty());
            if first.reschedule && first.doctor.is_none() && next.doctor.is_none() {
                // "move my tuesday appointment to friday": the doctor is known once the
                // appointment is found; the new day waits for the booking after the cancel.
                move_to = next.dates.first().copied();
                rest = None;
            } else if first.intent == Some(Intent::Cancel) && searches {
                if first.doctor.is_some() {
                    // "... with doctor rossi and check if she has tuesday".
                    self.last_doctor = first.doctor.clone();
                }
                if first.reschedule {
                    // "move my appointment with doctor wilson to thursday": the same doctor.
                    moved_doctor = first.doctor.clone();
                }
                self.cancel_after = true;
                rest = Some(std::mem::replace(&mut text, second));
            }
        }
        self.follow_up = rest;
        let mut h = understand(&text, &self.doctor_names, self.today());
        if h.doctor.is_none() && h.misheard_doctor.is_empty() {
            h.doctor = moved_doctor;
        }
        // "does he have anything that afternoon": the day just talked about.
        if h.dates.is_empty()
            && h.any(&[
                "that afternoon",
                "that morning",
                "that evening",
                "that day",
                "the same day",
            ])
        {
            h.dates.extend(self.last_date);
        }
        if let Some(d) = h.dates.first() {
            self.last_date = Some(*d);
        }
        // "is she free thursday": the doctor just talked about.
        let pronoun = h.any(&["she", "he", "her", "him", "his", "them", "they"]);
        let books = matches!(h.intent, Some(Intent::Availability | Intent::Book))
            || (h.intent.is_none() && !h.dates.is_empty());
        // "can she see my son": the son is the patient, "she" the doctor.
        let patient_named = h.doctor.as_deref() == Some("paediatrics")
            && h.any(&["she", "he", "her", "him"])
            && !h.any(&[
                "paediatrician",
                "pediatrician",
                "paediatrics",
                "pediatrics",
                "doctor",
                "specialist",
            ]);
        if (h.doctor.is_none() || patient_named) && h.misheard_doctor.is_empty() && pronoun && books
        {
            h.doctor = self.last_doctor.clone().or(h.doctor);
        }
        if h.tokens.is_empty() {
            return self.say(NOT_HEARD);
        }
        if h.repeat && h.intent.is_none() && !self.last_reply.is_empty() {
            return Action::Say(self.last_reply.clone());
        }
        if h.reset {
            self.task = Task::default();
            return self.ask(Pending::Nothing, "Okay, let's start over. How can I help?");
        }
        if h.bye && h.intent.is_none() {
            return self.farewell(&h);
        }
        if h.out_of_scope {
            return self.say(OUT_OF_SCOPE_REPLY);
        }
        if h.about_them {
            if let Some(d) = self.last_doctor.clone() {
                h.doctor = Some(d);
                h.intent = Some(Intent::DoctorInfo);
            }
        }
        if !h.misheard_doctor.is_empty() && h.doctor.is_none() {
            let surnames = h.misheard_doctor.clone();
            return self.confirm_doctor(&h, surnames);
        }
        if h.intent == Some(Intent::DoctorInfo) {
            // Whatever was asked before, a question about a doctor is answered first, and
            // never becomes the doctor of the booking in progress.
            return self.inquire(&h);
        }
        let pending = std::mem::take(&mut self.pending);
        let used = match self.contextual(pending, &h) {
            Flow::Done(action) => return action,
            Flow::Continue(used) => used,
        };
        self.merge(&h, &used);
        if move_to.is_some() {
            self.task.move_to = move_to;
        }
        if self.task.intent.is_none() {
            return self.without_intent(&h);
        }
        self.next_step("")
    }

    /// A doctor heard only by sound: keep the rest of the request and ask before using it.
    fn confirm_doctor(&mut self, h: &Heard, surnames: Vec<String>) -> Action {
        // "what days does doctor rasi work": a question about the doctor, though the name
        // (which would have made it one) is still unconfirmed.
        let info = h.intent == Some(Intent::DoctorInfo)
            || (h.intent.is_none() && h.dates.is_empty() && h.any(super::words::DOCTOR_INFO));
        if !info {
            self.pending = Pending::Nothing;
            self.merge(h, &Used::default());
        }
        let names: Vec<String> = surnames.iter().map(|s| phrase::doctor(s)).collect();
        let text = format!("Sorry, did you mean {}?", names.join(" or "));
        self.ask(Pending::ConfirmDoctor { surnames, info }, text)
    }

    /// The search for a new time is answered and the cancellation said before it comes
    /// next: keep the times offered for after it.
    pub fn set_aside_search(&mut self) {
        if !std::mem::take(&mut self.cancel_after) {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let task = std::mem::take(&mut self.task);
        if matches!(pending, Pending::ChooseSlot(_)) {
            self.set_aside = Some((task, pending));
        }
    }

    /// Whether a second request may be answered now: the first left no question that the
    /// caller must answer before anything else happens (a confirmation, their details).
    pub fn may_go_on(&self) -> bool {
        self.cancel_after
            || matches!(
                self.pending,
                Pending::Nothing
                    | Pending::AnythingElse
                    | Pending::OfferBooking(_)
                    | Pending::ChooseSlot(_)
            )
    }

    pub(super) fn set_name(&mut self, name: String) {
        if self.caller.name.as_deref() != Some(name.as_str()) {
            self.caller.name = Some(name);
            self.caller.dob = None;
            self.caller.partial_dob = None;
        }
    }

    /// Take what the utterance says into the task and caller details.
    fn merge(&mut self, h: &Heard, used: &Used) {
        if let (Some(new), false) = (h.intent, used.intent) {
            let old = self.task.intent;
            let keep = matches!(
                (old, new),
                (None, _)
                    | (Some(Intent::Availability), Intent::Book)
                    | (Some(Intent::Book), Intent::Availability)
            );
            if !keep && old != Some(new) {
                self.task = Task::default();
            }
            self.task.intent = Some(new);
        }
        // "it's for a rash" after "with doctor chen": the rash says what the visit is about,
        // not that the caller wants another doctor.
        let named = |d: &str| {
            self.doctor_names
                .iter()
                .any(|n| n.to_lowercase().ends_with(d))
        };
        let reason_only = h.doctor.as_deref().is_some_and(|d| {
            crate::domain::directory::speciality_in(d) == Some(d)
                && !h.any(&["doctor", "dr", "specialist", "instead", "someone"])
        }) && self.task.doctor.as_deref().is_some_and(named);
        if let (Some(d), false, false) = (&h.doctor, used.doctor, reason_only) {
            if d != "any" {
                self.last_doctor = Some(d.clone());
            }
            if self.task.doctor.as_ref() != Some(d) {
                self.task.doctor = Some(d.clone());
                self.task.checked = None;
            }
        }
        if let (Some(d), false) = (h.dates.first(), used.dates) {
            self.task.date = Some(*d);
            self.task.checked = None;
        }
        if h.asap && self.task.date.is_none() {
            self.task.date = Some(DateExpr::Today);
        }
        // A bare "3" is a time only while booking ("make it 3 instead").
        let booking = self.task.intent == Some(Intent::Book);
        if let Some(t) = h.time.or(h.bare_time.filter(|_| booking)) {
            if self.task.time != Some(t) {
                self.task.time = Some(t);
                self.task.checked = None;
            }
        }
        if h.part.is_some() && !h.greeting {
            self.task.part = h.part;
            if h.time.is_none() {
                // "in the afternoon" replaces an exact time asked for before.
                self.task.time = None;
                self.task.checked = None;
            }
        }
        if let Some(n) = &h.name {
            self.set_name(n.clone());
        }
        if let Some(d) = h.dob {
            self.caller.dob = Some(d);
        }
        if let Some(p) = h.partial_dob {
            self.caller.partial_dob = Some(p);
        }
        if let Some(r) = &h.reason {
            self.task.reason = Some(r.clone());
        }
        if h.reschedule {
            self.task.rebook = true;
        }
        if h.details {
            self.task.details = true;
        }
    }

    pub(super) fn farewell(&mut self, h: &Heard) -> Action {
        self.task = Task::default();
        self.pending = Pending::Nothing;
        if h.thanks {
            self.say("You're welcome. Thanks for calling, and have a good day. Goodbye!")
        } else {
            self.say("Thanks for calling. Have a good day. Goodbye!")
        }
    }

    /// No task yet: infer one from the details, or greet, or say what we can do.
    fn without_intent(&mut self, h: &Heard) -> Action {
        let t = &self.task;
        let inferred = if t.time.is_some() && (t.doctor.is_some() || t.date.is_some()) {
            Some(Intent::Book)
        } else if t.date.is_some() {
            Some(Intent::Availability)
        } else {
            None
        };
        if let Some(i) = inferred {
            self.task.intent = Some(i);
            return self.next_step("");
        }
        if let Some(d) = self.task.doctor.clone().filter(|d| d != "any") {
            let who = if d.contains(' ')
                || self
                    .doctor_names
                    .iter()
                    .any(|n| n.to_lowercase().ends_with(&d))
            {
                phrase::doctor(&d)
            } else {
                format!("someone in {d}")
            };
            return self.ask(
                Pending::Nothing,
                format!("Would you like to book with {who}, check their availability, or hear about their hours?"),
            );
        }
        if h.bye || (h.thanks && h.only_courtesy()) {
            return self.farewell(h);
        }
        if h.greeting && h.only_courtesy() {
            return self.say(GREETING);
        }
        if (h.yes || h.no) && h.only_courtesy() {
            return self.say("How can I help you today?");
        }
        if self.caller.name.is_some() && h.only_courtesy() {
            return self.say("Thank you. How can I help you today?");
        }
        self.say(NOT_UNDERSTOOD)
    }

    /// Ask for the next missing detail, confirm, or call a tool.
    pub fn next_step(&mut self, prefix: &str) -> Action {
        let lead = |s: &str| {
            if prefix.is_empty() {
                s.to_string()
            } else {
                format!("{prefix} {s}")
            }
        };
        match self.task.intent {
            None => self.say(lead("How can I help you?")),
            Some(Intent::DoctorInfo) => {
                let doctor = self.task.doctor.take();
                self.task = Task::default();
                self.look_up_doctors(Inquiry {
                    doctor,
                    ..Inquiry::default()
                })
            }
            Some(Intent::Availability) => match self.task.date {
                None => self.ask(Pending::Date, lead("Sure. Which day would you like?")),
                Some(_) => self.availability_call(),
            },
            Some(Intent::Book) => {
                if self.task.doctor.is_none() {
                    return self.ask(
                        Pending::Doctor,
                        lead("Which doctor would you like to see, or what kind of specialist?"),
                    );
                }
                if self.task.date.is_none() {
                    let text = match self.booking_doctor() {
                        Some(d) => format!("What day would you like to see {d}?"),
                        None => "What day would you like to come in?".to_string(),
                    };
                    return self.ask(Pending::Date, lead(&text));
                }
                if self.task.checked.is_none() {
                    return self.availability_call();
                }
                if self.caller.name.is_none() {
                    return self.ask(
                        Pending::Name,
                        lead("Can I have your full name and date of birth, please?"),
                    );
                }
                if self.caller.dob.is_none() {
                    return self.ask(Pending::Dob, lead("And your date of birth?"));
                }
                // The reason is optional: asking for it separately invites "yes, book it"
                // as an answer, and a booking needs none.
                let text = self.confirm_booking_text();
                self.ask(Pending::ConfirmBook, lead(&text))
            }
            Some(Intent::Cancel | Intent::PatientInfo) => {
                if self.caller.name.is_none() {
                    let text = if self.task.intent == Some(Intent::Cancel) {
                        "I can help with that. First, can I have your full name and date of birth?"
                    } else {
                        "Sure. First I need to verify your identity. Can I have your full name and date of birth?"
                    };
                    return self.ask(Pending::Name, lead(text));
                }
                if self.caller.dob.is_none() {
                    return self.ask(Pending::Dob, lead("And your date of birth?"));
                }
                Action::Call {
                    name: "get_patient_info",
                    args: self.identity_args(),
                }
            }
        }
    }

    pub fn identity_args(&self) -> Value {
        json!({
            "patient_name": self.caller.name.clone().unwrap_or_default(),
            "date_of_birth": self.caller.dob.map(|d| d.to_string()).unwrap_or_default(),
        })
    }

    fn availability_call(&mut self) -> Action {
        let mut args = json!({ "date": self.task.date.map(DateExpr::phrase).unwrap_or_default() });
        if let Some(d) = self.task.doctor.as_deref().filter(|d| *d != "any") {
            args["doctor"] = json!(d);
        }
        if let Some(t) = self.task.time {
            args["time_of_day"] = json!(t.to_string());
        } else if let Some(p) = self.task.part {
            args["time_of_day"] = json!(p.name());
        }
        Action::Call {
            name: "check_availability",
            args,
        }
    }

    /// "Shall I book it, for knee pain, under the name John Smith?" after the slot was just
    /// said.
    pub(super) fn short_confirmation(&self) -> String {
        let reason = self
            .task
            .reason
            .as_deref()
            .map(|r| format!(", for {}", spoken_reason(r)))
            .unwrap_or_default();
        format!(
            "Shall I book it{reason}, under the name {}?",
            self.caller.name.clone().unwrap_or_default()
        )
    }

    fn confirm_booking_text(&self) -> String {
        format!(
            "Just to confirm: {}. Shall I book it?",
            self.booking_summary()
        )
    }

    /// "Doctor Patel on Monday, March 9 at 10 AM, for knee pain, under the name John Smith".
    pub(super) fn booking_summary(&self) -> String {
        let (doctor, day) = self
            .task
            .checked
            .clone()
            .unwrap_or_else(|| (String::new(), self.today()));
        let time = self.task.time.map(Time::spoken).unwrap_or_default();
        let reason = self
            .task
            .reason
            .as_deref()
            .map(|r| format!(", for {}", spoken_reason(r)))
            .unwrap_or_default();
        format!(
            "{} on {} at {time}{reason}, under the name {}",
            phrase::doctor(&doctor),
            day.spoken(),
            self.caller.name.clone().unwrap_or_default(),
        )
    }

    pub(super) fn schedule_call(&mut self) -> Action {
        let (doctor, day) = self
            .task
            .checked
            .clone()
            .unwrap_or_else(|| (String::new(), self.today()));
        let mut args = self.identity_args();
        args["doctor"] = json!(doctor);
        args["date"] = json!(day.to_string());
        args["time"] = json!(self.task.time.map(|t| t.to_string()).unwrap_or_default());
        args["reason"] = json!(self.task.reason.as_deref().unwrap_or(GENERAL_VISIT));
        if self.caller.new_patient {
            args["new_patient"] = json!(true);
        }
        Action::Call {
            name: "schedule_appointment",
            args,
        }
    }

    pub(super) fn cancel_call(&mut self) -> Action {
        let mut args = self.identity_args();
        args["appointment_id"] = json!(self.task.appointment_id);
        Action::Call {
            name: "cancel_appointment",
            args,
        }
    }
}

/// A reason as said after "for": "a check-up", "knee pain".
fn spoken_reason(reason: &str) -> String {
    if reason == "check-up" {
        "a check-up".to_string()
    } else {
        reason.to_string()
    }
}

/// A date with its year, as a date expression the tools read back exactly.
pub fn exact(d: Date) -> DateExpr {
    DateExpr::MonthDay {
        month: d.month(),
        day: d.day(),
        year: Some(d.year()),
    }
}
