//! A client we did not write: the official Python SDK against the sandbox.
//!
//! The SDK is installed (pinned) into a virtualenv under the target
//! directory the first time, then reused. It needs `python3` with `venv` and
//! access to PyPI on that first run.

use std::path::{Path, PathBuf};
use std::process::Command;

const SDK_VERSION: &str = "0.2.0";

/// The virtualenv with the pinned SDK, created on first use.
fn sdk_python() -> PathBuf {
    agencybot_testkit::python_venv(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &format!("onlyfans-sdk-{SDK_VERSION}"),
        &[&format!("onlyfans=={SDK_VERSION}")],
    )
    .join("python")
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
