//! What the process and the machine are doing, read from Linux's `/proc`: CPU time used by this
//! process (all threads), its resident and peak memory, the load average and the CPU model.
//! Every reader returns `None` where `/proc` is missing (other systems), never fails the bench.

use serde::{Deserialize, Serialize};

/// Clock ticks per second of `/proc/self/stat` times. USER_HZ is 100 on every Linux ABI the
/// project builds for (it is fixed for user space, independent of the kernel's HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU seconds from the text of `/proc/<pid>/stat`.
pub fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields restart after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// CPU seconds this process has used so far (all threads).
pub fn cpu_seconds() -> Option<f64> {
    parse_cpu_seconds(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Resident memory of the process, in MiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Resident now (VmRSS).
    pub rss_mb: f64,
    /// The peak resident size (VmHWM) since the start or the last [`reset_peak`].
    pub peak_mb: f64,
}

/// VmRSS and VmHWM from the text of `/proc/<pid>/status`.
pub fn parse_memory(status: &str) -> Option<Memory> {
    let kb = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        let v: f64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
        Some(v / 1024.0)
    };
    Some(Memory {
        rss_mb: kb("VmRSS:")?,
        peak_mb: kb("VmHWM:")?,
    })
}

pub fn memory() -> Option<Memory> {
    parse_memory(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Start a new peak-memory window (Linux 4.0+: writing 5 to clear_refs resets VmHWM to VmRSS).
/// False when the kernel refused, in which case the peak is the lifetime peak.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The 1, 5 and 15 minute load averages from the text of `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

pub fn load_average() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// The machine a run was made on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub os: String,
    pub memory_gb: Option<f64>,
    /// Load average (1, 5, 15 min) when the bench started and when it ended: other work on the
    /// machine shows up in every number.
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

impl Machine {
    pub fn detect() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let os = match read("/proc/sys/kernel/osrelease").trim() {
            "" => std::env::consts::OS.to_string(),
            release => format!("{} {release}", std::env::consts::OS),
        };
        let memory_gb = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map(|kb| kb / 1024.0 / 1024.0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(&read("/proc/cpuinfo")).unwrap_or_else(|| "unknown CPU".into()),
            os,
            memory_gb,
            load_before: load_average(),
            load_after: None,
        }
    }

    /// One line: "2 x Intel(R) Xeon(R) ..., 8 GB, linux 6.1 (load 1.2 / 0.9 before, ...)".
    pub fn describe(&self) -> String {
        let load = |l: Option<[f64; 3]>| {
            l.map_or("?".to_string(), |l| {
                format!("{:.1}/{:.1}/{:.1}", l[0], l[1], l[2])
            })
        };
        let mem = self
            .memory_gb
            .map_or(String::new(), |g| format!(", {g:.0} GB RAM"));
        format!(
            "{} x {}{mem}, {}; load average (1/5/15 min) {} before, {} after",
            self.cpus,
            self.cpu_model,
            self.os,
            load(self.load_before),
            load(self.load_after)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_after_a_tricky_command_name() {
        let stat = "1234 (va (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_cpu_seconds(stat), Some(3.0));
        assert_eq!(parse_cpu_seconds("garbage"), None);
        assert_eq!(parse_cpu_seconds("1 (x) S 1"), None);
    }

    #[test]
    fn reads_resident_and_peak_memory() {
        let status = "Name:\tx\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t3\n";
        assert_eq!(
            parse_memory(status),
            Some(Memory {
                rss_mb: 100.0,
                peak_mb: 200.0
            })
        );
        assert_eq!(parse_memory("Name: x\n"), None);
    }

    #[test]
    fn reads_the_load_average() {
        assert_eq!(
            parse_loadavg("0.50 1.25 2.00 3/456 7890\n"),
            Some([0.5, 1.25, 2.0])
        );
        assert_eq!(parse_loadavg("x"), None);
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: Test CPU @ 2GHz\n").as_deref(),
            Some("Test CPU @ 2GHz")
        );
    }

    #[test]
    fn this_process_is_measurable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(cpu_seconds().is_some());
            let m = memory().expect("VmRSS on Linux");
            assert!(m.rss_mb > 0.0 && m.peak_mb >= m.rss_mb);
        }
    }
}
