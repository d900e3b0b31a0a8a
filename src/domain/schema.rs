//! The JSON schemas of the receptionist's tools, as offered to a model.

use serde_json::json;

use crate::providers::llm::ToolSpec;

const DOCTOR: &str = "A doctor's name as the caller said it (e.g. 'Patel', 'Dr. Emily Chen') \
    or a speciality (e.g. 'cardiology', 'dermatologist')";
const DATE: &str = "The day as the caller said it: 'today', 'tomorrow', 'Tuesday', 'next Monday', \
    'the 15th', 'December 3', or YYYY-MM-DD";
const NAME: &str = "The patient's full name, first and last";
const DOB: &str = "The patient's date of birth, e.g. 'March 4, 1985' or 1985-03-04";

fn spec(name: &str, description: &str, parameters: serde_json::Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters,
    }
}

pub fn specs() -> Vec<ToolSpec> {
    vec![
        spec(
            "check_availability",
            "List free appointment times on one day, for one doctor, a speciality, or any doctor. \
             If nothing is free it also returns the next day with openings.",
            json!({
                "type": "object",
                "properties": {
                    "doctor": { "type": "string", "description": format!("{DOCTOR}; omit for any doctor") },
                    "date": { "type": "string", "description": DATE },
                    "time_of_day": {
                        "type": "string",
                        "description": "Optional: 'morning', 'afternoon', 'evening', or a time like '3 pm' to check that exact time"
                    }
                },
                "required": ["date"]
            }),
        ),
        spec(
            "schedule_appointment",
            "Book an appointment. Confirm the details with the caller first. The name and date of \
             birth must match the caller's record; for a caller on their first visit, set \
             new_patient to true and the record is made with the booking.",
            json!({
                "type": "object",
                "properties": {
                    "patient_name": { "type": "string", "description": NAME },
                    "date_of_birth": { "type": "string", "description": DOB },
                    "doctor": { "type": "string", "description": DOCTOR },
                    "date": { "type": "string", "description": DATE },
                    "time": { "type": "string", "description": "The start time, e.g. '3 pm', '15:00', '9:30 am'" },
                    "reason": { "type": "string", "description": "Why the patient is coming, in a few words" },
                    "phone": { "type": "string", "description": "Optional phone number for a new patient" },
                    "new_patient": { "type": "boolean", "description": "True only when the caller said this is their first visit" }
                },
                "required": ["patient_name", "date_of_birth", "doctor", "date", "time", "reason"]
            }),
        ),
        spec(
            "cancel_appointment",
            "Cancel one of the caller's upcoming appointments. Needs the caller's name and date of \
             birth, plus the appointment id, or its date and/or doctor when there are several.",
            json!({
                "type": "object",
                "properties": {
                    "patient_name": { "type": "string", "description": NAME },
                    "date_of_birth": { "type": "string", "description": DOB },
                    "appointment_id": { "type": "integer", "description": "The appointment number, if known" },
                    "date": { "type": "string", "description": "The appointment's day, if no id" },
                    "doctor": { "type": "string", "description": "The appointment's doctor, if no id" }
                },
                "required": ["patient_name", "date_of_birth"]
            }),
        ),
        spec(
            "get_patient_info",
            "Look up the caller's own record and upcoming appointments after verifying their name \
             and date of birth.",
            json!({
                "type": "object",
                "properties": {
                    "patient_name": { "type": "string", "description": NAME },
                    "date_of_birth": { "type": "string", "description": DOB }
                },
                "required": ["patient_name", "date_of_birth"]
            }),
        ),
        spec(
            "get_doctor_info",
            "Doctors of the clinic: names, specialities, languages and working hours. Give a \
             doctor or speciality, or omit it for everyone.",
            json!({
                "type": "object",
                "properties": {
                    "doctor": { "type": "string", "description": format!("{DOCTOR}; omit for all doctors") }
                }
            }),
        ),
    ]
}
