//! The machine a run happens on: CPU, cores, kernel, toolchain, date, and how busy other processes kept it.

use std::process::Command;

/// The machine and the moment of the run.
pub struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// Cores available to this process.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// UTC date and time of the run.
    pub date: String,
    /// `rustc --version`.
    pub rustc: String,
    /// 1, 5 and 15 minute load averages at start.
    pub load: String,
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Machine {
    /// Reads `/proc` and asks `date` and `rustc`.
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: read("/proc/sys/kernel/osrelease"),
            date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
                .unwrap_or_else(|| "unknown".into()),
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            load: read("/proc/loadavg")
                .split(' ')
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// CPU time used by other processes while the benchmark ran (a noise indicator on a shared machine).
pub struct CpuMeter {
    busy_ticks: u64,
    own_ticks: u64,
}

/// Non-idle ticks of the whole machine (`/proc/stat`).
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
    v.iter().sum::<u64>() - v.get(3).copied().unwrap_or(0) - v.get(4).copied().unwrap_or(0)
}

/// Ticks used by this process and its waited-for children (`/proc/self/stat` utime, stime, cutime, cstime).
fn own_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime is field 14 of the whole line, i.e. index 11 here.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum()
}

impl CpuMeter {
    /// Starts counting.
    pub fn start() -> CpuMeter {
        CpuMeter {
            busy_ticks: machine_busy_ticks(),
            own_ticks: own_ticks(),
        }
    }

    /// CPU seconds other processes used since [`CpuMeter::start`] (ticks assumed 100 per second, as on Linux).
    pub fn others_secs(&self) -> f64 {
        let busy = machine_busy_ticks().saturating_sub(self.busy_ticks);
        let own = own_ticks().saturating_sub(self.own_ticks);
        busy.saturating_sub(own) as f64 / 100.0
    }
}
