//! Reading tool results back into the dialogue and phrasing them for the caller.

use serde_json::Value;

use super::dialogue::{Action, Dialogue, Offer, Pending, Task};
use super::phrase;
use super::understand::Intent;
use crate::domain::calendar::{Date, Time};

/// Offers from `{"doctors": [{"doctor", "slots"}...]}` entries with free times: at most three
/// doctors. One doctor's long day is said as ranges when it can be ("from 9 to 11:30 AM and
/// from 1 to 4:30 PM"); otherwise three times (two each for several doctors), nearest `near`
/// when given, else the earliest.
fn offers(entries: &Value, date: Date, near: Option<Time>) -> Vec<Offer> {
    let found: Vec<(String, Vec<Time>)> = entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let free = phrase::json_times(&e["slots"]);
            let doctor = e["doctor"].as_str().unwrap_or_default().to_string();
            (!free.is_empty()).then_some((doctor, free))
        })
        .take(3)
        .collect();
    let each = if found.len() > 1 { 2 } else { 3 };
    let alone = found.len() == 1;
    found
        .into_iter()
        .map(|(doctor, free)| {
            let summary = (alone && near.is_none() && free.len() > 3)
                .then(|| phrase::ranges(&free))
                .flatten();
            let (times, said) = match summary {
                Some(r) => (free.clone(), r),
                None => {
                    let t = phrase::pick(&free, near, each);
                    let said = format!("at {}", phrase::times(&t));
                    (t, said)
                }
            };
            Offer {
                doctor,
                date,
                times,
                free,
                said,
            }
        })
        .collect()
}

/// "Doctor Patel is free at 9, 9:30 and 10 AM" / "... at 9 AM, and Doctor Okafor at 2 PM".
fn offers_text(offers: &[Offer]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (i, o) in offers.iter().enumerate() {
        let verb = if i == 0 { " is free" } else { "" };
        let and = if i > 0 && i + 1 == offers.len() {
            "and "
        } else {
            ""
        };
        parts.push(format!(
            "{and}{}{verb} {}",
            phrase::doctor(&o.doctor),
            o.said
        ));
    }
    parts.join(", ")
}

fn date_of(v: &Value) -> Option<Date> {
    v["date"].as_str().and_then(Date::parse_iso)
}

impl Dialogue {
    /// A tool's result: update the state and say what it means, or call the next tool.
    pub fn on_tool_result(&mut self, tool: &str, result: &Value) -> Action {
        if tool == "get_doctor_info" && result.get("error").is_some() {
            let code = result["code"].as_str().unwrap_or("internal");
            return self.on_doctors_error(code, result);
        }
        if let Some(code) = result["code"]
            .as_str()
            .filter(|_| result.get("error").is_some())
        {
            if tool == "schedule_appointment" && code == "not_verified" && !self.caller.new_patient
            {
                return self.ask(
                    Pending::NewPatient,
                    "I couldn't find a record under that name and date of birth. Is this your first visit with us?",
                );
            }
            return self.on_error(code, result);
        }
        if result.get("error").is_some() {
            return self.on_error("internal", result);
        }
        match tool {
            "check_availability" => self.on_availability(result),
            "schedule_appointment" => {
                let a = &result["appointment"];
                let id = a["id"]
                    .as_i64()
                    .map(|i| format!(" Your appointment number is {i}."))
                    .unwrap_or_default();
                self.done(format!("You're all set {}.{id}", phrase::appointment(a)))
            }
            "cancel_appointment" => {
                let a = &result["appointment"];
                let said = format!(
                    "Done. Your appointment {} is cancelled.",
                    phrase::appointment(a)
                );
                if let Some(action) = self.resume_set_aside(&said) {
                    return action;
                }
                if !self.task.rebook {
                    return self.done(said);
                }
                // Moving an appointment: book a new time with the same doctor and reason.
                self.task = Task {
                    intent: Some(Intent::Book),
                    doctor: a["doctor"].as_str().map(str::to_string),
                    reason: a["reason"].as_str().map(str::to_string),
                    date: self.task.move_to,
                    ..Task::default()
                };
                let said = format!("{said} Now let's find a new time.");
                match self.next_step(&said) {
                    call @ Action::Call { .. } => {
                        self.lead = Some(said);
                        call
                    }
                    reply => reply,
                }
            }
            "get_patient_info" => self.on_patient(result),
            "get_doctor_info" => self.on_doctors(result),
            _ => self.say("Sorry, something went wrong on my side. Could you say that again?"),
        }
    }

