//! Shell completions (bash, zsh, fish) and man pages generated from each tool's own clap
//! command, so they cannot drift from the flags the binary accepts.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Command, CommandFactory};
use clap_complete::Shell;

/// One binary the release ships.
pub struct Tool {
    /// The binary's file name.
    pub bin: &'static str,
    command: fn() -> Command,
}

impl Tool {
    /// The tool's clap command, named as it is installed (`name` may differ from `bin`).
    pub fn command(&self, name: &'static str) -> Command {
        let mut cmd = (self.command)().name(name).bin_name(name);
        cmd.build();
        cmd
    }
}

/// Every binary of the workspace, with the clap command its library parses.
pub const TOOLS: [Tool; 9] = [
    Tool {
        bin: "resmon",
        command: resmon::Cli::command,
    },
    Tool {
        bin: "resanalyze",
        command: resanalyze::Cli::command,
    },
    Tool {
        bin: "logscan",
        command: logscan::Cli::command,
    },
    Tool {
        bin: "logrotate",
        command: logrotate::Cli::command,
    },
    Tool {
        bin: "zombiereap",
        command: zombiereap::Cli::command,
    },
    Tool {
        bin: "orphan-cancel",
        command: orphan_cancel::Cli::command,
    },
    Tool {
        bin: "exchange-sim",
        command: exchange_sim::Cli::command,
    },
    Tool {
        bin: "seccheck",
        command: seccheck::Cli::command,
    },
    Tool {
        bin: "soak-demo",
        command: soak_demo::Cli::command,
    },
];

/// A generated file: where it goes below an install prefix, and its bytes.
pub struct Generated {
    /// Path relative to the prefix (e.g. `share/man/man1/resmon.1`).
    pub rel_path: PathBuf,
    /// The file's contents.
    pub contents: Vec<u8>,
}

/// The shells completions are generated for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Where a shell's completion for `name` lives below a prefix: the directories bash-completion,
/// zsh (site-functions) and fish (vendor_completions.d) search under `/usr/local` and `~/.local`.
pub fn completion_path(shell: Shell, name: &str) -> PathBuf {
    match shell {
        Shell::Bash => PathBuf::from(format!("share/bash-completion/completions/{name}")),
        Shell::Zsh => PathBuf::from(format!("share/zsh/site-functions/_{name}")),
        Shell::Fish => PathBuf::from(format!("share/fish/vendor_completions.d/{name}.fish")),
        other => PathBuf::from(format!("share/completions/{other}/{name}")),
    }
}

/// The bash, zsh and fish completion scripts of `cmd` (already named as installed).
pub fn completions(cmd: &Command) -> Vec<Generated> {
    let name = cmd.get_name().to_string();
    SHELLS
        .iter()
        .map(|&shell| {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), &name, &mut buf);
            Generated {
                rel_path: completion_path(shell, &name),
                contents: buf,
            }
        })
        .collect()
}

/// Man pages of `cmd` and of each of its visible subcommands (`zombiereap-scan.1`, as git does),
/// section 1, below `share/man/man1/`.
pub fn man_pages(cmd: &Command) -> Result<Vec<Generated>> {
    let mut pages = Vec::new();
    for (page_name, c) in command_tree(cmd) {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c.clone())
            .render(&mut buf)
            .with_context(|| format!("cannot render the man page of {page_name}"))?;
        pages.push(Generated {
            rel_path: PathBuf::from(format!("share/man/man1/{page_name}.1")),
            contents: buf,
        });
    }
    Ok(pages)
}

