//! The built-in receptionist driving the real hospital tools through a tool loop shaped like
//! the agent's, with caller lines typed as speech-to-text writes them. Each of the five
//! tasks is completed end to end; assertions check the replies and the store. Every reply
//! must be short enough to speak (a few sentences).

use std::sync::Arc;

use voice_agent::domain::brain::BuiltinReceptionist;
use voice_agent::domain::{system_prompt, Clock, Date, DateTime, FixedClock, HospitalTools, Store};
use voice_agent::foundation::cancel::{CancelToken, Generation};
use voice_agent::providers::llm::tools::ToolSet;
use voice_agent::providers::llm::{ChatEvent, ChatMessage, ChatModel, FinishReason};

/// Wednesday, March 4, 2026, 8 AM.
fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::at("2026-03-04 08:00").unwrap())
}

struct Call {
    brain: BuiltinReceptionist,
    tools: HospitalTools,
    history: Vec<ChatMessage>,
    store: Store,
    /// (tool, arguments, result) of every call made.
    log: Vec<(String, String, String)>,
    /// Everything said in the last turn, the words before its tool calls included.
    heard: String,
}

impl Call {
    fn new() -> Call {
        let clock = clock();
        let store = Store::open_in_memory_seeded_at(clock.today()).unwrap();
        Call::on(store)
    }

    fn on(store: Store) -> Call {
        let clock = clock();
        Call {
            brain: BuiltinReceptionist::for_store(&store, clock.clone()),
            tools: HospitalTools::new(store.clone(), clock.clone()),
            history: vec![ChatMessage::system(system_prompt(clock.as_ref()))],
            store,
            log: Vec::new(),
            heard: String::new(),
        }
    }

    /// One caller turn through the agent's loop: stream; run tool calls and stream again;
    /// the reply text ends the turn.
    fn say(&mut self, line: &str) -> String {
        self.history.push(ChatMessage::user(line));
        self.heard.clear();
        let specs = self.tools.specs();
        for _ in 0..6 {
            let (mut text, mut calls, mut deltas) = (String::new(), Vec::new(), 0);
            let finish = self
                .brain
                .stream(
                    &self.history,
                    &specs,
                    &CancelToken::never(),
                    &mut |e| match e {
                        ChatEvent::Text(t) => {
                            deltas += 1;
                            text.push_str(&t);
                        }
                        ChatEvent::ToolCall(c) => calls.push(c),
                        ChatEvent::ToolCallStarted(_) => {}
                    },
                )
                .unwrap();
            self.heard = format!("{} {text}", self.heard).trim().to_string();
            if calls.is_empty() {
                assert_eq!(finish, FinishReason::Stop);
                assert!(deltas > 1 || !text.contains(' '), "streamed word by word");
                assert!(
                    !text.contains('*') && !text.contains('#') && !text.contains('\n'),
                    "no markdown: {text}"
                );
                assert_speakable(&text);
                self.history.push(ChatMessage::assistant(text.clone()));
                return text;
            }
            assert_eq!(finish, FinishReason::ToolCalls);
            self.history
                .push(ChatMessage::assistant_tool_calls(text, calls.clone()));
            for c in calls {
                let result = self.tools.call(&c.name, &c.arguments).to_string();
                self.log
                    .push((c.name.clone(), c.arguments.clone(), result.clone()));
                self.history.push(ChatMessage::tool(c.id, result));
            }
        }
        panic!("more than six tool steps in one turn: {:?}", self.log);
    }

    fn tools_called(&self) -> Vec<&str> {
        self.log.iter().map(|(n, _, _)| n.as_str()).collect()
    }
}

/// Short enough for the phone: at most four sentences (the closing "Is there anything
/// else I can help with?" not counted) and 300 characters.
fn assert_speakable(reply: &str) {
    let body = reply.trim_end_matches(" Is there anything else I can help with?");
    let sentences = body
        .split_inclusive(['.', '?', '!'])
        .filter(|s| s.ends_with(['.', '?', '!']))
        .count();
    assert!(sentences <= 4, "{sentences} sentences: {reply}");
    assert!(body.len() <= 300, "{} characters: {reply}", body.len());
}