    /// After a cancellation was settled: the times found before it, offered again.
    pub(super) fn resume_set_aside(&mut self, said: &str) -> Option<Action> {
        let (task, pending) = self.set_aside.take()?;
        let Pending::ChooseSlot(offers) = &pending else {
            return None;
        };
        let day = offers.first()?.date.spoken();
        let text = format!(
            "{said} On {day}, {}. Which time would you like?",
            offers_text(offers)
        );
        self.task = task;
        Some(self.ask(pending, text))
    }

    fn on_availability(&mut self, v: &Value) -> Action {
        if let Some([one]) = v["doctors"].as_array().map(Vec::as_slice) {
            // "What are her hours?" next is about this doctor.
            self.last_doctor = one["doctor"].as_str().map(str::to_string);
        }
        let Some(date) = date_of(v) else {
            return self
                .say("Sorry, something went wrong while checking. Which day would you like?");
        };
        let day = date.spoken();
        let wanted = self.task.time.filter(|_| v.get("requested_time").is_some());
        if let Some(t) = wanted {
            if v["requested_time_free"] == Value::Bool(true) {
                let doctor = v["doctors"]
                    .as_array()
                    .and_then(|es| {
                        es.iter()
                            .find(|e| phrase::json_times(&e["slots"]).contains(&t))
                    })
                    .and_then(|e| e["doctor"].as_str())
                    .unwrap_or_default()
                    .to_string();
                let said = format!(
                    "{} is free on {day} at {}.",
                    phrase::doctor(&doctor),
                    t.spoken()
                );
                if self.task.intent == Some(Intent::Book) {
                    self.task.checked = Some((doctor, date));
                    let good = format!("Good news, {said}");
                    if self.caller.name.is_some() && self.caller.dob.is_some() {
                        // Everything was said already: one short question, not a recital.
                        let text = format!("{good} {}", self.short_confirmation());
                        return self.ask(Pending::ConfirmBook, text);
                    }
                    return self.next_step(&good);
                }
                let offer = Offer {
                    doctor,
                    date,
                    times: vec![t],
                    free: vec![t],
                    said: format!("at {}", t.spoken()),
                };
                self.task.intent = Some(Intent::Book);
                return self.ask(
                    Pending::ChooseSlot(vec![offer]),
                    format!("Yes, {said} Would you like me to book it?"),
                );
            }
            let offers = offers(&v["doctors"], date, Some(t));
            if !offers.is_empty() {
                self.task.intent = Some(Intent::Book);
                let text = format!(
                    "Sorry, {} on {day} isn't available. {}. Would one of those work?",
                    t.spoken(),
                    offers_text(&offers)
                );
                return self.ask(Pending::ChooseSlot(offers), text);
            }
        }
        let found = offers(&v["doctors"], date, None);
        if !found.is_empty() {
            self.task.intent = Some(Intent::Book);
            let text = format!(
                "On {day}, {}. Which time would you like?",
                offers_text(&found)
            );
            return self.ask(Pending::ChooseSlot(found), text);
        }
        let mut text = String::new();
        if let Some(e) = v["doctors"]
            .as_array()
            .and_then(|es| es.first())
            .filter(|_| v["doctors"].as_array().is_some_and(|a| a.len() == 1))
        {
            let doctor = phrase::doctor(e["doctor"].as_str().unwrap_or_default());
            let days: Vec<String> = e["works_on"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_string))
                .collect();
            let works_that_day = days.iter().any(|d| *d == date.weekday().name());
            text = if works_that_day || days.is_empty() {
                format!("Sorry, {doctor} has no openings on {day}.")
            } else {
                format!(
                    "{doctor} doesn't see patients on {}s; {doctor} works {}.",
                    date.weekday().name(),
                    phrase::join_and(&days)
                )
            };
        }
        if text.is_empty() {
            text = format!("Sorry, there's nothing free on {day}.");
        }
        let next = &v["next_available"];
        if let Some(next_date) = date_of(next) {
            let found = offers(&next["doctors"], next_date, None);
            if !found.is_empty() {
                self.task.intent = Some(Intent::Book);
                let text = format!(
                    "{text} The next opening is on {}: {}. Would that work?",
                    next_date.spoken(),
                    offers_text(&found)
                );
                return self.ask(Pending::ChooseSlot(found), text);
            }
        }
        self.task.date = None;
        self.task.checked = None;
        self.ask(
            Pending::Date,
            format!("{text} Would you like to try a different day?"),
        )
    }

    fn on_patient(&mut self, v: &Value) -> Action {
        let p = &v["patient"];
        if let Some(name) = p["name"].as_str() {
            self.caller.name = Some(name.to_string());
        }
        let first = self.caller.name.clone().unwrap_or_default();
        let first = first.split(' ').next().unwrap_or_default().to_string();
        let upcoming: Vec<Value> = v["upcoming_appointments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if self.task.intent == Some(Intent::Cancel) {
            return self.cancel_choice(upcoming, &first);
        }
        let mut text = format!("Thank you, {first}.");
        if !self.task.details {
            // Asked about appointments: just those, to keep the reply short.
            text += &match upcoming.as_slice() {
                [] => " You have no upcoming appointments.".to_string(),
                [one] => format!(" Your next appointment is {}.", phrase::appointment(one)),
                many => {
                    let list: Vec<String> = many.iter().take(3).map(phrase::appointment).collect();
                    format!(
                        " You have {} upcoming appointments: {}.",
                        phrase::count(many.len()),
                        phrase::join_and(&list)
                    )
                }
            };
            return self.done(text);
        }
        if let Some(dob) = p["date_of_birth"].as_str().and_then(Date::parse_iso) {
            text += &format!(" I have your date of birth as {}", dob.spoken_with_year());
            if let Some(phone) = p["phone"].as_str() {
                text += &format!(", your phone number as {phone}");
            }
            if let Some(ins) = p["insurance"].as_str() {
                text += &format!(", and your insurance as {ins}");
            }
            text += ".";
        }
        if let Some(notes) = p["notes"].as_str().filter(|n| !n.is_empty()) {
            text += &format!(" Your file notes: {}", notes.trim_end_matches('.'));
            text += ".";
        }
        text += &match upcoming.len() {
            0 => " You have no upcoming appointments.".to_string(),
            1 => " You have one upcoming appointment.".to_string(),
            n => format!(" You have {} upcoming appointments.", phrase::count(n)),
        };
        self.done(text)
    }

    /// After looking up the caller's appointments for a cancellation.
    fn cancel_choice(&mut self, upcoming: Vec<Value>, first: &str) -> Action {
        if upcoming.is_empty() {
            return self.done(format!(
                "Thanks, {first}. I don't see any upcoming appointments for you."
            ));
        }
        let today = self.today();
        let day = self.task.date.and_then(|d| d.resolve(today).ok());
        let doctor = self.task.doctor.clone().filter(|d| d != "any");
        let matching: Vec<Value> = upcoming
            .iter()
            .filter(|a| day.is_none_or(|d| date_of(a) == Some(d)))
            .filter(|a| {
                doctor.as_deref().is_none_or(|d| {
                    a["doctor"]
                        .as_str()
                        .is_some_and(|x| x.to_lowercase().contains(d))
                        || a["speciality"].as_str() == Some(d)
                })
            })
            .cloned()
            .collect();
        let asked_for = day
            .map(Date::spoken)
            .or_else(|| doctor.as_deref().map(phrase::doctor));
        let mut first = format!("Thanks, {first}.");
        let list = if matching.is_empty() {
            if let Some(what) = asked_for {
                let on = if day.is_some() { "on" } else { "with" };
                first += &format!(" I don't see an appointment {on} {what}.");
            }
            upcoming
        } else {
            matching
        };
        if let [one] = list.as_slice() {
            self.task.appointment_id = one["id"].as_i64();
            let text = format!(
                "{first} I see your appointment {}. {}",
                phrase::appointment(one),
                if self.task.rebook {
                    "To move it, I'll cancel it and then book you a new time. Shall I go ahead?"
                } else {
                    "Shall I cancel it?"
                }
            );
            return self.ask(Pending::ConfirmCancel, text);
        }
        let said: Vec<String> = list.iter().take(4).map(phrase::appointment).collect();
        let text = format!(
            "{first} You have {} upcoming appointments: {}. Which one would you like to cancel?",
            phrase::count(list.len()),
            phrase::join_and(&said)
        );
        self.ask(Pending::ChooseAppointment(list), text)
    }

    fn on_error(&mut self, code: &str, v: &Value) -> Action {
        let message = v["error"].as_str().unwrap_or_default();
        match code {
            "not_verified" => {
                self.caller = Default::default();
                self.ask(Pending::Name, "I'm sorry, I couldn't find a record matching that name and date of birth. Could you tell me your full name again?")
            }
            "verification_locked" => self.done("I'm sorry, I can't verify your identity on this call. Please call back or visit the front desk with identification."),
            "verification_required" | "bad_name" => {
                self.caller.name = None;
                self.ask(Pending::Name, "Could I have your first and last name, please?")
            }
            "bad_date_of_birth" => {
                self.caller.dob = None;
                self.ask(Pending::Dob, "Sorry, I didn't get your date of birth. Could you say it with the year, like March fourth, nineteen eighty five?")
            }
            "bad_date" | "past_date" => {
                self.task.date = None;
                self.task.checked = None;
                let why = if code == "past_date" { "That day has already passed." } else { "Sorry, I didn't understand the day." };
                self.ask(Pending::Date, format!("{why} Which day would you like?"))
            }
            "bad_time" => {
                self.task.time = None;
                self.task.checked = None;
                self.next_step("Sorry, I didn't understand the time.")
            }
            "unknown_doctor" => {
                self.task.doctor = None;
                self.task.checked = None;
                                let list: Vec<String> = message
                    .split("our specialities are ")
                    .nth(1)
                    .unwrap_or("several specialities")
                    .split(", ")
                    .map(str::to_string)
                    .collect();
                let list = phrase::join_and(&list);
                self.ask(Pending::Doctor, format!("Sorry, I couldn't find that doctor. We have {list}. Who would you like to see?"))
            }
            "ambiguous_doctor" => {
                self.task.doctor = None;
                self.ask(Pending::Doctor, "We have more than one doctor by that name. Could you give me their first name too?")
            }
            "slot_taken" | "off_grid" | "outside_schedule" | "patient_busy" | "past_time" => self.on_slot_error(code, v),
            "no_appointment" | "ambiguous_appointment" => {
                let list: Vec<Value> = v["appointments"].as_array().cloned().unwrap_or_default();
                self.cancel_choice(list, "")
            }
            "already_cancelled" => self.done("That appointment is already cancelled."),
            _ => {
                // The message may quote the caller's details: only in debug logs.
                log::warn!("built-in receptionist got tool error {code}");
                log::debug!("tool error {code}: {message}");
                self.task = Task::default();
                self.ask(Pending::Nothing, "I'm sorry, something went wrong with our system. Could you try again in a moment?")
            }
        }
    }

    fn on_slot_error(&mut self, code: &str, v: &Value) -> Action {
        let (doctor, date) = self
            .task
            .checked
            .take()
            .unwrap_or_else(|| (String::new(), self.today()));
        let why = match code {
            "slot_taken" => "Sorry, that time has just been taken.".to_string(),
            "off_grid" => "Sorry, that's not one of the appointment times.".to_string(),
            "outside_schedule" => format!(
                "Sorry, {} doesn't see patients at that time.",
                phrase::doctor(&doctor)
            ),
            "patient_busy" => "You already have an appointment at that time.".to_string(),
            _ => "That time has already passed.".to_string(),
        };
        let found = offers(&v["alternatives"], date, self.task.time);
        if found.is_empty() {
            self.task.date = None;
            return self.ask(
                Pending::Date,
                format!("{why} Would you like to try a different day?"),
            );
        }
        let text = format!("{why} {}. Would one of those work?", offers_text(&found));
        self.ask(Pending::ChooseSlot(found), text)
    }
}
