//! The sentence buffer on its own: type or pipe text in, see chunks come out the moment they are
//! complete, exactly as the TTS stage would receive them.
//!
//! ```text
//! printf 'Hello there, how are you doing today? I am fine.' | cargo run --release --example sentence_buffer
//! (printf 'Hi Dr. Smith. '; sleep 1; printf 'Your appointment is at 3:30 p.m. on Tuesday.') \
//!     | cargo run --release --example sentence_buffer
//! ```

use std::io::{self, Read, Write};

use voice_agent::foundation::text::{SentenceBuffer, SentenceConfig};

fn main() -> io::Result<()> {
    let mut buffer = SentenceBuffer::new(SentenceConfig::default());
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut bytes = [0u8; 4096];
    // Bytes of a UTF-8 character split across two reads wait here for the rest.
    let mut pending: Vec<u8> = Vec::new();

    loop {
        // `read` returns whatever has arrived so far, like tokens from a streaming LLM.
        let n = match stdin.read(&mut bytes) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        pending.extend_from_slice(&bytes[..n]);
        let text = take_utf8(&mut pending);
        for chunk in buffer.push(&text) {
            writeln!(stdout, "{chunk}")?;
            stdout.flush()?;
        }
    }

    // End of input: an incomplete character left over is invalid; show it as U+FFFD.
    let rest = String::from_utf8_lossy(&pending);
    let mut chunks = buffer.push(&rest);
    chunks.extend(buffer.finish());
    for chunk in chunks {
        writeln!(stdout, "{chunk}")?;
    }
    stdout.flush()
}

/// Takes the longest valid UTF-8 prefix out of `pending`, keeping an incomplete trailing character
/// for the next read. Invalid bytes become U+FFFD.
fn take_utf8(pending: &mut Vec<u8>) -> String {
    let mut text = String::new();
    loop {
        match std::str::from_utf8(pending) {
            Ok(valid) => {
                text.push_str(valid);
                pending.clear();
                return text;
            }
            Err(e) => {
                let (valid, rest) = pending.split_at(e.valid_up_to());
                // Checked by from_utf8 just above.
                text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                match e.error_len() {
                    // Truly invalid bytes: replace them and go on.
                    Some(bad) => {
                        text.push(char::REPLACEMENT_CHARACTER);
                        *pending = rest[bad..].to_vec();
                    }
                    // A character cut by the read boundary: wait for its other bytes.
                    None => {
                        *pending = rest.to_vec();
                        return text;
                    }
                }
            }
        }
    }
}
