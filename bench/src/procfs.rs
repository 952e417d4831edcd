//! What `/proc/<pid>` says about a process: resident memory and CPU time consumed so far.

use std::{fs, io, path::PathBuf};

/// Linux reports `utime`/`stime` in `USER_HZ` ticks, which the kernel ABI fixes at 100 on every
/// architecture it exports them for (what `getconf CLK_TCK` prints).
const USER_HZ: u64 = 100;

/// Which process to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid {
    /// The calling process.
    Myself,
    /// Another process by id.
    Of(u32),
}

impl Pid {
    fn dir(self) -> PathBuf {
        match self {
            Self::Myself => PathBuf::from("/proc/self"),
            Self::Of(pid) => PathBuf::from(format!("/proc/{pid}")),
        }
    }
}

/// CPU time a process has used, read two ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTime {
    /// `utime + stime` from `/proc/<pid>/stat` in microseconds (10 ms resolution), including
    /// threads that have already exited.
    pub stat_us: u64,
    /// The sum of the first field of `/proc/<pid>/task/*/schedstat` (nanoseconds on CPU) in
    /// microseconds: exact, but blind to threads that exited between two samples. `None` when
    /// the kernel has no schedstat.
    pub sched_us: Option<u64>,
}

impl CpuTime {
    /// CPU microseconds from `earlier` to `self`: the exact schedstat delta when both samples have
    /// it and it agrees with the tick count within that count's resolution (so no thread came or
    /// went unseen), the tick delta otherwise.
    pub fn micros_since(&self, earlier: &Self) -> u64 {
        let ticks = self.stat_us.saturating_sub(earlier.stat_us);
        match (self.sched_us, earlier.sched_us) {
            (Some(now), Some(then)) => {
                let exact = now.saturating_sub(then);
                // Each of utime and stime is rounded to a tick in each sample.
                let slack = 4 * 1_000_000 / USER_HZ + ticks / 10;
                if exact.abs_diff(ticks) <= slack {
                    exact
                } else {
                    ticks
                }
            }
            _ => ticks,
        }
    }
}

/// Reads the process's CPU time.
pub fn cpu_time(pid: Pid) -> io::Result<CpuTime> {
    let dir = pid.dir();
    let stat = fs::read_to_string(dir.join("stat"))?;
    let stat_us = parse_stat_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc stat"))?
        * (1_000_000 / USER_HZ);
    Ok(CpuTime {
        stat_us,
        sched_us: sched_micros(&dir),
    })
}

/// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: Pid) -> io::Result<u64> {
    let status = fs::read_to_string(pid.dir().join("status"))?;
    parse_vm_rss(&status)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc status"))
}

/// Whether the process still exists (and is not a zombie).
pub fn is_alive(pid: u32) -> bool {
    fs::read_to_string(Pid::Of(pid).dir().join("stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s != "Z"))
        })
        .unwrap_or(false)
}

/// Raises this process's soft limit on open files to its hard limit and returns the new soft
/// limit: one client is one socket.
pub fn raise_open_files_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

fn sched_micros(dir: &std::path::Path) -> Option<u64> {
    let mut total_ns: u64 = 0;
    for task in fs::read_dir(dir.join("task")).ok()? {
        let Ok(task) = task else { continue };
        // A thread may exit between listing and reading: it then simply does not count.
        let Ok(schedstat) = fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total_ns += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total_ns / 1000)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name in
/// parentheses may itself contain spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 3 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(42));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\tserver\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(5120));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn exact_delta_is_used_only_when_ticks_agree() {
        let earlier = CpuTime {
            stat_us: 1_000_000,
            sched_us: Some(1_000_000),
        };
        let agreeing = CpuTime {
            stat_us: 1_500_000,
            sched_us: Some(1_512_345),
        };
        assert_eq!(agreeing.micros_since(&earlier), 512_345);
        let thread_vanished = CpuTime {
            stat_us: 3_000_000,
            sched_us: Some(1_100_000),
        };
        assert_eq!(thread_vanished.micros_since(&earlier), 2_000_000);
    }

    #[test]
    fn this_process_can_be_sampled() {
        assert!(rss_kib(Pid::Myself).expect("own status") > 0);
        let cpu = cpu_time(Pid::Myself).expect("own stat");
        assert!(cpu.stat_us.is_multiple_of(10_000));
        assert!(is_alive(std::process::id()));
    }
}
