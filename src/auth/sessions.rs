//! Token lifecycle: login pairs, refresh with rotation, verify, blacklist, and bearer authentication.

use chrono::Utc;

use serde_json::{Map, Value};

use super::AuthError;
use super::claims::{ClaimSettings, REVOKE_CLAIM, password_fingerprint};
use super::jwt::{Claims, TokenError, TokenService, TokenType, UserIdClaim};
use crate::config::SimpleJwtSettings;
use crate::store::Store;
use crate::store::models::User;

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

/// Issues and checks JWTs against the outstanding/blacklist tables.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    tokens: TokenService,
    claims: ClaimSettings,
    update_last_login: bool,
    rotate: bool,
    blacklist_after_rotation: bool,
    check_user_is_active: bool,
}

impl Sessions {
    pub fn new(store: Store, tokens: TokenService, settings: &SimpleJwtSettings) -> Self {
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
        }
    }

    /// `jwt/create`: a refresh token recorded as outstanding and its access token.
    pub async fn login(&self, user: &User) -> Result<TokenPair, AuthError> {
        let now = Utc::now();
        let (refresh, access) = self.tokens.login_pair(user.id, self.claims.for_user(user), now);
        self.store.record_outstanding(&refresh.record).await?;
        if self.update_last_login {
            self.store.touch_last_login(user.id, now).await?;
        }
        Ok(TokenPair {
            refresh: refresh.token,
            access,
        })
    }

    /// Decodes a refresh token as SimpleJWT's `RefreshToken(...)` does: signature and expiry, then the
    /// blacklist, then `jti` and type.
    async fn decode_refresh(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.tokens.decode(token)?;
        if let Some(jti) = claims.jti()
            && self.store.is_blacklisted(jti).await?
        {
            return Err(TokenError::Blacklisted.into());
        }
        claims.verify_type(TokenType::Refresh)?;
        Ok(claims)
    }

    /// `jwt/refresh`: checks the user is still there, active and not suspended (whatever
    /// `check_user_is_active` says), then rotates if configured.
    /// Rotation with blacklisting is one transaction, so of two concurrent refreshes of one token exactly one wins.
    pub async fn refresh(&self, token: &str) -> Result<Refreshed, AuthError> {
        let claims = self.decode_refresh(token).await?;
        let fresh = match claims.user_id() {
            UserIdClaim::Missing => Map::new(),
            UserIdClaim::Unusable => return Err(AuthError::NoActiveAccount),
            UserIdClaim::Id(id) => match self.store.user_by_id(id).await? {
                Some(user) if !user.is_suspended() && (user.is_active || !self.check_user_is_active) => {
                    self.fresh_claims(&user)
                }
                _ => return Err(AuthError::NoActiveAccount),
            },
        };
        let now = Utc::now();
        let access = self.tokens.access_for(&claims, fresh, now);
        if !self.rotate {
            return Ok(Refreshed { access, refresh: None });
        }
        let successor = self.tokens.rotate_refresh(&claims, now);
        if self.blacklist_after_rotation {
            if !self.store.rotate(&claims.record()?, &successor.record).await? {
                return Err(TokenError::Blacklisted.into());
            }
        } else {
            self.store.record_outstanding(&successor.record).await?;
        }
        Ok(Refreshed {
            access,
            refresh: Some(successor.token),
        })
    }

    /// `jwt/verify`: signature, expiry and `jti` of any token type; the blacklist only when
    /// blacklisting after rotation (SimpleJWT's behaviour).
    pub async fn verify(&self, token: &str) -> Result<(), AuthError> {
        let claims = self.tokens.decode(token)?;
        let jti = claims.jti().ok_or(TokenError::NoId)?;
        if self.blacklist_after_rotation && self.store.is_blacklisted(jti).await? {
            return Err(AuthError::BlacklistedOnVerify);
        }
        Ok(())
    }

    /// `jwt/blacklist` and logout: blacklists a valid refresh token.
    pub async fn blacklist(&self, token: &str) -> Result<(), AuthError> {
        let claims = self.decode_refresh(token).await?;
        if !self.store.blacklist(&claims.record()?).await? {
            return Err(TokenError::Blacklisted.into());
        }
        Ok(())
    }

    /// Bearer authentication (SimpleJWT's `JWTAuthentication`): an access token, its user, active.
    /// A suspended user is refused as inactive even with `check_user_is_active` off.
    pub async fn authenticate(&self, token: &str) -> Result<User, AuthError> {
        let claims = self.tokens.decode(token).map_err(bearer)?;
        claims.verify_type(TokenType::Access).map_err(bearer)?;
        let user = match claims.user_id() {
            UserIdClaim::Missing => {
                return Err(AuthError::Bearer {
                    detail: "Token contained no recognizable user identification",
                    code: "token_not_valid",
                });
            }
            UserIdClaim::Unusable => None,
            UserIdClaim::Id(id) => self.store.user_by_id(id).await?,
        };
        let Some(user) = user else {
            return Err(AuthError::Bearer {
                detail: "User not found",
                code: "user_not_found",
            });
        };
        if user.is_suspended() || (self.check_user_is_active && !user.is_active) {
            return Err(AuthError::Bearer {
                detail: "User is inactive",
                code: "user_inactive",
            });
        }
        let fingerprint = TokenService::claim(&claims, REVOKE_CLAIM).and_then(|v| v.as_str());
        if self.claims.check_revoke_token && fingerprint != Some(password_fingerprint(&user.password).as_str()) {
            return Err(AuthError::Bearer {
                detail: "The user's password has been changed.",
                code: "password_changed",
            });
        }
        Ok(user)
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

/// Marks a token error as coming from bearer authentication (a different 401 body).
fn bearer(error: TokenError) -> AuthError {
    AuthError::BearerToken(error)
}
