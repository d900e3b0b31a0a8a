//! Word lists the built-in receptionist listens for (lowercase, number words as digits).

#[rustfmt::skip]
pub const YES: &[&str] = &[
    "yes", "yeah", "yep", "yup", "ya", "sure", "correct", "right", "ok", "okay", "alright",
    "perfect", "great", "absolutely", "definitely", "confirm", "fine", "please do", "go ahead",
    "sounds good", "that works", "do it", "book it", "that's right", "of course",
];

#[rustfmt::skip]
pub const NO: &[&str] = &[
    "no", "nope", "nah", "don't", "dont", "wrong", "incorrect", "not right", "not correct",
    "no thanks", "not really",
];

#[rustfmt::skip]
pub const CANCEL: &[&str] = &[
    "cancel", "cancellation", "call off", "can't make it", "cannot make it", "won't make it",
    "unbook", "can't make my", "cannot make my", "can't come", "won't be able", "not be able to make",
];

#[rustfmt::skip]
pub const AVAILABILITY: &[&str] = &[
    "available", "availability", "free", "opening", "openings", "open", "slot", "slots",
    "when can", "earliest", "soonest", "1st available", "next available", "any time", "what times",
    "which times", "what time", "is there anything", "anything with", "anything on", "same day",
    "that day", "have anything", "has anything", "anything that", "anything in the",
];

#[rustfmt::skip]
pub const PATIENT_INFO: &[&str] = &[
    "my appointments", "my details", "my information", "my info", "my record", "my records",
    "my file", "my insurance", "on file", "do i have", "upcoming appointments", "look me up",
    "my next appointment", "when is my appointment", "what is my appointment",
    "when's my appointment", "what's my appointment", "my phone number", "my allergies",
    "is my appointment", "my appointment is", "check my appointment", "am i booked",
    "anything booked", "anything coming up", "upcoming visits", "my appointment time",
    "my appointment details", "when my appointment", "confirm my booking", "when am i",
    "which doctor am i", "am i seeing", "is she seeing", "is he seeing", "for me on file",
    "you have for me", "my booking", "did my appointment", "next in", "my next visit",
    "i'm seeing", "supposed to come in", "look up my appointment", "find my appointment",
    "check on my appointment",
];

#[rustfmt::skip]
pub const BOOK: &[&str] = &[
    "book", "booking", "schedule", "reserve", "appointment", "appt", "see a", "see doctor",
    "see dr", "see the", "come in", "get in", "i'll take", "take it", "let's do", "make it",
    "set up", "visit",
];

#[rustfmt::skip]
pub const DOCTOR_INFO: &[&str] = &[
    "hours", "what days", "which days", "when does", "when do", "who is", "who are",
    "tell me about", "which doctors", "what doctors", "your doctors", "do you have a",
    "do you have any", "speak", "speaks", "language", "languages", "work", "works", "working",
    "specialities", "specialties", "speciality", "specialty", "what kind", "doctors",
    "know who", "tell me who", "who the", "who's the", "who i'd be seeing", "who would i see",
];

/// Words that end a name or a reason.
#[rustfmt::skip]
pub const STOP: &[&str] = &[
    "and", "my", "i", "i'm", "im", "born", "date", "birth", "birthday", "dob", "from", "calling",
    "on", "at", "the", "with", "to", "for", "please", "here", "is", "was", "but", "so", "today",
    "tomorrow", "next", "this", "who", "that", "calling", "speaking", "i'd", "id", "would", "want",
    "need", "like", "about", "of", "in", "calling",
];

/// Words that are not names, whatever follows "i'm".
#[rustfmt::skip]
pub const NOT_NAMES: &[&str] = &[
    "calling", "looking", "trying", "wondering", "sorry", "not", "fine", "good", "here", "a", "an",
    "the", "just", "interested", "available", "free", "hoping", "phoning", "ringing", "afraid",
    "sure", "done", "going", "having", "feeling", "still", "also", "so", "very", "really", "in",
    "at", "on", "new", "yes", "no", "okay", "ok", "well", "doing", "booked", "the", "patient",
    "after", "after", "about",
];

#[rustfmt::skip]
pub const NOT_DOCTOR_WORDS: &[&str] = &[
    "on", "at", "for", "in", "is", "the", "a", "an", "and", "please", "today", "tomorrow", "this",
    "next", "available", "free", "about", "who", "that", "appointment", "office", "to", "with",
    "or", "if", "there", "you", "i", "me", "my", "have", "has", "does", "do", "can", "could",
    "would", "will", "be", "visit", "tell", "hours", "work", "works", "see", "her", "him",
    "them", "appointments", "appointment's",
];

#[rustfmt::skip]
pub const FAMILY: &[&str] = &[
    "son", "daughter", "child", "kid", "kids", "wife", "husband", "mother", "father", "mom", "dad",
    "baby", "self", "myself", "me",
];

