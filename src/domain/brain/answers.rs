//! Reading a caller's line as the answer to the question just asked: a name, a date of
//! birth, a doctor, a day, a reason, a yes or no, or a choice among offered times or
//! appointments.

use serde_json::Value;

use super::dialogue::{exact, Dialogue, Flow, Inquiry, Offer, Pending, Task, Used};
use super::phrase;
use super::understand::{name_at, Heard, Intent};
use crate::domain::calendar::{Date, Time};
use crate::domain::dates::{self, DateExpr};

impl Dialogue {
    /// Read the utterance as the answer to the pending question.
    pub(super) fn contextual(&mut self, pending: Pending, h: &Heard) -> Flow {
        let answered = Used {
            doctor: true,
            dates: true,
            intent: true,
        };
        let reask = |me: &mut Self, p: Pending, text: &str| Flow::Done(me.ask(p, text));
        match pending {
            Pending::Nothing => Flow::Continue(Used::default()),
            Pending::ConfirmBook if h.yes && !self.changes_booking(h) => {
                // "Yes, it's for my knee": keep a reason said with the yes.
                if let Some(r) = &h.reason {
                    self.task.reason = Some(r.clone());
                }
                Flow::Done(self.schedule_call())
            }
            Pending::ConfirmBook if h.no && h.only_courtesy() => {
                reask(self, Pending::Nothing, "Okay, I haven't booked anything. What would you like to change?")
            }
            Pending::ConfirmCancel if h.yes => Flow::Done(self.cancel_call()),
            Pending::ConfirmCancel if h.no => {
                let said = "Okay, I'll keep that appointment.";
                match self.resume_set_aside(said) {
                    Some(action) => Flow::Done(action),
                    None => Flow::Done(self.done(said)),
                }
            }
            Pending::ConfirmBook | Pending::ConfirmCancel => Flow::Continue(Used::default()),
            Pending::ChooseSlot(offers) => self.choose_slot(offers, h),
            Pending::ChooseAppointment(list) => self.choose_appointment(list, h),
            Pending::OfferBooking(doctor) if h.yes && h.intent.is_none() => {
                self.task = Task { intent: Some(Intent::Book), doctor, ..Task::default() };
                Flow::Done(self.next_step(""))
            }
            Pending::OfferBooking(_) | Pending::AnythingElse if (h.no || h.bye) && h.intent.is_none() => {
                Flow::Done(self.farewell(h))
            }
            Pending::AnythingElse if h.yes && h.only_courtesy() => {
                reask(self, Pending::Nothing, "Sure, what can I do for you?")
            }
            Pending::OfferBooking(_) | Pending::AnythingElse => Flow::Continue(Used::default()),
            Pending::NewPatient if h.yes => {
                self.caller.new_patient = true;
                Flow::Done(self.schedule_call())
            }
            Pending::NewPatient if h.no => {
                self.caller = Default::default();
                reask(self, Pending::Name, "Let's check your details again. Could you tell me your full name?")
            }
            Pending::NewPatient => Flow::Continue(Used::default()),
            Pending::Name => {
                let name = h.name.clone().or_else(|| bare_name(h));
                match name {
                    Some(n) if n.split(' ').count() >= 2 => {
                        self.set_name(n);
                        Flow::Continue(Used { doctor: true, ..answered })
                    }
                    _ if h.has_details() => Flow::Continue(Used::default()),
                    Some(_) => reask(self, Pending::Name, "Could I have your first and last name, please?"),
                    None => reask(self, Pending::Name, "Sorry, I didn't catch your name. Could you say your first and last name?"),
                }
            }
            Pending::Dob => self.answer_dob(h),
            Pending::ConfirmDoctor { surnames, info } if h.yes && h.doctor.is_none() => {
                let [surname] = surnames.as_slice() else {
                    // "Yes" to "Doctor Patel or Doctor Chen?": which one.
                    let names: Vec<String> = surnames.iter().map(|s| phrase::doctor(s)).collect();
                    let text = format!("Which one, {}?", names.join(" or "));
                    return reask(self, Pending::Doctor, &text);
                };
                let surname = surname.clone();
                if info {
                    let resume = std::mem::take(&mut self.pending);
                    return Flow::Done(self.look_up_doctors(Inquiry {
                        doctor: Some(surname),
                        resume,
                        ..Inquiry::default()
                    }));
                }
                self.last_doctor = Some(surname.clone());
                self.task.doctor = Some(surname);
                self.task.checked = None;
                if self.task.intent.is_none() {
                    self.task.intent = Some(Intent::Availability);
                }
                Flow::Continue(Used { doctor: true, ..Used::default() })
            }
            Pending::ConfirmDoctor { info, .. } if h.no && h.doctor.is_none() => {
                let text = if info {
                    "Sorry about that. Which doctor would you like to know about?"
                } else {
                    "Sorry about that. Which doctor would you like to see?"
                };
                reask(self, Pending::Doctor, text)
            }
            Pending::ConfirmDoctor { .. } => Flow::Continue(Used::default()),
            Pending::Doctor => {
                let doctor = h.doctor.clone().or_else(|| bare_name(h).map(|n| n.to_lowercase()));
                match doctor {
                    Some(d) => {
                        self.task.doctor = Some(d);
                        self.task.checked = None;
                        Flow::Continue(Used { doctor: true, dates: false, intent: true })
                    }
                    None if h.has_details() => Flow::Continue(Used::default()),
                    None => reask(self, Pending::Doctor, "Which doctor would you like to see, or what kind of specialist? You can also say any doctor."),
                }
            }
            Pending::Date => match h.dates.first() {
                Some(_) => Flow::Continue(Used { intent: true, ..Used::default() }),
                None if h.asap => Flow::Continue(Used { intent: true, ..Used::default() }),
                None if h.has_details() => Flow::Continue(Used::default()),
                None => reask(self, Pending::Date, "Sorry, which day would you like? You can say something like tomorrow or next Tuesday."),
            },
        }
    }

