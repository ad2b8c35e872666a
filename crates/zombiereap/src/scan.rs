//! `zombiereap scan`: every zombie on the machine (or in one tree), with its parent.

use std::collections::BTreeMap;
#[cfg(target_os = "linux")]
use std::time::Duration;

#[cfg(target_os = "linux")]
use soak_core::proc::{ProcStat, ProcessTable, cmdline, start_time_unix};
#[cfg(target_os = "linux")]
use soak_core::record::Timestamp;
use soak_core::record::{Finding, Record, RecordType, Severity};

/// One zombie and what is known of its parent.
#[derive(Debug, Clone, PartialEq)]
pub struct Zombie {
    /// The zombie's PID.
    pub pid: i32,
    /// Its name (`comm`).
    pub name: String,
    /// The parent that has not reaped it.
    pub ppid: i32,
    /// The parent's name.
    pub parent_name: Option<String>,
    /// The parent's state letter.
    pub parent_state: Option<char>,
    /// The parent's command line.
    pub parent_cmdline: Option<String>,
    /// Seconds since the zombie process started.
    pub age_s: Option<f64>,
}

/// The zombies in `table`, restricted to `root` and its descendants when given, and to those at
/// least `min_age` old.
#[cfg(target_os = "linux")]
pub fn find_zombies(table: &ProcessTable, root: Option<i32>, min_age: Duration) -> Vec<Zombie> {
    let in_scope: Option<Vec<i32>> = root.map(|r| {
        let mut v = table.descendants(r);
        v.push(r);
        v
    });
    let now = Timestamp::now().unix();
    table
        .iter()
        .filter(|s| s.is_zombie())
        .filter(|s| in_scope.as_ref().is_none_or(|v| v.contains(&s.pid)))
        .map(|s| zombie_of(table, s, now))
        .filter(|z| z.age_s.is_none_or(|a| a >= min_age.as_secs_f64()))
        .collect()
}

#[cfg(target_os = "linux")]
fn zombie_of(table: &ProcessTable, s: &ProcStat, now: f64) -> Zombie {
    let parent = table.get(s.ppid);
    Zombie {
        pid: s.pid,
        name: s.comm.clone(),
        ppid: s.ppid,
        parent_name: parent.map(|p| p.comm.clone()),
        parent_state: parent.map(|p| p.state),
        parent_cmdline: cmdline(s.ppid).ok().map(|c| c.join(" ")),
        age_s: start_time_unix(s)
            .ok()
            .map(|t| ((now - t).max(0.0) * 10.0).round() / 10.0),
    }
}

/// The `finding` record of a zombie (severity medium: a process-table slot held until its
/// parent reaps it or exits).
pub fn finding(z: &Zombie) -> Record {
    let parent = z.parent_name.as_deref().unwrap_or("?");
    let message = format!(
        "zombie {} ({}) not reaped by its parent {} ({parent})",
        z.pid, z.name, z.ppid
    );
    Finding::new("zombie", Severity::Medium, message)
        .with("pid", z.pid)
        .with("name", z.name.clone())
        .with("ppid", z.ppid)
        .with("parent_name", z.parent_name.clone())
        .with("parent_state", z.parent_state.map(String::from))
        .with("parent_cmdline", z.parent_cmdline.clone())
        .with("age_s", z.age_s)
        .into_record("zombiereap")
}

/// The `summary` record: how many zombies, and how many per parent.
pub fn summary(zombies: &[Zombie], scanned: usize) -> Record {
    let mut per_parent: BTreeMap<(i32, String), u64> = BTreeMap::new();
    for z in zombies {
        let name = z.parent_name.clone().unwrap_or_else(|| "?".into());
        *per_parent.entry((z.ppid, name)).or_insert(0) += 1;
    }
    let listed: Vec<String> = per_parent
        .iter()
        .map(|((ppid, name), n)| format!("{ppid} ({name}): {n}"))
        .collect();
    Record::new(RecordType::Summary, "zombiereap")
        .with("command", "scan")
        .with("processes_scanned", scanned)
        .with("zombie_count", zombies.len())
        .with("parent_count", per_parent.len())
        .with("zombies_per_parent", listed)
        .with("ok", zombies.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use soak_core::record::Finding;

    #[test]
    fn a_zombie_is_a_medium_finding_naming_it_and_its_parent() {
        let z = Zombie {
            pid: 4242,
            name: "sleep".into(),
            ppid: 7,
            parent_name: Some("bash".into()),
            parent_state: Some('S'),
            parent_cmdline: Some("bash -c x".into()),
            age_s: Some(1.5),
        };
        let f = Finding::from_record(&finding(&z)).expect("a finding");
        assert_eq!((f.kind.as_str(), f.severity), ("zombie", Severity::Medium));
        assert_eq!(
            f.message,
            "zombie 4242 (sleep) not reaped by its parent 7 (bash)"
        );
        assert_eq!(f.get("parent_state"), Some(&"S".into()));
        let orphaned = Zombie {
            parent_name: None,
            ..z
        };
        assert!(
            finding(&orphaned)
                .get_str("message")
                .is_some_and(|m| m.ends_with("7 (?)"))
        );
    }
}