/// Everyday words that are never part of a name ("actually make it three" is no name).
#[rustfmt::skip]
pub const COMMON: &[&str] = &[
    "actually", "make", "it", "is", "be", "can", "could", "would", "should", "want", "need", "like",
    "book", "appointment", "cancel", "time", "day", "please", "thanks", "thank", "you", "yes", "no",
    "okay", "ok", "sure", "the", "a", "an", "and", "or", "but", "so", "what", "when", "where",
    "which", "who", "how", "why", "this", "that", "there", "here", "have", "has", "had", "do",
    "does", "did", "not", "just", "about", "for", "from", "with", "at", "on", "in", "to", "of",
    "my", "your", "me", "we", "they", "he", "she", "him", "her", "them", "instead", "again",
    "sorry", "hello", "hi", "hey", "morning", "afternoon", "evening", "doctor", "dr", "free",
    "available", "sounds", "good", "great", "fine", "right", "wrong", "earliest", "first",
    "any", "anytime", "whatever", "maybe", "one", "wait", "hmm", "um", "uh", "check", "see",
    "tomorrow", "today", "next", "week", "name", "birth", "date", "born", "reason", "visit",
    "headache", "headaches", "pain", "rash", "fever", "cough", "checkup", "follow", "up",
    "details", "detail", "info", "information", "record", "records", "appointments", "booking",
];

/// Languages callers may ask doctors to speak.
#[rustfmt::skip]
pub const LANGUAGES: &[&str] = &[
    "english", "spanish", "french", "german", "italian", "portuguese", "mandarin", "cantonese",
    "chinese", "japanese", "korean", "hindi", "gujarati", "urdu", "arabic", "russian", "polish",
    "vietnamese", "tagalog", "punjabi", "bengali",
];

#[rustfmt::skip]
pub const RESCHEDULE: &[&str] = &[
    "reschedule", "rebook", "move my appointment", "change my appointment", "push back my",
    "move it", "different time for my",
];

/// Words that may come before a question ("and what are ...", "sorry, who is ...").
#[rustfmt::skip]
pub const QUESTION_LEAD_IN: &[&str] = &[
    "and", "so", "um", "uh", "oh", "ok", "okay", "also", "sorry", "actually", "well", "hey", "hi",
    "hello", "but", "wait", "quick", "question", "just", "yes", "yeah", "thanks", "thank", "you",
];

/// First words of a question about a doctor ("what are doctor chen's hours").
#[rustfmt::skip]
pub const QUESTION_WORDS: &[&str] = &[
    "what", "what's", "whats", "who", "who's", "whos", "which", "tell", "when", "when's", "is",
    "does", "do", "how", "describe",
];

/// Sounds that carry no words.
pub const HESITATIONS: &[&str] = &["uh", "um", "er", "erm", "ah", "uhm", "hm", "mm", "like"];

/// How recognisers write "doctor" before a name they do not know ("Dokkur Rasi").
pub const DOCTOR_AS_HEARD: &[&str] = &[
    "docker", "dokkur", "ducker", "dokter", "doktor", "doctur", "dockter", "doctah", "docta",
];

/// What a receptionist cannot do: judge symptoms, handle prescriptions, bills or errands.
#[rustfmt::skip]
pub const OUT_OF_SCOPE: &[&str] = &[
    "should i take", "is it safe", "serious", "cancerous", "dangerous", "what does it mean",
    "results mean", "test results", "diagnose", "dose", "dosage", "how much calpol",
    "prescription", "refill", "pharmacy", "refund", "charged", "billing", "my bill",
    "insurance to cover", "parking", "fine in", "weather", "alarm", "pizza", "the score",
    "taxi", "joke", "recipe",
];

/// Asking when a doctor works in general, not for a free slot.
#[rustfmt::skip]
pub const WORKING_HOURS: &[&str] = &[
    "start", "starts", "finish", "finishes", "schedule", "opening hours", "hours",
    "information about", "info about", "some information", "in general", "work on", "works on",
];

/// Asking what a doctor does rather than when they work.
#[rustfmt::skip]
pub const ABOUT_DOCTOR: &[&str] = &[
    "tell me about", "what does", "what do", "who is", "who's", "more about", "describe",
    "what kind of doctor", "what is doctor", "what's doctor", "specialise", "specialize",
    "specialises", "specializes",
];

/// Asking for the details on file rather than upcoming appointments.
#[rustfmt::skip]
pub const RECORD_DETAILS: &[&str] = &[
    "details", "information", "info", "record", "records", "file", "insurance", "phone",
    "allergies", "notes",
];

/// Words that answer a question without giving a reason for a visit.
#[rustfmt::skip]
pub const NOT_REASON: &[&str] = &[
    "yes", "yeah", "yep", "yup", "ya", "sure", "ok", "okay", "alright", "please", "book", "it",
    "that", "this", "is", "fine", "go", "ahead", "do", "just", "thanks", "thank", "you", "no",
    "nope", "nah", "nothing", "none", "correct", "right", "great", "perfect", "good", "sounds",
    "um", "uh", "well", "so", "and", "the", "a", "an", "i", "me", "reason", "particular",
    "special", "really", "not", "don't", "dont", "know", "general", "appointment", "visit",
    "confirm", "absolutely", "definitely", "of", "course", "works", "on",
];

/// Asking when the clinic is open, with no doctor named.
#[rustfmt::skip]
pub const CLINIC_HOURS: &[&str] = &[
    "your hours", "opening hours", "office hours", "clinic hours", "when are you open",
    "what time do you open", "what time do you close", "are you open", "when do you open",
    "when do you close", "what are the hours", "what hours",
];
