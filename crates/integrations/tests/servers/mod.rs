//! Real MCP servers for the tests: `mcp-server-time` and `mcp-server-fetch`
//! from PyPI, and a fixture server on the official Python SDK
//! (`fixtures/fixture_server.py`), installed pinned into a virtualenv
//! under the target directory (see `agencybot_testkit::python_venv`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agencybot_core::Secret;
use agencybot_integrations::{Scope, ServerSpec, ToolFilter, Transport};
use tokio::io::AsyncBufReadExt;

const PACKAGES: [&str; 3] = [
    "mcp==2.3.0",
    "mcp-server-time==2026.10.19",
    "mcp-server-fetch==2026.10.24",
];

pub const TEAM: &str = "Velvet Agency";

/// The virtualenv's `bin` directory, made on first use.
pub fn bin() -> PathBuf {
    agencybot_testkit::python_venv(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        "mcp-servers",
        &PACKAGES,
    )
}

/// An integration spec with the tests' defaults: the team's, trusted,
/// every tool, short timeouts.
pub fn spec(name: &str, title: &str, transport: Transport) -> ServerSpec {
    ServerSpec {
        name: name.into(),
        title: title.into(),
        team: TEAM.into(),
        scope: Scope::Team,
        transport,
        trusted: true,
        filter: ToolFilter::default(),
        call_timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(30),
    }
}

/// A stdio program of the virtualenv, with PATH limited to it (no Node,
/// so mcp-server-fetch never reaches for npm).
pub fn stdio(program: &str, args: &[&str]) -> Transport {
    let bin = bin();
    Transport::Stdio {
        command: bin.join(program).display().to_string(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: BTreeMap::from([(
            "PATH".to_owned(),
            Secret::new(format!("{}:/usr/bin:/bin", bin.display())),
        )]),
        cwd: None,
    }
}

pub fn time_server() -> ServerSpec {
    spec(
        "time",
        "Time",
        stdio("mcp-server-time", &["--local-timezone", "UTC"]),
    )
}

fn fixture_script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fixture_server.py")
        .display()
        .to_string()
}

/// The fixture over stdio, writing each real write to `log`.
pub fn fixture_stdio(name: &str, log: &Path) -> ServerSpec {
    let script = fixture_script();
    let log = log.display().to_string();
    spec(
        name,
        "Fixture Sheets",
        stdio("python", &[&script, "--transport", "stdio", "--log", &log]),
    )
}

/// The fixture serving streamable HTTP on a free port.
pub struct HttpFixture {
    pub url: String,
    _child: tokio::process::Child,
}

impl HttpFixture {
    pub async fn start(tools: usize, log: &Path) -> HttpFixture {
        Self::start_with(tools, log, &[]).await
    }

    /// With more of the fixture's options (e.g. `--oauth`).
    pub async fn start_with(tools: usize, log: &Path, options: &[&str]) -> HttpFixture {
        let mut child = tokio::process::Command::new(bin().join("python"))
            .arg(fixture_script())
            .args(["--transport", "http", "--port", "0", "--page-size", "50"])
            .args(options)
            .arg("--tools")
            .arg(tools.to_string())
            .arg("--log")
            .arg(log)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the fixture server starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("FIXTURE_READY ") {
                    return url.to_owned();
                }
            }
            panic!("the fixture server stopped before it was ready");
        })
        .await
        .expect("the fixture server is ready within a minute");
        HttpFixture { url, _child: child }
    }

    pub fn transport(&self, bearer: Option<&str>) -> Transport {
        Transport::Http {
            url: self.url.clone(),
            headers: BTreeMap::from([("X-Team".to_owned(), Secret::new("velvet"))]),
            bearer: bearer.map(Secret::new),
            oauth: None,
        }
    }
}

/// What the fixture really did: one line per write it ran.
pub fn writes(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
