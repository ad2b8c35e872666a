# Recipes for the README's commands and each tool's common use. `just --list` shows them.
# (just is on crates.io as `just`, and on PyPI as `rust-just`.)

# The main job: a short soak of the demo service (resmon, zombiereap run, resanalyze, logscan)
demo duration="30s" faults="":
    cargo xtask demo --duration {{duration}} --faults "{{faults}}"

# The test suite, exactly as CI runs it
test:
    cargo test --workspace

# Everything CI checks: tests, clippy, rustfmt
ci:
    bash .ci/run

# Release binaries of every tool in target/release/
build:
    cargo build --release

# Record a command's resources every second until it ends: just record python3 bot.py
record +cmd:
    cargo run -q --release -p resmon -- --interval 1s -o artifacts/resources.jsonl -- {{cmd}}

# Record the system (or --pid/--name targets) with any resmon flags
monitor *args:
    cargo run -q --release -p resmon -- {{args}}

# The verdict on a resmon recording (leak, CPU, disk, network): just analyze artifacts/resources.jsonl
analyze file *args:
    cargo run -q --release -p resanalyze -- --format table {{args}} {{file}}

# Judge a service log against the seed's success metrics
logscan log *args:
    cargo run -q --release -p logscan -- {{args}} {{log}}

# Watch a live log; a `hang` finding appears when the heartbeat is silent too long
watch-log log gap="5m":
    cargo run -q --release -p logscan -- --follow {{log}} --max-heartbeat-gap {{gap}}

# Fail when any zombie process exists
zombies:
    cargo run -q --release -p zombiereap -- scan

# Run a command so that nothing it starts outlives it: just supervised python3 bot.py
supervised +cmd:
    cargo run -q --release -p zombiereap -- run -- {{cmd}}

# Side-by-side benchmark of resmon against the seed monitor and pidstat
bench-resmon:
    cargo xtask bench resmon

# Side-by-side benchmark of resanalyze against the seed's --analyze
bench-resanalyze:
    cargo xtask bench resanalyze

# Side-by-side benchmark of logscan against rg -c
bench-logscan:
    cargo xtask bench logscan

# Benchmarks of zombiereap scan and kill-tree
bench-zombiereap:
    cargo xtask bench zombiereap
