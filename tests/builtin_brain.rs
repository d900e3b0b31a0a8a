//! The built-in receptionist driving the real hospital tools through a tool loop shaped like
//! the agent's, with caller lines typed as speech-to-text writes them. Each of the five
//! tasks is completed end to end; assertions check the replies and the store.

use std::sync::Arc;

use voice_agent::agent::tools::ToolSet;
use voice_agent::hospital::{
    system_prompt, Clock, Date, DateTime, FixedClock, HospitalTools, Store,
};
use voice_agent::llm::builtin::BuiltinReceptionist;
use voice_agent::llm::{ChatEvent, ChatMessage, ChatModel, FinishReason};
use voice_agent::{CancelToken, Generation};

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
        }
    }

    /// One caller turn through the agent's loop: stream; run tool calls and stream again;
    /// the reply text ends the turn.
    fn say(&mut self, line: &str) -> String {
        self.history.push(ChatMessage::user(line));
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
                    },
                )
                .unwrap();
            if calls.is_empty() {
                assert_eq!(finish, FinishReason::Stop);
                assert!(deltas > 1 || !text.contains(' '), "streamed word by word");
                assert!(
                    !text.contains('*') && !text.contains('#') && !text.contains('\n'),
                    "no markdown: {text}"
                );
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
        &["On Friday, March 6,", "is free at", "Which would you like?"],
    );
    let r = call.say("what about doctor chen on monday morning");
    expect(
        &r,
        &["On Monday, March 9, Doctor Chen is free at 9, 9:20 and 9:40 AM"],
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
    let r = call.say("i'd like to see doctor patel on tuesday at three");
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
    expect(&r, &["reason"]);
    let r = call.say("a follow up on my blood pressure");
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
            "On Thursday, March 5, Doctor Patel is free at 9:30, 10 and 10:30 AM",
            "Which would you like?",
        ],
    );
    let r = call.say("ten thirty");
    expect(&r, &["full name"]);
    let r = call.say("my name is penny lane");
    expect(&r, &["date of birth"]);
    let r = call.say("february third two thousand one");
    expect(&r, &["reason"]);
    let r = call.say("i've been having chest pains");
    expect(
        &r,
        &[
            "Doctor Patel on Thursday, March 5 at 10:30 AM",
            "chest pains",
            "Penny Lane",
        ],
    );
    let r = call.say("yes");
    expect(&r, &["You're all set"]);
    let penny = patient(&call.store, "Penny Lane", "2001-02-03");
    let appts = call
        .store
        .upcoming_appointments(penny, clock().now())
        .unwrap();
    assert_eq!(appts.len(), 1);
    assert_eq!(appts[0].start, DateTime::parse("2026-03-05 10:30").unwrap());
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
        &[
            "Maria",
            "November 19, 1972",
            "555-0102",
            "Aetna",
            "Doctor Wilson on Thursday, March 5 at 10 AM",
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
            "Monday 9 AM to 4 PM",
            "Friday 9 AM to 12 PM",
            "Mandarin",
            "book",
        ],
    );
    let r = call.say("which doctors do you have");
    expect(
        &r,
        &[
            "We have nine doctors",
            "Doctor Patel and Doctor Okafor in cardiology",
            "Doctor Hassan in neurology",
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
        &["On Thursday, March 5, Doctor Becker is free at 12, 12:30 and 2 PM"],
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
        &["On Tuesday, March 10, Doctor Becker is free at 12, 12:30 and 2:30 PM"],
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
