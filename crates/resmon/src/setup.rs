//! From the command line to what a run needs, each checked before anything starts: the
//! target's spec, the cgroup, the `--listen` address, the output file, the filesystem whose
//! disk fields are reported.

use std::path::{Path, PathBuf};

use regex::Regex;
use soak_core::exit::{environment, usage};
use soak_core::jsonl::JsonlWriter;
use soak_core::pathtext::shown;

use crate::cgtarget::{CgroupTarget, Source, TargetSetupError};
use crate::cli::Cli;
use crate::resolve;
use crate::target::Spec;

/// The cgroup named by `--cgroup`, `--container` or `--unit`: a name that does not exist
/// is bad input (2), a tool that cannot answer (no docker daemon, no systemd) the
/// environment's failure (3).
pub(crate) fn open_cgroup(cli: &Cli) -> anyhow::Result<Option<CgroupTarget>> {
    let source = match (&cli.cgroup, &cli.container, &cli.unit) {
        (Some(p), _, _) => Source::Path(p.clone()),
        (_, Some(c), _) => Source::Container(c.clone()),
        (_, _, Some(u)) => Source::Unit(u.clone()),
        _ => return Ok(None),
    };
    if !cfg!(target_os = "linux") {
        return Err(environment(
            "--cgroup/--container/--unit work on Linux only",
        ));
    }
    CgroupTarget::open(&cli.cgroup_root, source)
        .map(Some)
        .map_err(|e| match &e {
            TargetSetupError::Resolve(resolve::ResolveError::Environment { .. }) => environment(e),
            _ => usage(e),
        })
}

/// What `--pid`, `--pid-file`, `--name` or the command name as the target.
pub(crate) fn target_spec(cli: &Cli) -> anyhow::Result<Spec> {
    Ok(if !cli.command.is_empty() {
        Spec::Command(cli.command.clone())
    } else if let Some(re) = &cli.name {
        Spec::Name(Regex::new(re).map_err(|e| usage(format!("--name '{re}': {e}")))?)
    } else if let Some(p) = &cli.pid_file {
        Spec::PidFile(p.clone())
    } else if !cli.pids.is_empty() {
        Spec::Pids(cli.pids.clone())
    } else {
        Spec::None
    })
}

/// A listen address must be `IP:PORT` (or `localhost:PORT`): anything else is bad input
/// (exit 2), found before any socket is opened; only a failing bind is the environment's (3).
pub(crate) fn check_listen(addr: &str) -> anyhow::Result<()> {
    let local_port = addr
        .strip_prefix("localhost:")
        .is_some_and(|p| p.parse::<u16>().is_ok());
    if local_port || addr.parse::<std::net::SocketAddr>().is_ok() {
        Ok(())
    } else {
        Err(usage(format!(
            "--listen {addr}: expected IP:PORT, e.g. 127.0.0.1:9464, [::1]:9464 or 0.0.0.0:0"
        )))
    }
}

/// The output file, opened for appending; its failure named once (not the OS error twice)
/// and the path shown without loss.
pub(crate) fn open_output(path: &Path, fsync: bool) -> anyhow::Result<JsonlWriter> {
    JsonlWriter::append_file(path, fsync).map_err(|e| match e {
        soak_core::CoreError::Write { source, .. } => {
            environment(format!("cannot write {}: {source}", shown(path)))
        }
        other => environment(other),
    })
}

/// The filesystem to report: `--disk-path`, else the output's directory, else `/`.
pub(crate) fn disk_path(cli: &Cli) -> PathBuf {
    if let Some(p) = &cli.disk_path {
        return p.clone();
    }
    cli.output
        .output
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .or_else(|| cli.output.output.as_ref().map(|_| PathBuf::from(".")))
        .unwrap_or_else(|| PathBuf::from("/"))
}
