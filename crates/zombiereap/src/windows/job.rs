//! `zombiereap run` on Windows: the command runs in a Job Object with
//! `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, the Windows form of the subreaper. Every process it
//! starts joins the job (unless it breaks away, which this job does not allow), so when the
//! command ends, what is left of the job is asked to stop (Ctrl+Break to the command's
//! console process group) and, after `--grace`, terminated with the job. Should zombiereap
//! itself be killed, Windows closes its handle to the job, which kills every process in it.
//!
//! The command is started suspended and resumed only once it is in the job, so not even its
//! first child can escape. It leads its own console process group (`CREATE_NEW_PROCESS_GROUP`)
//! whatever `--group` says, so Ctrl+Break reaches it and its children alone: zombiereap's own
//! console events (Ctrl+C, Ctrl+Break, the console closing) are forwarded to it that way.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use soak_core::record::Record;
use soak_core::signals::Termination;
use windows_sys::Win32::Foundation::{CloseHandle, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_BASIC_PROCESS_ID_LIST, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JobObjectBasicProcessIdList, JobObjectExtendedLimitInformation, QueryInformationJobObject,
    SetInformationJobObject, TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED, OpenThread, ResumeThread, THREAD_SUSPEND_RESUME,
};

use super::console::{Signal, ctrl_break};
use super::process::TERMINATED;
use crate::portable::leftovers::{Leftovers, end};
use crate::supervise::{RunError, RunOptions, RunReport, event, spawn};

/// How often the command, the console flag and the timeout are looked at.
const POLL: Duration = Duration::from_millis(20);
/// At most this many leftovers are listed by PID (all of them are terminated regardless).
const MAX_LISTED: usize = 4096;

fn system(what: &'static str) -> RunError {
    RunError::System {
        what,
        source: std::io::Error::last_os_error(),
    }
}

/// A Job Object that kills its processes when its last handle closes.
#[derive(Debug)]
pub struct Job {
    handle: OwnedHandle,
}

impl Job {
    /// Creates the job with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`.
    pub fn new() -> Result<Job, RunError> {
        // SAFETY: no security attributes, no name; returns a new handle or null.
        let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if raw.is_null() {
            return Err(system("CreateJobObjectW"));
        }
        // SAFETY: non-null, just created, owned by nothing else.
        let job = Job {
            handle: unsafe { OwnedHandle::from_raw_handle(raw) },
        };
        // SAFETY: an all-zero limit structure is valid; one flag is then set.
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: the pointer and size describe `limits`, which outlives the call.
        let ok = unsafe {
            SetInformationJobObject(
                job.raw(),
                JobObjectExtendedLimitInformation,
                (&raw const limits).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(system("SetInformationJobObject(KILL_ON_JOB_CLOSE)"));
        }
        Ok(job)
    }

    fn raw(&self) -> windows_sys::Win32::Foundation::HANDLE {
        self.handle.as_raw_handle()
    }

    /// Puts `process` (a child, or anything else owning a process handle) in the job.
    pub fn assign(&self, process: &impl AsRawHandle) -> Result<(), RunError> {
        // SAFETY: both handles are open for this call: `process` owns its own.
        if unsafe { AssignProcessToJobObject(self.raw(), process.as_raw_handle()) } == 0 {
            return Err(system("AssignProcessToJobObject"));
        }
        Ok(())
    }

    /// The PIDs of the processes still running in the job.
    pub fn pids(&self) -> Vec<u32> {
        // The list's header (two u32 counts), then the PIDs as pointer-sized integers.
        let first = std::mem::offset_of!(JOBOBJECT_BASIC_PROCESS_ID_LIST, ProcessIdList)
            / std::mem::size_of::<usize>();
        let mut buf = vec![0usize; first + MAX_LISTED];
        let size = (buf.len() * std::mem::size_of::<usize>()) as u32;
        // SAFETY: `buf` is `size` bytes, aligned for the list structure, and outlives the
        // call; the kernel writes no more than `size` bytes.
        let ok = unsafe {
            QueryInformationJobObject(
                self.raw(),
                JobObjectBasicProcessIdList,
                buf.as_mut_ptr().cast(),
                size,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Vec::new();
        }
        // SAFETY: the buffer starts with the list structure the call filled.
        let list = unsafe { &*buf.as_ptr().cast::<JOBOBJECT_BASIC_PROCESS_ID_LIST>() };
        let n = (list.NumberOfProcessIdsInList as usize).min(MAX_LISTED);
        buf[first..first + n]
            .iter()
            .filter_map(|&p| u32::try_from(p).ok())
            .collect()
    }

    /// Starts `cmd` inside the job: suspended, assigned, then resumed, so not even its first
    /// child can start outside. It leads its own console process group
    /// (`CREATE_NEW_PROCESS_GROUP`: Ctrl+Break sent to its PID reaches it and its children
    /// alone), which replaces any creation flags set on `cmd`.
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child, RunError> {
        let child = cmd
            .creation_flags(CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED)
            .spawn()
            .map_err(|source| RunError::Spawn {
                command: cmd.get_program().to_string_lossy().into_owned(),
                source,
            })?;
        self.adopt_suspended(child)
    }

    /// Puts `child`, started with `CREATE_SUSPENDED`, in the job and resumes it; on failure it
    /// is killed and reaped.
    fn adopt_suspended(&self, mut child: Child) -> Result<Child, RunError> {
        if let Err(e) = self.assign(&child).and_then(|()| resume(child.id())) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(child)
    }

    /// Ends every process in the job.
    pub fn terminate(&self) -> bool {
        // SAFETY: the handle is open.
        unsafe { TerminateJobObject(self.raw(), TERMINATED) != 0 }
    }
}

/// Resumes every thread of the suspended process `pid` (it has one: the first).
fn resume(pid: u32) -> Result<(), RunError> {
    // SAFETY: the snapshot handle is checked, walked with a sized entry and closed once;
    // each thread handle is checked and closed.
    unsafe {
        let snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
        if snap == INVALID_HANDLE_VALUE {
            return Err(system("CreateToolhelp32Snapshot(threads)"));
        }
        let mut entry: THREADENTRY32 = std::mem::zeroed();
        entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
        let mut resumed = 0;
        let mut more = Thread32First(snap, &mut entry) != 0;
        while more {
            if entry.th32OwnerProcessID == pid {
                let t = OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID);
                if !t.is_null() {
                    if ResumeThread(t) != u32::MAX {
                        resumed += 1;
                    }
                    CloseHandle(t);
                }
            }
            more = Thread32Next(snap, &mut entry) != 0;
        }
        CloseHandle(snap);
        if resumed == 0 {
            return Err(system("ResumeThread"));
        }
    }
    Ok(())
}

/// A job's leftovers: Ctrl+Break to the command's console group, then the whole job
/// terminated after the grace.
struct InJob<'a> {
    job: &'a Job,
    group: i32,
}

