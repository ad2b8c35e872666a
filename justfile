# Recipes for the README's commands and each tool's common use. `just --list` shows them.
# (just is on crates.io as `just`, and on PyPI as `rust-just`.)

# The main job: a short soak of the demo service and the success-metrics verdict
demo duration="3m" faults="":
    cargo xtask soak --demo --duration {{duration}} --demo-faults "{{faults}}"

# The whole soak workflow around your own service: just soak 24h python3 bot.py
soak duration +cmd:
    cargo xtask soak --duration {{duration}} -- {{cmd}}

# The test suite, exactly as CI runs it
test:
    cargo test --workspace

# Everything CI checks: tests, clippy, rustfmt
ci:
    bash .ci/run

# Release binaries of every tool in target/release/
build:
    cargo build --release

# The release archive target/dist/soakkit-VERSION-TARGET.tar.gz (+ .sha256): binaries, completions, man pages
dist *flags:
    cargo xtask dist {{flags}}

# Install every tool, its bash/zsh/fish completions and man pages under a prefix (warns if logrotate would shadow logrotate(8))
install prefix="$HOME/.local" *flags:
    cargo xtask install --prefix "{{prefix}}" {{flags}}

# The same, with soakkit's logrotate installed as soak-logrotate so logrotate(8) keeps its name
install-renamed prefix="$HOME/.local" *flags:
    cargo xtask install --rename-logrotate --prefix "{{prefix}}" {{flags}}

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

# What the bot left open on the exchange: just reconcile bybit-testnet artifacts/active_orders.json
reconcile exchange state:
    cargo run -q --release -p orphan-cancel -- reconcile --exchange {{exchange}} --state-file {{state}}

# Plan (dry run) the cancel of the bot's own orphans; add --execute to do it
cancel-orphans exchange state prefix="BOT_" *flags:
    cargo run -q --release -p orphan-cancel -- cancel --exchange {{exchange}} --state-file {{state}} --client-id-prefix {{prefix}} {{flags}}

# A local exchange simulator seeded with the fixture orders (credentials from the environment)
exchange-sim *flags:
    cargo run -q --release -p exchange-sim -- --orders fixtures/exchange-sim/orders.json {{flags}}

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

# orphan-cancel: 1,000 orphans at 10 requests/s against the rate limit's lower bound
bench-orphan-cancel:
    cargo xtask bench orphan-cancel

# Audit the project's lockfiles against a local advisory database: just audit ~/advisory-db
audit db *args:
    cargo run -q --release -p seccheck -- deps --db {{db}} {{args}} .

# Scan artifacts for leaked secrets before upload (values of the named variables too)
secrets dir="artifacts/soak" vars="BYBIT_API_KEY,BYBIT_API_SECRET":
    cargo run -q --release -p seccheck -- secrets --env {{vars}} {{dir}}

# Hold an artifacts directory to a disk budget (add --dry-run to see the plan)
budget dir="artifacts" total="5GB" *args:
    cargo run -q --release -p logrotate -- --compress --max-total {{total}} {{args}} {{dir}}

# Benchmarks of logrotate and seccheck against logrotate(8), gzip, rg and cargo audit
bench-logrotate:
    cargo xtask bench logrotate
bench-seccheck db:
    cargo xtask bench seccheck --db {{db}}
