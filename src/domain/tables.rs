//! Rows of the SQLite tables that both the store and the first-use seeding read.

use rusqlite::Connection;

use super::calendar::{Time, Weekday};
use super::model::{Result, ScheduleBlock, StoreError};

/// A doctor's weekly schedule, in weekday and start order.
pub fn schedule_of(conn: &Connection, doctor_id: i64) -> Result<Vec<ScheduleBlock>> {
    let mut stmt = conn.prepare(
        "SELECT weekday, start_min, end_min, slot_min FROM schedules
         WHERE doctor_id = ?1 ORDER BY weekday, start_min",
    )?;
    let rows = stmt.query_map([doctor_id], |r| {
        Ok((
            r.get::<_, u8>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, u32>(2)?,
            r.get::<_, u32>(3)?,
        ))
    })?;
    let mut blocks = Vec::new();
    for row in rows {
        let (weekday, start, end, slot_minutes) = row?;
        let (Some(start), Some(end)) = (Time::from_minutes(start), Time::from_minutes(end)) else {
            return Err(StoreError::Corrupt(format!(
                "schedule of doctor {doctor_id}"
            )));
        };
        blocks.push(ScheduleBlock {
            weekday: Weekday::from_index(weekday),
            start,
            end,
            slot_minutes,
        });
    }
    Ok(blocks)
}
