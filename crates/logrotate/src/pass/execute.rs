//! Carrying out a pass's steps (or, dry, making every check and changing nothing): deletions,
//! run removals and rotations one by one, compressions in batches on every core.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::codec::Codec;
use crate::compress::{self, Outcome};
use crate::policy::{Effect, Step};
use crate::rotate;
use crate::safefs::{self, FileId};

/// What carrying out (or, dry, checking) a step gave: its effect, or why it was not done.
pub(crate) type Applied = Result<Effect, String>;

/// Turns an I/O error into an outcome: a file that vanished meanwhile is not an error.
fn vanished_ok(e: std::io::Error) -> Applied {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(Effect::Nothing)
    } else {
        Err(safefs::why(&e))
    }
}

/// The error of a step on a file the scan did not see on disk.
fn unseen() -> String {
    "not on disk when the directory was scanned; left alone".into()
}

/// Removes (or, dry, checks that it could remove) the file `p`, if it is still the file
/// `id` the scan saw.
fn remove_file(root: &Path, p: &Path, id: Option<FileId>, dry_run: bool) -> Applied {
    // In a dry run, a file this pass would have made (an archive, no identity) is not on disk:
    // its deletion is what the real run would do to the real archive.
    let Some(id) = id else {
        return if dry_run {
            Ok(Effect::Gone)
        } else {
            Err(unseen())
        };
    };
    let (dir, name) = match safefs::locate(root, p) {
        Ok(found) => found,
        Err(e) => return vanished_ok(e),
    };
    match dir.stat(&name) {
        Ok(None) => return Ok(Effect::Nothing),
        Ok(Some(st)) if st.id != id => {
            return Err("replaced by another file since the scan; left alone".into());
        }
        Ok(Some(_)) => {}
        Err(e) => return vanished_ok(e),
    }
    if dry_run {
        return Ok(Effect::Gone);
    }
    dir.remove_if_same(&name, id)
        .map(|()| Effect::Gone)
        .or_else(vanished_ok)
}

/// Removes (or, dry, checks) a run directory directly under `root`: a real directory, never a
/// symlink to one.
fn remove_run(root: &Path, p: &Path, dry_run: bool) -> Applied {
    let (dir, name) = match safefs::locate(root, p) {
        Ok(found) => found,
        Err(e) => return vanished_ok(e),
    };
    match dir.stat(&name) {
        Ok(None) => return Ok(Effect::Nothing),
        Ok(Some(st)) if !st.is_dir() => {
            return Err("no longer a directory; left alone".into());
        }
        Ok(Some(_)) => {}
        Err(e) => return vanished_ok(e),
    }
    if dry_run {
        return Ok(Effect::Gone);
    }
    // std's remove_dir_all never follows a symlink inside the tree.
    std::fs::remove_dir_all(p)
        .map(|()| Effect::Gone)
        .or_else(vanished_ok)
}

fn compressed(outcome: std::io::Result<Outcome>, archive: PathBuf) -> Applied {
    match outcome {
        Ok(Outcome::Done { bytes, id }) => Ok(Effect::Compressed { archive, bytes, id }),
        Ok(Outcome::Kept(why)) => Err(why),
        Err(e) => vanished_ok(e),
    }
}

/// Carries out the steps in order (with `dry_run`, makes every check and changes nothing):
/// deletions and rotations one by one, then compressions on every core, one batch per codec.
pub(crate) fn execute(
    root: &Path,
    steps: Vec<Step>,
    ids: &HashMap<PathBuf, Option<FileId>>,
    dry_run: bool,
    stop: compress::Stop,
) -> Vec<(Step, Applied)> {
    let id_of = |p: &Path| ids.get(p).copied().flatten();
    let (heavy, light): (Vec<Step>, Vec<Step>) = steps
        .into_iter()
        .partition(|s| matches!(s, Step::Compress(..)));
    let mut done: Vec<(Step, Applied)> = light
        .into_iter()
        .map(|s| {
            let r = match &s {
                Step::Skip(..) => Ok(Effect::Nothing),
                _ if stop() => Err(compress::interrupted().to_string()),
                Step::Cleanup(p, _) | Step::Delete(p, _, _) => {
                    remove_file(root, p, id_of(p), dry_run)
                }
                Step::DeleteRun(p, _, _) => remove_run(root, p, dry_run),
                Step::Rotate(p, _, mode) => match id_of(p) {
                    None => Err(unseen()),
                    Some(id) => match rotate::rotate(root, p, id, *mode, dry_run) {
                        Ok(r) => Ok(Effect::Rotated {
                            to: r.to,
                            moved: r.bytes,
                            method: r.method,
                        }),
                        Err(e) => vanished_ok(e),
                    },
                },
                Step::Compress(..) => Ok(Effect::Nothing),
            };
            (s, r)
        })
        .collect();
    for codec in [Codec::Gzip, Codec::Zstd] {
        let mut batch: Vec<(Step, PathBuf)> = Vec::new();
        let mut items: Vec<(PathBuf, FileId)> = Vec::new();
        for s in &heavy {
            let Step::Compress(p, _, c) = s else { continue };
            if *c != codec {
                continue;
            }
            match id_of(p) {
                Some(id) => {
                    batch.push((s.clone(), p.clone()));
                    items.push((p.clone(), id));
                }
                None => done.push((s.clone(), Err(unseen()))),
            }
        }
        let outcomes = compress::compress_batch(root, &items, codec, dry_run, stop);
        for ((step, p), (_, outcome)) in batch.into_iter().zip(outcomes) {
            done.push((step, compressed(outcome, compress::target(&p, codec))));
        }
    }
    done
}
