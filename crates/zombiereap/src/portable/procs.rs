//! One listing of every process through sysinfo, and process trees by parent PID.
//!
//! A PID recorded as a parent may since have been reused (Windows keeps a process's parent
//! PID after that parent exits), so a process counts as a child only when it started no
//! earlier than its parent.

use std::collections::{BTreeMap, HashSet, VecDeque};

use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

/// What is known of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Its PID.
    pub pid: i32,
    /// Its parent's PID, when it has one.
    pub ppid: Option<i32>,
    /// Its name (the executable's file name).
    pub name: String,
    /// Start time, seconds since the epoch: with the PID, its identity.
    pub start: u64,
    /// Exited, not yet reaped (macOS; never on Windows).
    pub zombie: bool,
}

/// Every process at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    procs: BTreeMap<i32, Info>,
}

impl Snapshot {
    /// Lists every process; `Err` only where sysinfo cannot work at all.
    pub fn take() -> Result<Snapshot, String> {
        let mut s = System::new().map_err(|e| format!("listing processes: {e}"))?;
        s.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing());
        let procs = s
            .processes()
            .values()
            .filter_map(|p| {
                let pid = i32::try_from(p.pid().as_u32()).ok()?;
                Some((
                    pid,
                    Info {
                        pid,
                        ppid: p.parent().and_then(|pp| i32::try_from(pp.as_u32()).ok()),
                        name: p.name().to_string_lossy().into_owned(),
                        start: p.start_time(),
                        zombie: matches!(p.status(), ProcessStatus::Zombie),
                    },
                ))
            })
            .collect();
        Ok(Snapshot { procs })
    }

    /// The process `pid`, if it exists.
    pub fn get(&self, pid: i32) -> Option<&Info> {
        self.procs.get(&pid)
    }

    /// Every process.
    pub fn iter(&self) -> impl Iterator<Item = &Info> {
        self.procs.values()
    }

    /// How many processes were listed.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// True when nothing was listed.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// `root` and its descendants, parents before children (root first); empty when `root`
    /// does not exist.
    pub fn tree(&self, root: i32) -> Vec<&Info> {
        let mut children: BTreeMap<i32, Vec<&Info>> = BTreeMap::new();
        for p in self.procs.values() {
            if let Some(pp) = p.ppid.filter(|&pp| pp != p.pid) {
                children.entry(pp).or_default().push(p);
            }
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut queue: VecDeque<&Info> = self.get(root).into_iter().collect();
        seen.insert(root);
        while let Some(p) = queue.pop_front() {
            out.push(p);
            for &kid in children.get(&p.pid).map_or(&[][..], Vec::as_slice) {
                if kid.start >= p.start && seen.insert(kid.pid) {
                    queue.push_back(kid);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_a_child_in_this_process_tree() {
        #[cfg(windows)]
        let mut child = std::process::Command::new("cmd")
            .args(["/C", "more"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        #[cfg(unix)]
        let mut child = std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let snap = Snapshot::take().expect("snapshot");
        drop(child.stdin.take());
        let _ = child.wait();
        let me = std::process::id() as i32;
        let info = snap.get(me).expect("this process is listed");
        assert!(!info.zombie && info.start > 0);
        let kid = child.id() as i32;
        assert_eq!(snap.get(kid).and_then(|k| k.ppid), Some(me));
        let tree: Vec<i32> = snap.tree(me).iter().map(|p| p.pid).collect();
        assert_eq!(tree.first(), Some(&me));
        assert!(tree.contains(&kid), "{tree:?}");
        assert!(snap.tree(i32::MAX).is_empty());
    }
}
