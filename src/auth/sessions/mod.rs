//! Sessions and the token lifecycle: a login starts a session; its refresh tokens rotate within
//! it under the reuse rules ([`reuse`]); logout, revocation and password changes end sessions;
//! bearer authentication refuses access tokens of ended sessions.

mod reuse;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::claims::{ClaimSettings, REVOKE_CLAIM, password_fingerprint};
use super::jwt::{Claims, ReadClaims, RefreshClaims, SESSION_CLAIM, TokenError, TokenService, TokenType, UserIdClaim};
use super::{AuthError, BearerRefusal};
use crate::config::{SessionSettings, SimpleJwtSettings};
use crate::metrics::{Metrics, TokenEvent};
use crate::store::Store;
use crate::store::models::{NewSession, PasswordLogin, RefreshRotation, Revocation, SessionRow, TokenRecord, User};
use reuse::Verdict;

/// Longest User-Agent kept with a session, in characters.
const MAX_USER_AGENT_CHARS: usize = 256;

/// How long concurrent refreshes of one token may take to settle before the answer is 409.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// A login's tokens.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub refresh: String,
    pub access: String,
}

/// A refresh's answer: a new access token, and a new refresh token when rotating.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub access: String,
    pub refresh: Option<String>,
}

/// Where a request comes from, as the HTTP layer saw it; kept with the sessions it starts.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A caller authenticated by an access token, and the session that token belongs to (`None` for
/// tokens without `sid`, e.g. minted by SimpleJWT).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub session: Option<String>,
}

/// Which sessions `jwt/logout` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// The presented refresh token's session.
    #[default]
    Local,
    /// Every other session of the caller; the presented token's stays logged in.
    Others,
    /// Every session of the caller.
    Global,
}

/// Issues and checks JWTs against the outstanding/blacklist tables, per session.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    tokens: TokenService,
    claims: ClaimSettings,
    update_last_login: bool,
    rotate: bool,
    blacklist_after_rotation: bool,
    check_user_is_active: bool,
    reuse_detection: bool,
    reuse_interval: chrono::Duration,
    check_access_token_session: bool,
    metrics: Metrics,
}