impl Leftovers for InJob<'_> {
    const FORCE_NAME: &'static str = "TerminateJobObject";

    fn members(&self) -> Vec<i64> {
        self.job.pids().into_iter().map(i64::from).collect()
    }

    fn ask(&self) -> Option<&'static str> {
        ctrl_break(self.group)
            .is_ok()
            .then_some(Signal::CtrlBreak.as_str())
    }

    fn force(&self) -> bool {
        self.job.terminate()
    }
}

/// Runs `argv` in a kill-on-close Job Object; every event is passed to `emit`.
pub fn run(
    argv: &[String],
    opts: &RunOptions,
    emit: &mut dyn FnMut(Record),
) -> Result<RunReport, RunError> {
    let term = Termination::install().map_err(|source| RunError::System {
        what: "installing the console handler",
        source,
    })?;
    let job = Job::new()?;
    let child = spawn(argv, |command| {
        command.creation_flags(CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED);
    })?;
    let mut child = job.adopt_suspended(child)?;
    let pid = child.id();
    let group = i32::try_from(pid).unwrap_or(i32::MAX);
    let mut report = RunReport {
        pid: group,
        ..RunReport::default()
    };
    emit(
        event("start")
            .with("pid", pid)
            .with("command", argv.to_vec())
            .with("group", true)
            .with("job", true),
    );
    let started = Instant::now();
    let mut seen_signal = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        let requested = term.requested();
        if requested.is_some() && requested != seen_signal {
            seen_signal = requested;
            if ctrl_break(group).is_ok() {
                emit(report.forwarded(pid, Signal::CtrlBreak.as_str(), requested));
            }
        }
        if !report.timed_out && opts.timeout.is_some_and(|t| started.elapsed() >= t) {
            report.timed_out = true;
            emit(event("timeout").with("pid", pid));
            end(
                &InJob { job: &job, group },
                opts.grace,
                false,
                &mut report,
                emit,
            );
        }
        std::thread::sleep(POLL);
    };
    report.exit_code = status.and_then(|s| s.code());
    emit(
        event("target_exit")
            .with("pid", pid)
            .with("exit_code", report.exit_code)
            .with("signal", report.signal),
    );
    end(
        &InJob { job: &job, group },
        opts.grace,
        true,
        &mut report,
        emit,
    );
    Ok(report)
}