fn expect(reply: &str, parts: &[&str]) {
    for p in parts {
        assert!(reply.contains(p), "expected {p:?} in reply: {reply}");
    }
}

fn patient(store: &Store, name: &str, dob: &str) -> i64 {
    store
        .find_patient(name, Date::parse_iso(dob).unwrap())
        .unwrap()
        .expect(name)
        .id
}

#[test]
fn names_itself_and_greets() {
    let mut call = Call::new();
    assert_eq!(
        call.brain.name(),
        "built-in receptionist (offline, rule-based)"
    );
    let r = call.say("hello");
    expect(&r, &["Riverside Medical Clinic", "How can I help?"]);
    let r = call.say("blah blah wibble");
    expect(&r, &["didn't quite get that"]);
    let r = call.say("sorry can you repeat that");
    expect(&r, &["didn't quite get that"]);
    assert!(call.log.is_empty(), "no tools for small talk");
}

#[test]
fn checks_availability() {
    let mut call = Call::new();
    let r = call.say("is there anything free on friday");
    assert_eq!(call.tools_called(), ["check_availability"]);
    expect(
        &r,
        &[
            "On Friday, March 6,",
            "is free at",
            "Which time would you like?",
        ],
    );
    let r = call.say("what about doctor chen on monday morning");
    expect(
        &r,
        &["On Monday, March 9, Doctor Chen is free from 9 to 11:40 AM"],
    );
    let (_, args, _) = call.log.last().unwrap();
    assert!(
        args.contains("\"doctor\":\"chen\"") && args.contains("morning"),
        "{args}"
    );
    // Checking books nothing.
    let chen = call
        .store
        .doctors()
        .unwrap()
        .into_iter()
        .find(|d| d.name == "Emily Chen")
        .unwrap();
    let monday = Date::parse_iso("2026-03-09").unwrap();
    assert!(call
        .store
        .doctor_appointments(chen.id, monday)
        .unwrap()
        .is_empty());
    let r = call.say("no thanks that's all");
    expect(&r, &["Goodbye"]);
}

#[test]
fn books_an_appointment_for_a_known_patient() {
    let mut call = Call::new();
    let r = call.say(
        "i'd like to see doctor patel on tuesday at three for a follow up on my blood pressure",
    );
    expect(
        &r,
        &[
            "Doctor Patel is free on Tuesday, March 10 at 3 PM",
            "full name",
        ],
    );
    let r = call.say("it's john smith");
    expect(&r, &["date of birth"]);
    let r = call.say("march fourth nineteen eighty five");
    expect(
        &r,
        &[
            "Just to confirm: Doctor Patel on Tuesday, March 10 at 3 PM",
            "follow up on my blood pressure",
            "John Smith",
            "Shall I book it?",
        ],
    );
    assert!(
        !call.tools_called().contains(&"schedule_appointment"),
        "nothing booked before yes"
    );
    let r = call.say("yes please");
    expect(
        &r,
        &[
            "You're all set with Doctor Patel on Tuesday, March 10 at 3 PM",
            "appointment number",
        ],
    );
    let john = patient(&call.store, "John Smith", "1985-03-04");
    let now = clock().now();
    let booked = call.store.upcoming_appointments(john, now).unwrap();
    let new = booked
        .iter()
        .find(|a| a.start == DateTime::parse("2026-03-10 15:00").unwrap())
        .expect("booked in the store");
    assert_eq!(new.doctor_name, "Priya Patel");
    assert_eq!(new.reason, "follow up on my blood pressure");
}