impl Sessions {
    pub fn new(
        store: Store,
        tokens: TokenService,
        (settings, sessions): (&SimpleJwtSettings, &SessionSettings),
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            tokens,
            claims: ClaimSettings {
                extra: settings.extra_claims.clone(),
                check_revoke_token: settings.check_revoke_token,
            },
            update_last_login: settings.update_last_login,
            rotate: settings.rotate_refresh_tokens,
            blacklist_after_rotation: settings.blacklist_after_rotation,
            check_user_is_active: settings.check_user_is_active,
            reuse_detection: sessions.reuse_detection,
            reuse_interval: chrono::Duration::from_std(sessions.reuse_interval).unwrap_or(chrono::Duration::MAX),
            check_access_token_session: sessions.check_access_token_session,
            metrics,
        }
    }

    /// `jwt/create`: a new session, its first refresh token recorded as outstanding, and an access token.
    pub async fn login(&self, user: &User, client: &Client) -> Result<TokenPair, AuthError> {
        self.start(user, client, Map::new()).await
    }

    /// `jwt/create/mfa/`: like [`Sessions::login`], for a login that also passed a second factor.
    /// Its tokens (and every token refreshed from them) say so with RFC 8176's `amr` and the
    /// assurance level `aal`; a password-only login's tokens keep SimpleJWT's claim set exactly.
    pub async fn login_second_factor(&self, user: &User, client: &Client) -> Result<TokenPair, AuthError> {
        let mut assurance = Map::new();
        assurance.insert("amr".into(), json!(["pwd", "otp"]));
        assurance.insert("aal".into(), json!("aal2"));
        self.start(user, client, assurance).await
    }

    /// `jwt/create` after a right password: [`Sessions::login`] and forgetting the password's
    /// failure counters `forget` in one write ([`Store::start_password_session`]). For a user with
    /// a confirmed second factor only the counters are forgotten, and `None` says the login's
    /// second step is due.
    pub async fn login_after_password(
        &self,
        user: &User,
        client: &Client,
        forget: Option<(&str, &str)>,
    ) -> Result<Option<TokenPair>, AuthError> {
        let now = Utc::now();
        let (pair, session, token) = self.new_login(user, client, Map::new(), now)?;
        let login = PasswordLogin {
            forget,
            session: &session,
            token: &token,
        };
        if !self.store.start_password_session(login).await? {
            return Ok(None);
        }
        self.started(user, now).await?;
        Ok(Some(pair))
    }

    async fn start(&self, user: &User, client: &Client, assurance: Map<String, Value>) -> Result<TokenPair, AuthError> {
        let now = Utc::now();
        let (pair, session, token) = self.new_login(user, client, assurance, now)?;
        self.store.start_session(&session, &token).await?;
        self.started(user, now).await?;
        Ok(pair)
    }

    /// A login's tokens, its session and the record of its refresh token, none of them stored yet.
    fn new_login(
        &self,
        user: &User,
        client: &Client,
        assurance: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<(TokenPair, NewSession, TokenRecord), AuthError> {
        let sid = new_session_id();
        let mut claims = self.claims.for_user(user);
        claims.insert(SESSION_CLAIM.into(), json!(sid));
        claims.extend(assurance);
        let (refresh, access) = self.tokens.login_pair(user.id, claims, now)?;
        let session = new_session(sid, refresh.record.user_id, refresh.record.expires_at, client, now);
        let pair = TokenPair {
            refresh: refresh.token,
            access,
        };
        Ok((pair, session, refresh.record))
    }

    /// What follows a started session: `last_login` (when configured) and the metric.
    async fn started(&self, user: &User, now: DateTime<Utc>) -> Result<(), AuthError> {
        if self.update_last_login {
            self.store.touch_last_login(user.id, now).await?;
        }
        self.metrics.token(TokenEvent::Issued);
        Ok(())
    }

    /// Decodes a refresh token as SimpleJWT's `RefreshToken(...)` does: signature and expiry, then the
    /// blacklist, then `jti` and type.
    async fn decode_refresh(&self, token: &str) -> Result<RefreshClaims, AuthError> {
        let claims = self.tokens.decode(token)?;
        if let Some(jti) = claims.jti()
            && self.store.is_blacklisted(jti).await?
        {
            return Err(TokenError::Blacklisted.into());
        }
        Ok(claims.into_refresh()?)
    }

    /// Whether rotated tokens are judged by the reuse rules (they only exist when rotation blacklists).
    fn detects_reuse(&self) -> bool {
        self.reuse_detection && self.rotate && self.blacklist_after_rotation
    }

    /// `jwt/refresh`: checks the user is still there and active, then rotates if configured.
    /// Rotation is one compare-and-set in the store: of concurrent refreshes of one token exactly
    /// one rotates; with reuse detection the others get the same child (see [`reuse`]).
    pub async fn refresh(&self, token: &str, client: &Client) -> Result<Refreshed, AuthError> {
        let refreshed = self.refresh_now(token, client).await?;
        self.metrics.token(TokenEvent::Refreshed);
        Ok(refreshed)
    }

    async fn refresh_now(&self, token: &str, client: &Client) -> Result<Refreshed, AuthError> {
        let claims = self.tokens.decode(token)?;
        if self.rotate
            && self.blacklist_after_rotation
            && claims.is_of_type(TokenType::Refresh)
            && claims.jti().is_some()
            && claims.user_id() != UserIdClaim::Unusable
        {
            return self.rotate_in_one_go(claims.into_refresh()?, client).await;
        }
        let status = match claims.jti() {
            Some(jti) => self.store.token_status(jti).await?,
            None => None,
        };
        let blacklisted = status.as_ref().is_some_and(|s| s.blacklisted);
        if blacklisted && !self.detects_reuse() {
            return Err(TokenError::Blacklisted.into());
        }
        let claims = claims.into_refresh()?;
        if blacklisted {
            return self.recover(&claims, client).await;
        }
        let fresh = self.active_user_claims(&claims).await?;
        if !self.rotate {
            let access = self.tokens.access_for(&claims, fresh, Utc::now())?;
            return Ok(Refreshed { access, refresh: None });
        }
        let known = status.and_then(|s| s.session_id);
        match self.try_rotate(&claims, fresh, known, client).await? {
            Some(refreshed) => Ok(refreshed),
            None => self.rotated_before(&claims, client).await,
        }
    }

    /// [`Self::refresh`] of a refresh token when rotating and blacklisting (the defaults): the
    /// status and user reads and the rotation are one store call, and the answers are those of the
    /// general path, in its order (blacklisted, then the user, then a lost race).
    async fn rotate_in_one_go(&self, claims: RefreshClaims, client: &Client) -> Result<Refreshed, AuthError> {
        let now = Utc::now();
        let record = claims.record()?;
        let user_id = record.user_id;
        let child = self.tokens.next_refresh(now);
        let session = new_session(new_session_id(), user_id, child.expires_at, client, now);
        let outcome = self
            .store
            .refresh_rotation(RefreshRotation {
                user_id,
                old: record,
                child: child.clone(),
                check_user_is_active: self.check_user_is_active,
                session,
            })
            .await?;
        if outcome.blacklisted {
            return self.rotated_before(&claims, client).await;
        }
        let mut fresh = match (user_id, &outcome.user) {
            (None, _) => Map::new(),
            (Some(_), Some(user)) if user.may_refresh(self.check_user_is_active) => self.fresh_claims(user),
            (Some(_), _) => return Err(AuthError::NoActiveAccount),
        };
        let Some(sid) = outcome.rotated_in else {
            return self.rotated_before(&claims, client).await;
        };
        fresh.insert(SESSION_CLAIM.into(), json!(sid));
        Ok(Refreshed {
            access: self.tokens.access_for(&claims, fresh, now)?,
            refresh: Some(self.tokens.reissue_refresh(&claims, &sid, &child)?),
        })
    }

    /// The answer to a refresh token that was already rotated or blacklisted: the reuse rules, or
    /// SimpleJWT's 401.
    async fn rotated_before(&self, claims: &RefreshClaims, client: &Client) -> Result<Refreshed, AuthError> {
        if self.detects_reuse() {
            self.recover(claims, client).await
        } else {
            Err(TokenError::Blacklisted.into())
        }
    }

    /// One rotation attempt in the token's session (`known`, from its recorded row), or in a new
    /// session when the row names none (a token minted elsewhere: its `sid`, if any, names no session
    /// here); `None` when another caller rotated the token first or its session is revoked.
    async fn try_rotate(
        &self,
        claims: &RefreshClaims,
        mut fresh: Map<String, Value>,
        known: Option<String>,
        client: &Client,
    ) -> Result<Option<Refreshed>, AuthError> {
        let now = Utc::now();
        let (sid, create) = match known {
            Some(sid) => (sid, false),
            None => (new_session_id(), true),
        };
        fresh.insert(SESSION_CLAIM.into(), json!(sid));
        let successor = self.tokens.rotate_refresh(claims, &sid, now)?;
        let session = create.then(|| {
            new_session(
                sid.clone(),
                successor.record.user_id,
                successor.record.expires_at,
                client,
                now,
            )
        });
        if !self.blacklist_after_rotation {
            match &session {
                Some(session) => self.store.start_session(session, &successor.record).await?,
                None => self.store.record_outstanding(&successor.record).await?,
            }
        } else if !self
            .store
            .rotate(&claims.record()?, &successor.record, session.as_ref())
            .await?
        {
            return Ok(None);
        }
        Ok(Some(Refreshed {
            access: self.tokens.access_for(claims, fresh, now)?,
            refresh: Some(successor.token),
        }))
    }

    /// The reuse rules for a token that was already rotated (or lost the race to rotate it).
    /// Retries while the family has not settled, for at most [`SETTLE_TIMEOUT`], then answers 409.
    async fn recover(&self, claims: &RefreshClaims, client: &Client) -> Result<Refreshed, AuthError> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let jti = claims.jti().ok_or(TokenError::NoId)?;
        loop {
            let Some(state) = self.store.rotation_state(jti).await? else {
                return Err(TokenError::Blacklisted.into());
            };
            match reuse::judge(&state, Utc::now(), self.reuse_interval) {
                Verdict::Reissue { session, token } => {
                    let mut fresh = self.active_user_claims(claims).await?;
                    fresh.insert(SESSION_CLAIM.into(), json!(session));
                    return Ok(Refreshed {
                        access: self.tokens.access_for(claims, fresh, Utc::now())?,
                        refresh: Some(self.tokens.reissue_refresh(claims, &session, &token)?),
                    });
                }
                Verdict::Refuse => return Err(TokenError::Blacklisted.into()),
                Verdict::Reuse { session } => {
                    self.store
                        .revoke_sessions(Revocation::Session {
                            id: &session,
                            owner: None,
                        })
                        .await?;
                    self.metrics.refresh_reuse_detected();
                    tracing::warn!(
                        session = %session,
                        user_id = ?claims.record().ok().and_then(|r| r.user_id),
                        "a rotated refresh token was presented again: session revoked"
                    );
                    return Err(TokenError::Blacklisted.into());
                }
                Verdict::Retry if Instant::now() >= deadline => return Err(AuthError::RefreshConflict),
                Verdict::Retry => {
                    // Not blacklisted after all: rotate it like any live token.
                    let fresh = self.active_user_claims(claims).await?;
                    if let Some(refreshed) = self.try_rotate(claims, fresh, state.session_id, client).await? {
                        return Ok(refreshed);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// The custom claims of the user a refresh token names, if that user may still refresh: there,
    /// active and not suspended (whatever `check_user_is_active` says).
    async fn active_user_claims(&self, claims: &Claims) -> Result<Map<String, Value>, AuthError> {
        match claims.user_id() {
            UserIdClaim::Missing => Ok(Map::new()),
            UserIdClaim::Unusable => Err(AuthError::NoActiveAccount),
            UserIdClaim::Id(id) => match self.store.user_by_id(id).await? {
                Some(user) if user.may_refresh(self.check_user_is_active) => Ok(self.fresh_claims(&user)),
                _ => Err(AuthError::NoActiveAccount),
            },
        }
    }

    /// `jwt/verify`: signature, expiry and `jti` of any token type; the blacklist only when
    /// blacklisting after rotation (SimpleJWT's behaviour). Sessions are not consulted, so the
    /// answer is the one a service verifying offline would give. An access token is never looked
    /// up: only [`RefreshClaims`] are recorded, so no access token's `jti` is on the blacklist.
    pub async fn verify(&self, token: &str) -> Result<(), AuthError> {
        let claims = self.tokens.decode_known(token)?;
        let jti = claims.jti().ok_or(TokenError::NoId)?;
        if self.blacklist_after_rotation
            && !claims.is_of_type(TokenType::Access)
            && self.store.is_blacklisted(jti).await?
        {
            return Err(AuthError::BlacklistedOnVerify);
        }
        Ok(())
    }

    /// `jwt/blacklist` and logout: blacklists a valid refresh token and ends its session.
    pub async fn blacklist(&self, token: &str) -> Result<(), AuthError> {
        let claims = self.decode_refresh(token).await?;
        if !self.store.end_session_of(&claims.record()?).await? {
            return Err(TokenError::Blacklisted.into());
        }
        self.metrics.token(TokenEvent::Blacklisted);
        Ok(())
    }

    /// `jwt/logout`, by `scope` (GoTrue's): `Local` ends the refresh token's session; `Others` ends
    /// every other session of the caller and leaves the token's session logged in; `Global` ends all.
    pub async fn logout(&self, token: &str, caller: &User, scope: LogoutScope) -> Result<(), AuthError> {
        let claims = self.decode_refresh(token).await?;
        let record = claims.record()?;
        match scope {
            LogoutScope::Others => {
                let keep = self.session_of(&record).await?;
                self.revoke_all(caller.id, keep.as_deref()).await?;
            }
            LogoutScope::Local | LogoutScope::Global => {
                if !self.store.end_session_of(&record).await? {
                    return Err(TokenError::Blacklisted.into());
                }
                if scope == LogoutScope::Global {
                    self.revoke_all(caller.id, None).await?;
                }
            }
        }
        self.metrics.token(TokenEvent::Blacklisted);
        Ok(())
    }

    /// The session a recorded refresh token belongs to.
    async fn session_of(&self, record: &TokenRecord) -> Result<Option<String>, AuthError> {
        let recorded = self.store.token_status(&record.jti).await?.and_then(|s| s.session_id);
        Ok(recorded.or_else(|| record.session_id.clone()))
    }

    /// The user's sessions that are neither revoked nor expired, newest first.
    pub async fn list(&self, user_id: i64) -> Result<Vec<SessionRow>, AuthError> {
        Ok(self.store.list_sessions(Some(user_id), Utc::now()).await?)
    }

    /// Ends one of the user's sessions; false if the user has no such live session.
    pub async fn revoke(&self, user_id: i64, session: &str) -> Result<bool, AuthError> {
        let revoked = self
            .store
            .revoke_sessions(Revocation::Session {
                id: session,
                owner: Some(user_id),
            })
            .await?;
        Ok(revoked > 0)
    }

    /// Ends every session of the user (and blacklists every refresh token) except session `keep`.
    pub async fn revoke_all(&self, user_id: i64, keep: Option<&str>) -> Result<u64, AuthError> {
        Ok(self.store.revoke_sessions(Revocation::User { user_id, keep }).await?)
    }

    /// Bearer authentication (SimpleJWT's `JWTAuthentication`): an access token, its user, active,
    /// and (a setting) its session not ended. A suspended user is refused as inactive even with
    /// `check_user_is_active` off. The session is checked in the query that reads the user.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, AuthError> {
        let claims = self.tokens.decode_known(token).map_err(bearer)?;
        claims.verify_type(TokenType::Access).map_err(bearer)?;
        let session = claims.session_id().map(str::to_owned);
        let checked_session = session.as_deref().filter(|_| self.check_access_token_session);
        let (user, session_live) = match claims.user_id() {
            UserIdClaim::Missing => {
                return Err(AuthError::Bearer(BearerRefusal::NoUserId));
            }
            UserIdClaim::Unusable => (None, true),
            UserIdClaim::Id(id) => match checked_session {
                Some(sid) => match self.store.user_for_access(id, sid).await? {
                    Some(row) => (Some(row.user), row.session_live),
                    None => (None, true),
                },
                None => (self.store.user_by_id(id).await?, true),
            },
        };
        let Some(user) = user else {
            return Err(AuthError::Bearer(BearerRefusal::UserNotFound));
        };
        if user.is_suspended() || (self.check_user_is_active && !user.is_active) {
            return Err(AuthError::Bearer(BearerRefusal::UserInactive));
        }
        let fingerprint = claims.claim(REVOKE_CLAIM).and_then(Value::as_str);
        if self.claims.check_revoke_token && fingerprint != Some(password_fingerprint(&user.password).as_str()) {
            return Err(AuthError::Bearer(BearerRefusal::PasswordChanged));
        }
        // After SimpleJWT's own checks, so every answer they give stays theirs.
        if !session_live {
            return Err(AuthError::Bearer(BearerRefusal::SessionEnded));
        }
        Ok(Authenticated { user, session })
    }
}

impl Sessions {
    /// Custom claims recomputed at refresh (the stored user may have changed since login); the
    /// revocation claim is not refreshed, so access tokens from an old login stay revoked.
    fn fresh_claims(&self, user: &User) -> Map<String, Value> {
        let mut claims = self.claims.for_user(user);
        claims.remove(REVOKE_CLAIM);
        claims
    }
}

/// 128 random bits (a uuid4's 122) as hex: not guessable, not sequential.
fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The session a first refresh token starts, lasting as long as that token (until `expires_at`).
fn new_session(
    id: String,
    user_id: Option<i64>,
    expires_at: DateTime<Utc>,
    client: &Client,
    now: DateTime<Utc>,
) -> NewSession {
    NewSession {
        id,
        user_id,
        created_at: now,
        expires_at,
        user_agent: client
            .user_agent
            .as_deref()
            .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
        ip: client.ip.clone(),
    }
}

/// Marks a token error as coming from bearer authentication (a different 401 body).
fn bearer(error: TokenError) -> AuthError {
    AuthError::BearerToken(error)
}
