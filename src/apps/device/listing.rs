//! What `voice-agent mic --list-devices` prints: hosts, their devices and default formats.

use std::fmt::Write as _;

use super::stream::StreamSpec;

/// One device and its default stream format (or why it has none).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    pub name: String,
    pub is_default: bool,
    pub config: Result<StreamSpec, String>,
}

/// One audio host (ALSA, JACK, WASAPI, CoreAudio...) and its devices.
#[derive(Clone, Debug, PartialEq)]
pub struct HostListing {
    pub host: String,
    pub is_default: bool,
    pub inputs: Vec<DeviceInfo>,
    pub outputs: Vec<DeviceInfo>,
    /// The host could not list its devices.
    pub error: Option<String>,
}

fn section(out: &mut String, what: &str, devices: &[DeviceInfo]) {
    let _ = writeln!(out, "  {what} devices:");
    if devices.is_empty() {
        let _ = writeln!(out, "    no {what} devices found");
    }
    for d in devices {
        let mark = if d.is_default { " (default)" } else { "" };
        match &d.config {
            Ok(spec) => {
                let _ = writeln!(out, "    {}{mark}: {spec}", d.name);
            }
            Err(e) => {
                let _ = writeln!(out, "    {}{mark}: no usable default format ({e})", d.name);
            }
        }
    }
}

/// The listing as text, ending with a hint when nothing usable was found.
pub fn format_listing(hosts: &[HostListing]) -> String {
    let mut out = String::new();
    if hosts.is_empty() {
        out.push_str("no audio hosts available\n");
    }
    for h in hosts {
        let mark = if h.is_default { " (default)" } else { "" };
        let _ = writeln!(out, "host {}{mark}", h.host);
        if let Some(e) = &h.error {
            let _ = writeln!(out, "  cannot list devices: {e}");
            continue;
        }
        section(&mut out, "input", &h.inputs);
        section(&mut out, "output", &h.outputs);
    }
    let usable = |d: &DeviceInfo| d.config.is_ok();
    let inputs = hosts.iter().flat_map(|h| &h.inputs).any(usable);
    let outputs = hosts.iter().flat_map(|h| &h.outputs).any(usable);
    if !inputs || !outputs {
        let missing = match (inputs, outputs) {
            (false, false) => "no input and no output device",
            (false, true) => "no input device",
            _ => "no output device",
        };
        let _ = writeln!(
            out,
            "{missing} is usable: `voice-agent mic` needs a microphone and a speaker \
             (no sound card, or none this user may open); `voice-agent run` works without"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::device::SampleKind;

    #[test]
    fn a_host_without_devices_says_so() {
        let text = format_listing(&[HostListing {
            host: "ALSA".into(),
            is_default: true,
            inputs: vec![],
            outputs: vec![],
            error: None,
        }]);
        assert!(text.starts_with("host ALSA (default)\n"), "{text}");
        assert!(text.contains("    no input devices found\n"), "{text}");
        assert!(text.contains("    no output devices found\n"), "{text}");
        assert!(
            text.contains("no input and no output device is usable"),
            "{text}"
        );
    }

    #[test]
    fn devices_show_their_default_format() {
        let spec = StreamSpec {
            rate: 44_100,
            channels: 2,
            format: SampleKind::I16,
        };
        let text = format_listing(&[HostListing {
            host: "ALSA".into(),
            is_default: true,
            inputs: vec![DeviceInfo {
                name: "USB Headset".into(),
                is_default: true,
                config: Ok(spec),
            }],
            outputs: vec![
                DeviceInfo {
                    name: "HDMI".into(),
                    is_default: false,
                    config: Err("busy".into()),
                },
                DeviceInfo {
                    name: "USB Headset".into(),
                    is_default: true,
                    config: Ok(spec),
                },
            ],
            error: None,
        }]);
        assert!(
            text.contains("    USB Headset (default): 44100 Hz, 2 ch, i16\n"),
            "{text}"
        );
        assert!(
            text.contains("    HDMI: no usable default format (busy)\n"),
            "{text}"
        );
        assert!(!text.contains("is usable"), "{text}");
    }
}