#[test]
fn books_a_speciality_for_a_new_patient_choosing_from_offered_times() {
    let mut call = Call::new();
    let r = call.say("book me with a cardiologist tomorrow morning");
    expect(
        &r,
        &[
            "On Thursday, March 5, Doctor Patel is free from 9:30 to 11:30 AM",
            "Which time would you like?",
        ],
    );
    let r = call.say("ten thirty");
    expect(&r, &["full name"]);
    let r = call.say("my name is penny lane");
    expect(&r, &["date of birth"]);
    let r = call.say("february third two thousand one");
    expect(
        &r,
        &[
            "Doctor Patel on Thursday, March 5 at 10:30 AM",
            "Penny Lane",
        ],
    );
    // A reason said with the yes is kept.
    let r = call.say("yes it's about my chest pains");
    // No record has this name and birth date: the receptionist asks before making one.
    expect(&r, &["Is this your first visit with us?"]);
    let r = call.say("yes it is");
    expect(&r, &["You're all set"]);
    let penny = patient(&call.store, "Penny Lane", "2001-02-03");
    let appts = call
        .store
        .upcoming_appointments(penny, clock().now())
        .unwrap();
    assert_eq!(appts.len(), 1);
    assert_eq!(appts[0].start, DateTime::parse("2026-03-05 10:30").unwrap());
    assert_eq!(appts[0].reason, "chest pains");
}

#[test]
fn offers_other_times_when_the_wanted_one_is_taken() {
    let mut call = Call::new();
    // Seeded: John Smith already has Dr. Patel on Monday the 9th at 10:30.
    let r = call.say("can i book doctor patel next monday at ten thirty");
    expect(
        &r,
        &[
            "Sorry, 10:30 AM on Monday, March 9 isn't available. Doctor Patel is free at 9:30, 10 and 11 AM",
            "Would one of those work?",
        ],
    );
    let r = call.say("the 1st one");
    expect(&r, &["full name"]);
    let (_, args, result) = call.log.last().unwrap();
    assert!(args.contains("10:30") && result.contains("\"requested_time_free\":false"));
}

#[test]
fn cancels_an_appointment_after_verifying_the_caller() {
    let mut call = Call::new();
    let r = call.say("i need to cancel my appointment");
    expect(&r, &["full name"]);
    call.say("john smith");
    let r = call.say("march fifth nineteen eighty five");
    expect(&r, &["couldn't find a record", "full name"]);
    assert_eq!(call.tools_called(), ["get_patient_info"]);
    call.say("john smith");
    let r = call.say("my date of birth is march fourth nineteen eighty five");
    expect(
        &r,
        &[
            "two upcoming appointments",
            "Doctor Patel on Monday, March 9 at 10:30 AM",
            "Doctor Wilson on Wednesday, March 11 at 9 AM",
            "Which one",
        ],
    );
    let r = call.say("the one with doctor wilson");
    expect(
        &r,
        &[
            "Doctor Wilson on Wednesday, March 11 at 9 AM",
            "Shall I cancel it?",
        ],
    );
    let r = call.say("yes");
    expect(&r, &["Done", "is cancelled"]);
    let john = patient(&call.store, "John Smith", "1985-03-04");
    let left = call
        .store
        .upcoming_appointments(john, clock().now())
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].doctor_name, "Priya Patel");
}

#[test]
fn a_birth_date_keyed_on_the_phone_verifies_the_caller() {
    let mut call = Call::new();
    call.say("cancel my appointment with doctor wilson please");
    call.say("maria gonzalez");
    // Eight digits from the keypad, month first, as the phone line hands them on.
    let r = call.say("11191972");
    expect(
        &r,
        &[
            "Doctor Wilson on Thursday, March 5 at 10 AM",
            "Shall I cancel it?",
        ],
    );
}