    /// A "yes" that also names another day, time or doctor ("yes, but at 11") changes the
    /// booking rather than confirming it.
    fn changes_booking(&self, h: &Heard) -> bool {
        let today = self.today();
        let checked_day = self.task.checked.as_ref().map(|c| c.1);
        let other_day = h.dates.iter().any(|d| d.resolve(today).ok() != checked_day);
        let other_time = h.time.is_some_and(|t| Some(t) != self.task.time);
        let other_doctor = h.doctor.as_deref().is_some_and(|d| {
            let booked = self.task.checked.as_ref().map(|c| c.0.to_lowercase());
            !booked.is_some_and(|b| b.contains(d))
        });
        other_day || other_time || other_doctor
    }

    fn answer_dob(&mut self, h: &Heard) -> Flow {
        let partial = h.partial_dob.or_else(|| {
            h.dates.iter().find_map(|d| match d {
                DateExpr::MonthDay {
                    month,
                    day,
                    year: None,
                } => Some((*month, *day)),
                _ => None,
            })
        });
        let full = h.dob.or_else(|| {
            let (m, d) = self.caller.partial_dob?;
            Date::from_ymd(h.year?, m, d)
        });
        let used = Used {
            doctor: true,
            dates: true,
            intent: true,
        };
        if let Some(dob) = full {
            self.caller.dob = Some(dob);
            self.caller.partial_dob = None;
            return Flow::Continue(used);
        }
        if let Some(p) = partial {
            self.caller.partial_dob = Some(p);
            return Flow::Done(self.ask(Pending::Dob, "And what year were you born?"));
        }
        if h.has_details() {
            return Flow::Continue(Used::default());
        }
        Flow::Done(self.ask(
            Pending::Dob,
            "Sorry, I didn't get that. What is your date of birth, with the year? For example, March fourth, nineteen eighty five.",
        ))
    }

