//! Python programs the tests run against (the OnlyFansAPI SDK, MCP
//! servers), installed pinned from PyPI into a virtualenv under the target
//! directory the first time, then reused. The first run needs `python3`
//! with `venv` and access to PyPI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// The `bin` directory of the virtualenv `root/name` holding `packages`.
/// Test binaries run in parallel: one installs while the others wait.
#[must_use]
pub fn python_venv(root: &Path, name: &str, packages: &[&str]) -> PathBuf {
    let venv = root.join(name);
    let bin = venv.join("bin");
    let ready = venv.join(".installed");
    let wanted = packages.join("\n");
    let lock = venv.with_extension("lock");
    let started = Instant::now();
    loop {
        if std::fs::read_to_string(&ready).is_ok_and(|installed| installed == wanted) {
            return bin;
        }
        if std::fs::create_dir_all(root).is_ok() && std::fs::create_dir(&lock).is_ok() {
            let _ = std::fs::remove_dir_all(&venv);
            run(
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
                &format!(
                    "creating the virtualenv {} (python3 -m venv)",
                    venv.display()
                ),
            );
            run(
                Command::new(bin.join("python"))
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .args(packages),
                &format!("installing {} from PyPI", packages.join(" ")),
            );
            std::fs::write(&ready, &wanted).expect("marking the virtualenv installed");
            let _ = std::fs::remove_dir(&lock);
            return bin;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "another test is installing {} and has not finished in 5 minutes (remove {} if it died)",
            venv.display(),
            lock.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
