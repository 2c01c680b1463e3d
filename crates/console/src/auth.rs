//! Sessions from cookies, roles checked as they are now, CSRF on forms.

use agencybot_core::{Member, Role, Team};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use crate::{Console, hash, view};

pub const SESSION_COOKIE: &str = "agencybot_console";

/// The member behind a request's session.
pub struct SignedIn {
    pub team: Team,
    pub member: Member,
    pub csrf: String,
    session_hash: String,
}

impl SignedIn {
    pub fn role(&self) -> Role {
        self.member.role
    }

    /// Refuses with 403 unless the member's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), Response> {
        if self.member.role >= role {
            Ok(())
        } else {
            Err(view::refusal(
                StatusCode::FORBIDDEN,
                &format!(
                    "This needs the {role} role; you are {}. Ask an admin of {} to change your role.",
                    self.member.role, self.team.name
                ),
            ))
        }
    }

    /// Refuses a form whose token is not this session's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), Response> {
        let sent = sent.unwrap_or("");
        if bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes())) && !sent.is_empty() {
            Ok(())
        } else {
            Err(view::refusal(
                StatusCode::FORBIDDEN,
                "This form is stale or did not come from the console. Reload the page and try again.",
            ))
        }
    }

    pub fn session_hash(&self) -> &str {
        &self.session_hash
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

impl Console {
    /// The session's member, or a redirect to the sign-in page.
    pub(crate) async fn signed_in(&self, headers: &HeaderMap) -> Result<SignedIn, Response> {
        let to_sign_in = || Redirect::to("/console/sign-in").into_response();
        let Some(id) = cookie(headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let session_hash = hash(&id);
        let now = self.clock.now();
        let session = match self.store.console_session(&session_hash, now).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(to_sign_in()),
            Err(error) => return Err(view::store_failure(&error)),
        };
        let team = match self.store.team(session.identity.team_id).await {
            Ok(team) => team,
            Err(error) => return Err(view::store_failure(&error)),
        };
        // The role as it is now: a member removed since signing in is out.
        let member = match self.store.members(team.id).await {
            Ok(members) => members
                .into_iter()
                .find(|m| m.name == session.identity.member_name),
            Err(error) => return Err(view::store_failure(&error)),
        };
        let Some(member) = member else {
            let _ = self.store.end_console_session(&session_hash, now).await;
            return Err(to_sign_in());
        };
        Ok(SignedIn {
            team,
            member,
            csrf: session.csrf_token,
            session_hash,
        })
    }

    /// The `Set-Cookie` value that starts (or, with `None`, ends) a session.
    pub(crate) fn session_cookie(&self, id: Option<&str>) -> HeaderValue {
        let secure = if self.secure() { "; Secure" } else { "" };
        let value = match id {
            Some(id) => format!(
                "{SESSION_COOKIE}={id}; Path=/console; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                self.settings.session_ttl.as_secs()
            ),
            None => format!(
                "{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
            ),
        };
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}