#[test]
fn cancellation_can_be_declined() {
    let mut call = Call::new();
    call.say("cancel my appointment with doctor wilson please");
    call.say("maria gonzalez");
    let r = call.say("november nineteenth nineteen seventy two");
    expect(
        &r,
        &[
            "Doctor Wilson on Thursday, March 5 at 10 AM",
            "Shall I cancel it?",
        ],
    );
    let r = call.say("no");
    expect(&r, &["keep that appointment"]);
    let maria = patient(&call.store, "Maria Gonzalez", "1972-11-19");
    assert_eq!(
        call.store
            .upcoming_appointments(maria, clock().now())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn gives_a_verified_caller_their_details() {
    let mut call = Call::new();
    let r = call.say("when is my next appointment");
    expect(&r, &["verify", "full name"]);
    call.say("hi this is maria gonzalez");
    let r = call.say("november nineteenth nineteen seventy two");
    expect(
        &r,
        &["Maria", "Doctor Wilson on Thursday, March 5 at 10 AM"],
    );
    assert!(!r.contains("555-0102"), "asked for appointments only: {r}");
    let r = call.say("and what details do you have on file for me");
    expect(
        &r,
        &[
            "November 19, 1972",
            "555-0102",
            "Aetna",
            "one upcoming appointment",
        ],
    );
    // All in one sentence, in a new call.
    let mut call = Call::on(call.store.clone());
    let r = call.say("my name is john smith and my date of birth is march fourth nineteen eighty five what appointments do i have");
    expect(
        &r,
        &["two upcoming appointments", "Doctor Patel", "Doctor Wilson"],
    );
    assert!(
        !r.contains("Maria") && !r.contains("555-0102"),
        "only the caller's own data"
    );
}

#[test]
fn answers_questions_about_doctors() {
    let mut call = Call::new();
    let r = call.say("what are doctor chen's hours");
    expect(
        &r,
        &[
            "Doctor Chen works in dermatology",
            "Monday and Wednesday from 9 AM to 4 PM, and Friday from 9 AM to 12 PM",
            "book",
        ],
    );
    let r = call.say("which doctors do you have");
    expect(
        &r,
        &[
            "We have nine doctors",
            "cardiology",
            "neurology",
            "ophthalmology",
        ],
    );
    let r = call.say("who are your cardiologists");
    expect(
        &r,
        &["For cardiology we have Doctor Patel, who works Monday, Tuesday and Thursday, and Doctor Okafor"],
    );
    let r = call.say("which doctors speak spanish");
    expect(&r, &["Doctor Garcia speaks Spanish"]);
    let r = call.say("what are your hours");
    expect(
        &r,
        &[
            "Our doctors see patients",
            "Saturday from 9 AM to 1 PM",
            "Would you like to book an appointment?",
        ],
    );
    let r = call.say("no thank you");
    expect(&r, &["Goodbye"]);
    // After hearing about a doctor, "yes" books with them.
    let mut call = Call::new();
    call.say("tell me about doctor becker");
    let r = call.say("yes");
    expect(&r, &["What day"]);
    let r = call.say("thursday afternoon");
    expect(
        &r,
        &["On Thursday, March 5, Doctor Becker is free from 12 to 12:30 PM and from 2 to 4:30 PM"],
    );
    // "Him" or "her" is the doctor just talked about; then back to choosing a time.
    let r = call.say("and what does she do");
    expect(
        &r,
        &[
            "Doctor Becker is an orthopaedic surgeon",
            "Now, which time would you like with Doctor Becker?",
        ],
    );
}

#[test]
fn stops_streaming_when_cancelled() {
    let store = Store::open_in_memory_seeded_at(clock().today()).unwrap();
    let mut brain = BuiltinReceptionist::for_store(&store, clock());
    let tools = HospitalTools::new(store, clock());
    let history = vec![ChatMessage::system("x"), ChatMessage::user("hello")];
    let generation = Generation::new();
    let token = generation.token();
    let mut words = Vec::new();
    let finish = brain
        .stream(&history, &tools.specs(), &token, &mut |e| {
            if let ChatEvent::Text(t) = e {
                words.push(t);
                generation.bump(); // barge-in after the first word
            }
        })
        .unwrap();
    assert_eq!(finish, FinishReason::Cancelled);
    assert_eq!(words, vec!["Hello,".to_string()]);
    // Without the tools it cannot do its job, and says so instead of calling them.
    let mut events = Vec::new();
    let history = vec![ChatMessage::user("what are doctor chen's hours")];
    brain
        .stream(&history, &[], &CancelToken::never(), &mut |e| {
            events.push(e)
        })
        .unwrap();
    assert!(events.iter().all(|e| matches!(e, ChatEvent::Text(_))));
}

#[test]
fn moves_an_appointment_by_cancelling_then_booking_anew() {
    let mut call = Call::new();
    call.say("i need to reschedule my appointment");
    call.say("james o'connor");
    let r = call.say("may sixteenth nineteen eighty two");
    expect(
        &r,
        &[
            "Doctor Becker on Thursday, March 5 at 10:30 AM",
            "cancel it and then book you a new time",
        ],
    );
    let r = call.say("yes");
    expect(&r, &["is cancelled", "new time", "What day"]);
    let r = call.say("next tuesday afternoon");
    expect(
        &r,
        &["On Tuesday, March 10, Doctor Becker is free from 12 to 12:30 PM and from 2:30 to 4:30 PM"],
    );
    let r = call.say("the first one");
    expect(&r, &["Doctor Becker on Tuesday, March 10 at 12 PM, for knee pain, under the name James O'Connor"]);
    let r = call.say("yes");
    expect(&r, &["You're all set"]);
    let again = call.say("what");
    assert_eq!(again, r, "a bare 'what' repeats the last reply");
    let james = patient(&call.store, "James O'Connor", "1982-05-16");
    let appts = call
        .store
        .upcoming_appointments(james, clock().now())
        .unwrap();
    assert_eq!(appts.len(), 1);
    assert_eq!(appts[0].start, DateTime::parse("2026-03-10 12:00").unwrap());
    assert_eq!(appts[0].reason, "knee pain");
}

#[test]
fn a_cancellation_with_a_new_time_looks_for_the_time_first_and_offers_it_after() {
    let mut call = Call::new();
    call.say("john smith");
    call.say("march fourth nineteen eighty five");
    call.say(
        "cancel my appointment with doctor patel and see if doctor okafor has anything friday instead",
    );
    let r = call.heard.clone();
    // The new times first, then the cancellation to confirm; nothing is cancelled yet.
    expect(
        &r,
        &[
            "On Friday, March 6, Doctor Okafor is free",
            "Doctor Patel",
            "Shall I cancel it?",
        ],
    );
    let tools: Vec<&str> = call.log.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(tools, ["check_availability", "get_patient_info"]);
    call.say("yes please");
    let r = call.heard.clone();
    expect(
        &r,
        &[
            "is cancelled",
            "On Friday, March 6, Doctor Okafor is free",
            "Which time would you like?",
        ],
    );
    let r = call.say("the first one");
    expect(
        &r,
        &["Doctor Okafor on Friday, March 6", "Shall I book it?"],
    );
    let r = call.say("yes");
    expect(&r, &["You're all set"]);
    let john = patient(&call.store, "John Smith", "1985-03-04");
    let appts = call
        .store
        .upcoming_appointments(john, clock().now())
        .unwrap();
    assert!(
        appts.iter().all(|a| !a.doctor_name.contains("Patel")),
        "{appts:?}"
    );
    assert!(
        appts.iter().any(|a| a.doctor_name.contains("Okafor")),
        "{appts:?}"
    );
}

#[test]
fn a_second_request_reads_its_pronouns_and_days_from_the_first() {
    let mut call = Call::new();
    // "that afternoon": the day of the first question; "he": its doctor.
    call.say(
        "what time does doctor okafor start on fridays and does he have anything that afternoon",
    );
    expect(
        &call.heard,
        &[
            "Doctor Okafor works in cardiology",
            "Doctor Okafor is free",
            "PM",
        ],
    );
    let (tool, args, _) = &call.log[1];
    assert_eq!(tool, "check_availability");
    assert!(
        args.contains("friday") && args.contains("Okafor") && args.contains("afternoon"),
        "{args}"
    );
    // "can she see my son": the son is the patient; "she" is the doctor just named.
    let mut call = Call::new();
    call.say("does doctor garcia speak spanish and can she see my son on friday");
    expect(
        &call.heard,
        &[
            "Doctor Garcia speaks Spanish. Let me check.",
            "Doctor Garcia is free",
        ],
    );
    assert!(call.log[1].1.contains("Garcia"), "{:?}", call.log[1]);
    // "among them": the speciality just listed.
    let mut call = Call::new();
    call.say("who are the heart doctors and who's free monday morning among them");
    assert!(call.log[1].1.contains("cardiology"), "{:?}", call.log[1]);
}

#[test]
fn declining_the_cancellation_keeps_the_appointment_and_the_times_found() {
    let mut call = Call::new();
    call.say("john smith");
    call.say("march fourth nineteen eighty five");
    call.say("cancel my appointment with doctor patel and see if doctor okafor has anything friday instead");
    let r = call.say("no, keep it");
    expect(
        &r,
        &[
            "keep that appointment",
            "Doctor Okafor is free",
            "Which time",
        ],
    );
    assert!(call.log.iter().all(|(t, _, _)| t != "cancel_appointment"));
}

#[test]
fn moving_to_a_named_day_checks_that_day_before_cancelling() {
    let mut call = Call::new();
    call.say("james o'connor");
    call.say("may sixteenth nineteen eighty two");
    call.say("move my appointment with doctor becker to tuesday");
    let r = call.heard.clone();
    expect(
        &r,
        &[
            "On Tuesday, March 10, Doctor Becker is free",
            "cancel it and then book you a new time",
        ],
    );
    let (tool, args, _) = &call.log[0];
    assert_eq!(tool, "check_availability");
    assert!(
        args.contains("tuesday") && args.contains("becker"),
        "{args}"
    );
    call.say("yes");
    let r = call.heard.clone();
    expect(&r, &["is cancelled", "Which time would you like?"]);
}

#[test]
fn moving_without_a_doctor_finds_the_appointment_then_the_new_day() {
    let mut call = Call::new();
    call.say("james o'connor");
    call.say("may sixteenth nineteen eighty two");
    let r = call.say("can i move my appointment to next tuesday");
    // The old appointment is found by the lookup, not by the new day.
    expect(
        &r,
        &[
            "Doctor Becker on Thursday, March 5",
            "cancel it and then book you a new time",
        ],
    );
    call.say("yes");
    let r = call.heard.clone();
    expect(
        &r,
        &[
            "is cancelled",
            "On Tuesday, March 10, Doctor Becker is free",
        ],
    );
}

/// The demo call, as Whisper writes it: book with Patel, day and time, name and birth date,
/// confirm, booked; then a question about another doctor (misheard), and goodbye.
fn demo(lines: [&str; 6]) {
    let mut call = Call::new();
    let r = call.say(lines[0]);
    expect(&r, &["What day would you like to see Doctor Patel?"]);
    let r = call.say(lines[1]);
    expect(
        &r,
        &[
            "Good news, Doctor Patel is free on Monday, March 9 at 10 AM",
            "full name and date of birth",
        ],
    );
    // Name and birth date lead straight to the confirmation: no separate reason question,
    // which a caller answers with "yes, book it".
    let r = call.say(lines[2]);
    expect(
        &r,
        &["Just to confirm: Doctor Patel on Monday, March 9 at 10 AM, under the name John Smith. Shall I book it?"],
    );
    assert!(!r.contains("reason"), "{r}");
    let r = call.say(lines[3]);
    expect(
        &r,
        &[
            "You're all set with Doctor Patel on Monday, March 9 at 10 AM",
            "appointment number",
        ],
    );
    let (_, args, result) = call.log.last().unwrap();
    assert!(
        args.contains("\"reason\":\"general appointment\""),
        "{args}"
    );
    assert!(result.contains("\"booked\":true"), "{result}");
    let john = patient(&call.store, "John Smith", "1985-03-04");
    let booked = call
        .store
        .upcoming_appointments(john, clock().now())
        .unwrap();
    let new = booked
        .iter()
        .find(|a| a.start == DateTime::parse("2026-03-09 10:00").unwrap())
        .expect("booked in the store");
    assert_eq!(new.doctor_name, "Priya Patel");
    assert_eq!(new.reason, "general appointment", "never 'yes'");
    let r = call.say(lines[4]);
    expect(
        &r,
        &[
            "Doctor Chen works in dermatology",
            "Monday and Wednesday from 9 AM to 4 PM",
        ],
    );
    assert_eq!(call.log.last().unwrap().0, "get_doctor_info");
    let r = call.say(lines[5]);
    expect(&r, &["Goodbye"]);
    assert_eq!(
        call.tools_called(),
        [
            "check_availability",
            "schedule_appointment",
            "get_doctor_info"
        ]
    );
    assert!(
        call.history.iter().all(|m| !m.content.contains("for yes")),
        "a yes is no reason"
    );
}

#[test]
fn the_demo_call_books_then_answers_a_doctor_question() {
    demo([
        "Hello, I would like to book an appointment with Dr. Patel.",
        "Next Monday at 10 in the morning, please.",
        "My name is John Smith and my date of birth is March 4, 1985.",
        "Yes, please book it.",
        "What are Dr. Chen's hours?",
        "Thank you. Goodbye.",
    ]);
}

#[test]
fn the_demo_call_with_numbers_as_words_and_a_misheard_question() {
    demo([
        "hello i would like to book an appointment with doctor patel",
        "next monday at ten in the morning please",
        "my name is john smith and my date of birth is march fourth nineteen eighty-five",
        "yes please book it",
        "What are Dr. Chen Zowers?",
        "thank you goodbye",
    ]);
}

#[test]
fn a_yes_answer_is_never_stored_as_the_reason() {
    let mut call = Call::new();
    call.say("i'd like to see doctor patel next monday at 10 am");
    call.say("John Smith, March 4th, 1985.");
    // A yes that also changes the time changes the booking instead of confirming it.
    let r = call.say("yes but at nine thirty instead");
    expect(
        &r,
        &[
            "Doctor Patel is free on Monday, March 9 at 9:30 AM",
            "Shall I book it",
        ],
    );
    assert!(!call.tools_called().contains(&"schedule_appointment"));
    let r = call.say("yes go ahead");
    expect(
        &r,
        &["You're all set with Doctor Patel on Monday, March 9 at 9:30 AM"],
    );
    let (_, args, _) = call.log.last().unwrap();
    assert!(
        args.contains("\"reason\":\"general appointment\""),
        "{args}"
    );
}

#[test]
fn doctor_questions_mid_booking_never_change_the_booking() {
    let mut call = Call::new();
    let r = call.say("i'd like to book with doctor patel next monday at 10 am");
    expect(
        &r,
        &[
            "Doctor Patel is free on Monday, March 9 at 10 AM",
            "full name",
        ],
    );
    let questions: [(&str, &[&str]); 6] = [
        (
            "What are Dr. Chen's hours?",
            &["Doctor Chen works in dermatology and sees patients Monday and Wednesday"],
        ),
        (
            "What are Dr. Chen Zowers?",
            &["Doctor Chen works in dermatology"],
        ),
        (
            "What does doctor Chen do?",
            &["Doctor Chen is a dermatologist for skin"],
        ),
        (
            "Tell me about doctor Chen",
            &["Doctor Chen is a dermatologist"],
        ),
        (
            "Who are your cardiologists?",
            &["For cardiology we have Doctor Patel", "Doctor Okafor"],
        ),
        (
            "tell me about doctor zorro",
            &["couldn't find that doctor", "dermatology"],
        ),
    ];
    for (q, parts) in questions {
        let r = call.say(q);
        expect(&r, parts);
        expect(&r, &["Now, can I have your full name and date of birth?"]);
        assert_eq!(call.log.last().unwrap().0, "get_doctor_info", "{q}");
    }
    let r = call.say("john smith march fourth nineteen eighty five");
    expect(
        &r,
        &["Just to confirm: Doctor Patel on Monday, March 9 at 10 AM"],
    );
    // A near miss of a name is still Doctor Chen; the confirmation is asked again.
    let r = call.say("and what are doctor chan's hours");
    expect(
        &r,
        &["Doctor Chen works in dermatology", "Now, shall I book Doctor Patel on Monday, March 9 at 10 AM, under the name John Smith?"],
    );
    let r = call.say("yes");
    expect(
        &r,
        &["You're all set with Doctor Patel on Monday, March 9 at 10 AM"],
    );
    for (name, args, _) in &call.log {
        match name.as_str() {
            "check_availability" => assert!(args.contains("patel"), "{args}"),
            "get_doctor_info" => assert!(!args.contains("patel"), "{args}"),
            _ => {}
        }
    }
    assert_eq!(
        call.tools_called()
            .iter()
            .filter(|n| **n == "check_availability")
            .count(),
        1,
        "questions check no availability"
    );
}

#[test]
fn books_from_one_sentence() {
    let mut call = Call::new();
    let r = call.say(
        "Book me with Doctor Patel next Monday at 10 am, my name is John Smith, born March 4 1985",
    );
    expect(
        &r,
        &["Good news, Doctor Patel is free on Monday, March 9 at 10 AM. Shall I book it, under the name John Smith?"],
    );
    let r = call.say("yes");
    expect(
        &r,
        &["You're all set with Doctor Patel on Monday, March 9 at 10 AM"],
    );
}

#[test]
fn books_a_time_picked_from_the_offered_ones() {
    let mut call = Call::new();
    let r = call.say("Hi, can I see doctor patel on tuesday?");
    expect(
        &r,
        &["On Tuesday, March 10, Doctor Patel is free from 9 to 11 AM and from 1 to 4:30 PM"],
    );
    let r = call.say("nine thirty works");
    expect(&r, &["full name and date of birth"]);
    let r = call.say("John Smith");
    expect(&r, &["date of birth"]);
    let r = call.say("3/4/1985");
    expect(
        &r,
        &["Just to confirm: Doctor Patel on Tuesday, March 10 at 9:30 AM, under the name John Smith"],
    );
    let r = call.say("yeah go ahead");
    expect(&r, &["You're all set"]);
    let john = patient(&call.store, "John Smith", "1985-03-04");
    let booked = call
        .store
        .upcoming_appointments(john, clock().now())
        .unwrap();
    assert!(booked
        .iter()
        .any(|a| a.start == DateTime::parse("2026-03-10 09:30").unwrap()));
}

#[test]
fn cancels_by_day_after_verifying() {
    let mut call = Call::new();
    let r = call.say(
        "hi this is maria gonzalez, date of birth november 19 1972. when is my next appointment?",
    );
    expect(&r, &["Doctor Wilson on Thursday, March 5 at 10 AM"]);
    let r = call.say("cancel my appointment on Thursday");
    expect(
        &r,
        &[
            "Doctor Wilson on Thursday, March 5 at 10 AM",
            "Shall I cancel it?",
        ],
    );
    let r = call.say("yes please");
    expect(&r, &["is cancelled"]);
    let maria = patient(&call.store, "Maria Gonzalez", "1972-11-19");
    assert!(call
        .store
        .upcoming_appointments(maria, clock().now())
        .unwrap()
        .is_empty());
    assert_eq!(
        call.tools_called(),
        ["get_patient_info", "get_patient_info", "cancel_appointment"]
    );
}

#[test]
fn booking_the_same_slot_twice_is_one_booking() {
    // A re-run turn may repeat schedule_appointment: the second call finds the first booking.
    let mut call = Call::new();
    let args = r#"{"patient_name":"John Smith","date_of_birth":"1985-03-04","doctor":"patel","date":"2026-03-09","time":"10:00","reason":"general appointment"}"#;
    let first = call.tools.call("schedule_appointment", args);
    let again = call.tools.call("schedule_appointment", args);
    assert_eq!(first["booked"], true, "{first}");
    assert_eq!(again["booked"], true, "{again}");
    assert_eq!(again["already_booked"], true, "{again}");
    assert_eq!(first["appointment"]["id"], again["appointment"]["id"]);
    // Someone else still cannot take it.
    let other = args
        .replace("John Smith", "Maria Gonzalez")
        .replace("1985-03-04", "1972-11-19");
    let taken = call.tools.call("schedule_appointment", &other);
    assert_eq!(taken["code"], "slot_taken", "{taken}");
}
