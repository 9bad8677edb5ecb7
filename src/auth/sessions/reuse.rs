//! The reuse rules for rotated refresh tokens (GoTrue's, per session): what presenting a token
//! that was already rotated means, decided from its family as the store reads it.

use chrono::{DateTime, Utc};

use crate::store::models::{IssuedToken, RotationState};

/// What to answer a rotated refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The client lost an answer: hand it this token of its session again (re-signed identically).
    Reissue { session: String, token: IssuedToken },
    /// The token is not blacklisted after all (a rotation racing with its recording): try again.
    Retry,
    /// Logged out, revoked, or a token that belongs to no session: SimpleJWT's "blacklisted" 401.
    Refuse,
    /// A stolen token, or a client far out of step: end the session, then the same 401.
    Reuse { session: String },
}

/// Applies the rules in order: a token whose child has never been used gets that child back;
/// any rotated token of the session within `interval` of its rotation gets the session's live
/// token; anything else is reuse.
pub fn judge(state: &RotationState, now: DateTime<Utc>, interval: chrono::Duration) -> Verdict {
    let Some(rotated_at) = state.rotated_at else {
        return Verdict::Retry;
    };
    let Some(session) = state.session_id.clone() else {
        return Verdict::Refuse;
    };
    if state.session_revoked {
        return Verdict::Refuse;
    }
    if let Some((child, false)) = &state.child {
        return Verdict::Reissue {
            session,
            token: child.clone(),
        };
    }
    if now - rotated_at <= interval
        && let Some(live) = &state.live
    {
        return Verdict::Reissue {
            session,
            token: live.clone(),
        };
    }
    Verdict::Reuse { session }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn token(jti: &str) -> IssuedToken {
        let at = Utc::now();
        IssuedToken {
            jti: jti.into(),
            created_at: at,
            expires_at: at + Duration::days(1),
        }
    }

    fn rotated(seconds_ago: i64) -> RotationState {
        RotationState {
            rotated_at: Some(Utc::now() - Duration::seconds(seconds_ago)),
            session_id: Some("s".into()),
            session_revoked: false,
            child: Some((token("child"), true)),
            live: Some(token("live")),
        }
    }

    const INTERVAL: Duration = Duration::seconds(10);

    #[test]
    fn an_unused_child_is_handed_out_again_however_late() {
        let mut state = rotated(3600);
        state.child = Some((token("child"), false));
        state.live = state.child.as_ref().map(|(t, _)| t.clone());
        assert_eq!(
            judge(&state, Utc::now(), INTERVAL),
            Verdict::Reissue {
                session: "s".into(),
                token: token_like(&state, "child")
            }
        );
    }

    #[test]
    fn an_older_token_within_the_interval_gets_the_live_token() {
        let state = rotated(2);
        assert_eq!(
            judge(&state, Utc::now(), INTERVAL),
            Verdict::Reissue {
                session: "s".into(),
                token: state.live.clone().unwrap()
            }
        );
    }

    #[test]
    fn an_older_token_after_the_interval_is_reuse() {
        assert_eq!(
            judge(&rotated(11), Utc::now(), INTERVAL),
            Verdict::Reuse { session: "s".into() }
        );
    }

    #[test]
    fn revoked_or_sessionless_tokens_are_refused_and_unrotated_ones_retried() {
        let mut revoked = rotated(1);
        revoked.session_revoked = true;
        revoked.child = Some((token("child"), false));
        assert_eq!(judge(&revoked, Utc::now(), INTERVAL), Verdict::Refuse);
        let mut sessionless = rotated(1);
        sessionless.session_id = None;
        assert_eq!(judge(&sessionless, Utc::now(), INTERVAL), Verdict::Refuse);
        let mut live = rotated(1);
        live.rotated_at = None;
        assert_eq!(judge(&live, Utc::now(), INTERVAL), Verdict::Retry);
    }

    fn token_like(state: &RotationState, jti: &str) -> IssuedToken {
        let (child, _) = state.child.clone().unwrap();
        assert_eq!(child.jti, jti);
        child
    }
}
