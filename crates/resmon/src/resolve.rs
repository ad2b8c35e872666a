//! From a container name or a systemd unit to its cgroup and main PID (`--container`,
//! `--unit`), through the tools that own them: `docker inspect` (then `podman inspect`) and
//! `systemctl show`. The cgroup of a container is read from its init process's
//! `/proc/PID/cgroup`, which holds for every cgroup driver (cgroupfs or systemd) and version.

use std::process::Command;

/// What a container or unit resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The tool that answered (`docker`, `podman`, `systemctl`).
    pub tool: &'static str,
    /// The cgroup's path in the hierarchy.
    pub cgroup: String,
    /// The container's init process / the unit's main PID.
    pub pid: i32,
    /// Restarts so far (`docker inspect .RestartCount`; `None` for units).
    pub restart_count: Option<u64>,
}

/// Why a container or unit could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No tool to ask is installed or it could not run (exit 3).
    #[error("{flag} {name}: {reason}")]
    Environment {
        /// `--container` / `--unit`.
        flag: &'static str,
        /// The name given.
        name: String,
        /// Why.
        reason: String,
    },
    /// The tool answered that the container or unit is not there or not running (exit 2).
    #[error("{flag} {name}: {reason}")]
    NotFound {
        /// `--container` / `--unit`.
        flag: &'static str,
        /// The name given.
        name: String,
        /// Why.
        reason: String,
    },
}

/// First line of a tool's error output, or its exit status.
fn first_line(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| format!("exited with {}", out.status))
}

/// The cgroup of a running process, from `/proc/PID/cgroup`.
pub fn cgroup_of_pid(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    crate::cgroup::path_of_pid(&text)
}

/// `PID RESTARTCOUNT` as `docker inspect --format` prints it.
fn parse_inspect(text: &str) -> Option<(i32, u64)> {
    let mut it = text.split_ascii_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Resolves a container through docker, then podman.
pub fn container(name: &str) -> Result<Resolved, ResolveError> {
    let flag = "--container";
    let mut reasons = Vec::new();
    let mut answered = false;
    for tool in ["docker", "podman"] {
        let out = match Command::new(tool)
            .args(["inspect", "--type", "container", "--format"])
            .arg("{{.State.Pid}} {{.RestartCount}}")
            .arg(name)
            .output()
        {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                reasons.push(format!("{tool}: not installed"));
                continue;
            }
            Err(e) => {
                reasons.push(format!("{tool}: {e}"));
                continue;
            }
        };
        if !out.status.success() {
            let line = first_line(&out);
            // "No such container" is an answer about the name; a daemon that cannot be
            // reached is the environment's failure.
            answered |= line.to_ascii_lowercase().contains("no such");
            reasons.push(format!("{tool} inspect: {line}"));
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let Some((pid, restarts)) = parse_inspect(&text) else {
            reasons.push(format!(
                "{tool} inspect: unexpected output '{}'",
                text.trim()
            ));
            continue;
        };
        if pid <= 0 {
            return Err(ResolveError::NotFound {
                flag,
                name: name.to_string(),
                reason: format!("{tool}: the container is not running"),
            });
        }
        let cgroup = cgroup_of_pid(pid).ok_or_else(|| ResolveError::NotFound {
            flag,
            name: name.to_string(),
            reason: format!("{tool}: init PID {pid} has no readable /proc/{pid}/cgroup"),
        })?;
        return Ok(Resolved {
            tool,
            cgroup,
            pid,
            restart_count: Some(restarts),
        });
    }
    let reason = reasons.join("; ");
    let name = name.to_string();
    Err(if answered {
        ResolveError::NotFound { flag, name, reason }
    } else {
        ResolveError::Environment { flag, name, reason }
    })
}

/// `ControlGroup=` and `MainPID=` of `systemctl show` output.
pub fn parse_show(text: &str) -> (Option<String>, Option<i32>) {
    let mut cgroup = None;
    let mut pid = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("ControlGroup=") {
            cgroup = Some(v.trim().to_string()).filter(|v| !v.is_empty());
        } else if let Some(v) = line.strip_prefix("MainPID=") {
            pid = v.trim().parse().ok();
        }
    }
    (cgroup, pid)
}

/// Resolves a systemd unit (`--user` units are not looked at).
pub fn unit(name: &str) -> Result<Resolved, ResolveError> {
    let flag = "--unit";
    let env = |reason: String| ResolveError::Environment {
        flag,
        name: name.to_string(),
        reason,
    };
    let out = Command::new("systemctl")
        .args(["show", "-p", "ControlGroup", "-p", "MainPID", "--"])
        .arg(name)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => env("systemctl: not installed".to_string()),
            _ => env(format!("systemctl: {e}")),
        })?;
    if !out.status.success() {
        return Err(env(format!("systemctl show: {}", first_line(&out))));
    }
    let (cgroup, pid) = parse_show(&String::from_utf8_lossy(&out.stdout));
    let cgroup = cgroup.ok_or_else(|| ResolveError::NotFound {
        flag,
        name: name.to_string(),
        reason: "systemctl: the unit has no control group (not loaded or not running)".to_string(),
    })?;
    Ok(Resolved {
        tool: "systemctl",
        cgroup,
        pid: pid.unwrap_or(0),
        restart_count: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output_parses() {
        let (cg, pid) = parse_show("MainPID=812\nControlGroup=/system.slice/bot.service\n");
        assert_eq!(cg.as_deref(), Some("/system.slice/bot.service"));
        assert_eq!(pid, Some(812));
        assert_eq!(parse_show("MainPID=0\nControlGroup=\n"), (None, Some(0)));
    }

    #[test]
    fn inspect_output_parses() {
        assert_eq!(parse_inspect("4242 3\n"), Some((4242, 3)));
        assert_eq!(parse_inspect("[]\n"), None);
    }
}
