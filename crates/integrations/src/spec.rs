//! What the deployment's config says about one integration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use agencybot_core::Secret;

/// The longest a call may be allowed to take.
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// One MCP server, as configured.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Short and unique: `[a-z0-9-]`, the prefix of its tools' names.
    pub name: String,
    /// How people call the app ("Google Sheets").
    pub title: String,
    /// The team whose requests may use it.
    pub team: String,
    pub scope: Scope,
    pub transport: Transport,
    /// Its read-only tools may run without a yes. Annotations are the
    /// server's own claims, so they count only for servers marked trusted.
    pub trusted: bool,
    pub filter: ToolFilter,
    pub call_timeout: Duration,
    pub connect_timeout: Duration,
}

/// Who may use an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every member of the team.
    Team,
    /// One member (by name): used only in their own requests and in
    /// channels they set up.
    Personal { owner: String },
}

impl Scope {
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Scope::Team => "team".into(),
            Scope::Personal { owner } => format!("personal ({owner})"),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Transport {
    /// A local program speaking MCP on stdin/stdout. Only the config file
    /// can name one; it starts with an empty environment plus `env`.
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, Secret>,
        cwd: Option<PathBuf>,
    },
    /// A streamable-HTTP endpoint.
    Http {
        url: String,
        headers: BTreeMap<String, Secret>,
        /// Sent as `Authorization: Bearer …`.
        bearer: Option<Secret>,
        /// Signs in with OAuth 2.1 instead of a static token.
        oauth: Option<OAuthSpec>,
    },
}

/// How an HTTP server's OAuth sign-in is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthSpec {
    /// Scopes to ask for; empty lets the server's metadata decide.
    pub scopes: Vec<String>,
}

impl Transport {
    /// Where it is, for people: the command or the URL (never a secret).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Transport::Stdio { command, args, .. } => {
                let mut line = command.clone();
                for arg in args {
                    line.push(' ');
                    line.push_str(arg);
                }
                format!("stdio: {line}")
            }
            Transport::Http {
                url,
                oauth: Some(_),
                ..
            } => format!("http: {url} (OAuth sign-in)"),
            Transport::Http { url, .. } => format!("http: {url}"),
        }
    }
}

/// Which of a server's tools are offered: names or `*` patterns. Empty
/// `allow` means all; `deny` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFilter {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl ToolFilter {
    #[must_use]
    pub fn keeps(&self, tool: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|p| glob(p, tool)))
            && !self.deny.iter().any(|p| glob(p, tool))
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    if !text.ends_with(last) {
        return false;
    }
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Why a server's name cannot be used.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 24 {
        return Err(format!(
            "integration name `{name}` must be 1 to 24 characters"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || name.starts_with('-')
    {
        return Err(format!(
            "integration name `{name}` may only use a-z, 0-9 and `-` (it prefixes its tools' names)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_allow_then_deny_with_patterns() {
        let filter = ToolFilter {
            allow: vec!["get_*".into(), "append_row".into()],
            deny: vec!["*_secret*".into()],
        };
        assert!(filter.keeps("get_rows"));
        assert!(filter.keeps("append_row"));
        assert!(!filter.keeps("delete_sheet"));
        assert!(!filter.keeps("get_secret_rows"));
        assert!(ToolFilter::default().keeps("anything"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxc"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("*", ""));
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(check_name("google-sheets").is_ok());
        assert!(check_name("Sheets").is_err());
        assert!(check_name("a__b").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(25)).is_err());
    }
}
