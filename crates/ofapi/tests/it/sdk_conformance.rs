//! A client we did not write: the official Python SDK against the sandbox.
//!
//! The SDK is installed (pinned) into a virtualenv under the target
//! directory the first time, then reused. It needs `python3` with `venv` and
//! access to PyPI on that first run.

use std::path::{Path, PathBuf};
use std::process::Command;

const SDK_VERSION: &str = "0.2.0";

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{what}: cannot run: {err}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The virtualenv with the pinned SDK, created on first use.
fn sdk_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("onlyfans-sdk-{SDK_VERSION}"));
    let python = venv.join("bin/python");
    let ready = venv.join(".installed");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "creating the SDK virtualenv (python3 -m venv)",
        );
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg(format!("onlyfans=={SDK_VERSION}")),
            "installing the OnlyFansAPI Python SDK",
        );
        std::fs::write(&ready, SDK_VERSION).unwrap();
    }
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_against_the_sandbox() {
    let python = tokio::task::spawn_blocking(sdk_python).await.unwrap();
    let sandbox = crate::sandbox().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk_conformance.py");
    let url = sandbox.url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("OFAPI_SANDBOX_URL", url)
            .env("OFAPI_SANDBOX_KEY", crate::KEY)
            .output()
            .expect("the SDK script runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the SDK found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("8 passed, 0 failed"), "{stdout}");
}