/// The command and its visible subcommands, depth first, each with its man page name
/// (`tool` or `tool-sub`); `help` is left out.
pub fn command_tree(cmd: &Command) -> Vec<(String, Command)> {
    fn walk(cmd: &Command, name: String, out: &mut Vec<(String, Command)>) {
        out.push((name.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            walk(sub, format!("{name}-{}", sub.get_name()), out);
        }
    }
    let mut out = Vec::new();
    walk(cmd, cmd.get_name().to_string(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command as Process;

    /// The visible long flags of one command (not its subcommands'), e.g. `--interval`.
    fn long_flags(cmd: &Command) -> Vec<String> {
        cmd.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .collect()
    }

    fn text(g: &Generated) -> String {
        String::from_utf8(g.contents.clone()).expect("utf-8")
    }

    fn for_shell(all: &[Generated], shell: Shell, name: &str) -> String {
        let want = completion_path(shell, name);
        text(all.iter().find(|g| g.rel_path == want).expect("script"))
    }

    /// Every long flag of every (sub)command is named in the bash, zsh and fish scripts.
    #[test]
    fn completions_name_every_long_flag_of_every_tool() {
        for tool in &TOOLS {
            let cmd = tool.command(tool.bin);
            let scripts = completions(&cmd);
            assert_eq!(scripts.len(), 3, "{}", tool.bin);
            let bash = for_shell(&scripts, Shell::Bash, tool.bin);
            let zsh = for_shell(&scripts, Shell::Zsh, tool.bin);
            let fish = for_shell(&scripts, Shell::Fish, tool.bin);
            for (page, c) in command_tree(&cmd) {
                let flags = long_flags(&c);
                assert!(!flags.is_empty(), "{page} has no long flag");
                for flag in flags {
                    assert!(
                        bash.contains(&flag),
                        "bash completion of {page} lacks {flag}"
                    );
                    assert!(zsh.contains(&flag), "zsh completion of {page} lacks {flag}");
                    let fish_form = format!("-l {}", &flag[2..]);
                    assert!(
                        fish.contains(&fish_form),
                        "fish completion of {page} lacks {flag}"
                    );
                }
            }
        }
    }

    /// Every (sub)command has its own man page, and it documents each of its long flags
    /// (roff writes a hyphen as `\-`).
    #[test]
    fn man_pages_name_every_long_flag_of_every_tool() {
        for tool in &TOOLS {
            let cmd = tool.command(tool.bin);
            let pages = man_pages(&cmd).expect("render");
            let tree = command_tree(&cmd);
            assert_eq!(pages.len(), tree.len(), "{}", tool.bin);
            for (page, c) in tree {
                let want = PathBuf::from(format!("share/man/man1/{page}.1"));
                let roff = text(pages.iter().find(|g| g.rel_path == want).expect("page"));
                assert!(
                    roff.starts_with(".ie") || roff.contains(".TH"),
                    "{page}: no title"
                );
                for flag in long_flags(&c) {
                    let escaped = flag.replace('-', "\\-");
                    assert!(roff.contains(&escaped), "man page {page} lacks {flag}");
                }
            }
        }
    }

    /// bash itself, given the generated script, offers every long flag of a tool and of a
    /// subcommand after `--` is typed.
    #[test]
    fn bash_completes_the_long_flags() {
        let Ok(bash) = which("bash") else {
            eprintln!("skipped: bash is not on PATH");
            return;
        };
        let dir = tempfile::tempdir().expect("tmp");
        for (tool, words) in [
            ("resmon", vec!["resmon", "--"]),
            ("orphan-cancel", vec!["orphan-cancel", "--"]),
            ("zombiereap", vec!["zombiereap", "scan", "--"]),
        ] {
            let t = TOOLS.iter().find(|t| t.bin == tool).expect("tool");
            let cmd = t.command(tool);
            let script = dir.path().join(tool);
            let bash_script = completions(&cmd).remove(0);
            std::fs::write(&script, &bash_script.contents).expect("write");
            let sub = if words.len() == 3 {
                cmd.find_subcommand(words[1]).expect("sub").clone()
            } else {
                cmd.clone()
            };
            let program = format!(
                "source \"$1\"; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
                 COMP_POINT=${{#COMP_LINE}}; _{func} {first} -- {prev}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                words = words.join(" "),
                cword = words.len() - 1,
                func = tool.replace('-', "__"),
                first = words[0],
                prev = words[words.len() - 2],
            );
            let out = Process::new(&bash)
                .args(["--norc", "--noprofile", "-c", &program, "bash"])
                .arg(&script)
                .output()
                .expect("bash");
            assert!(
                out.status.success(),
                "{tool}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let offered: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect();
            for flag in long_flags(&sub) {
                assert!(
                    offered.contains(&flag),
                    "bash did not offer {flag} for {words:?}: {offered:?}"
                );
            }
        }
    }

    /// man(1) renders each tool's page, and the rendered text shows every long flag.
    #[test]
    fn man_renders_the_pages() {
        let Ok(man) = which("man") else {
            eprintln!("skipped: man is not on PATH (apt-get install man-db)");
            return;
        };
        let dir = tempfile::tempdir().expect("tmp");
        for tool in &TOOLS {
            let cmd = tool.command(tool.bin);
            let page = man_pages(&cmd).expect("render").remove(0);
            let path = dir.path().join(format!("{}.1", tool.bin));
            std::fs::write(&path, &page.contents).expect("write");
            let out = Process::new(&man)
                .arg("-l")
                .arg(&path)
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "200")
                .env("LANG", "C.UTF-8")
                .output()
                .expect("man");
            assert!(
                out.status.success(),
                "man {}: {}",
                tool.bin,
                String::from_utf8_lossy(&out.stderr)
            );
            // Strip overstrike (bold/underline) and map typographic hyphens back to '-'.
            let raw = String::from_utf8_lossy(&out.stdout);
            let mut plain = String::new();
            for c in raw.chars() {
                match c {
                    '\u{8}' => {
                        plain.pop();
                    }
                    '\u{2010}' | '\u{2212}' => plain.push('-'),
                    c => plain.push(c),
                }
            }
            for flag in long_flags(&cmd) {
                assert!(
                    plain.contains(&flag),
                    "man {} does not show {flag}",
                    tool.bin
                );
            }
        }
    }

    fn which(program: &str) -> Result<PathBuf, ()> {
        let path = std::env::var_os("PATH").ok_or(())?;
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
            .ok_or(())
    }
}