    fn choose_slot(&mut self, offers: Vec<Offer>, h: &Heard) -> Flow {
        let today = self.today();
        let other_day = h.dates.iter().any(|d| {
            !matches!(d, DateExpr::DayOfMonth(_))
                && d.resolve(today)
                    .is_ok_and(|day| offers.iter().all(|o| o.date != day))
        });
        let elsewhere = matches!(
            h.intent,
            Some(Intent::Cancel | Intent::PatientInfo | Intent::DoctorInfo)
        );
        if other_day || elsewhere {
            return Flow::Continue(Used::default());
        }
        let all: Vec<(&Offer, Time)> = offers
            .iter()
            .flat_map(|o| o.times.iter().map(move |t| (o, *t)))
            .collect();
        let any_free: Vec<(&Offer, Time)> = offers
            .iter()
            .flat_map(|o| o.free.iter().map(move |t| (o, *t)))
            .collect();
        let wanted_doctor = h.doctor.as_deref().filter(|d| *d != "any");
        let by_doctor =
            |o: &Offer| wanted_doctor.is_none_or(|d| o.doctor.to_lowercase().contains(d));
        let time = h
            .time
            .or_else(|| dates::parse_time(&h.tokens.join(" ")).ok());
        let picked = if let Some(t) = time {
            any_free
                .iter()
                .find(|(o, x)| *x == t && by_doctor(o))
                .copied()
        } else if let Some(n) = h.ordinal {
            let list: Vec<_> = all.iter().filter(|(o, _)| by_doctor(o)).copied().collect();
            list.get(n.min(list.len().saturating_sub(1))).copied()
        } else if h.yes && all.len() == 1 {
            all.first().copied()
        } else {
            None
        };
        if let Some((offer, t)) = picked {
            self.task.intent = Some(Intent::Book);
            self.task.doctor = Some(offer.doctor.clone());
            self.task.date = Some(exact(offer.date));
            self.task.time = Some(t);
            self.task.checked = Some((offer.doctor.clone(), offer.date));
            return Flow::Done(self.next_step(""));
        }
        if let (Some(t), [offer]) = (time, offers.as_slice()) {
            // A time that was not offered: check it on the same day.
            self.task.intent = Some(Intent::Book);
            self.task.doctor.get_or_insert_with(|| offer.doctor.clone());
            self.task.date = Some(exact(offer.date));
            self.task.time = Some(t);
            self.task.checked = None;
            return Flow::Done(self.next_step(""));
        }
        if h.no && h.only_courtesy() {
            self.task.date = None;
            self.task.time = None;
            self.task.checked = None;
            return Flow::Done(self.ask(
                Pending::Date,
                "No problem. Would you like to try a different day?",
            ));
        }
        if h.name.is_some() || h.dob.is_some() {
            // Details for later: keep them, and still ask for the time.
            if let Some(n) = h.name.clone() {
                self.set_name(n);
            }
            self.caller.dob = h.dob.or(self.caller.dob);
            return Flow::Done(self.ask(
                Pending::ChooseSlot(offers),
                "Thank you. Which time would you like?",
            ));
        }
        if (h.only_courtesy() && h.part.is_none()) || h.yes {
            let text = if all.len() == 1 {
                "Would you like that time?"
            } else {
                "Which time would you like?"
            };
            return Flow::Done(self.ask(Pending::ChooseSlot(offers), text));
        }
        Flow::Continue(Used::default())
    }

    fn choose_appointment(&mut self, list: Vec<Value>, h: &Heard) -> Flow {
        let today = self.today();
        let days: Vec<Date> = h
            .dates
            .iter()
            .filter_map(|d| d.resolve(today).ok())
            .collect();
        let matches: Vec<&Value> = list
            .iter()
            .filter(|a| {
                let doctor_ok = h.doctor.as_deref().is_none_or(|d| {
                    a["doctor"]
                        .as_str()
                        .is_some_and(|x| x.to_lowercase().contains(d))
                        || a["speciality"].as_str() == Some(d)
                });
                let date_ok = days.is_empty()
                    || a["date"]
                        .as_str()
                        .and_then(Date::parse_iso)
                        .is_some_and(|x| days.contains(&x));
                let time_ok = h
                    .time
                    .is_none_or(|t| a["time"].as_str().and_then(Time::parse_hhmm) == Some(t));
                doctor_ok && date_ok && time_ok
            })
            .collect();
        let specific = h.doctor.is_some() || !days.is_empty() || h.time.is_some();
        let chosen = match (specific, h.ordinal, matches.as_slice()) {
            (true, _, [one]) => Some((*one).clone()),
            (false, Some(n), _) => list.get(n.min(list.len().saturating_sub(1))).cloned(),
            _ => None,
        };
        match chosen {
            Some(a) => {
                self.task.appointment_id = a["id"].as_i64();
                let text = format!(
                    "Your appointment {}. Shall I cancel it?",
                    phrase::appointment(&a)
                );
                Flow::Done(self.ask(Pending::ConfirmCancel, text))
            }
            None if h.intent.is_some() && h.intent != Some(Intent::Cancel) => {
                Flow::Continue(Used::default())
            }
            None => Flow::Done(self.ask(
                Pending::ChooseAppointment(list),
                "Which one would you like to cancel? You can say the doctor or the day.",
            )),
        }
    }
}

/// A name said on its own ("john smith", "it's john smith").
fn bare_name(h: &Heard) -> Option<String> {
    let fillers = [
        "yes", "yeah", "sure", "ok", "okay", "it's", "its", "it", "is", "this", "my", "name",
        "name's", "i'm", "um", "uh", "well", "hi", "hello", "doctor", "dr", "with", "see",
        "please",
    ];
    let start = h
        .tokens
        .iter()
        .position(|t| !fillers.contains(&t.as_str()))?;
    name_at(&h.tokens, start).0
}
