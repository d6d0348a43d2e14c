//! JWT access and refresh tokens: HS256 pinned, key ids, strict claim checks.
//!
//! Access tokens live 15 minutes and carry `sub`, `sid`, `roles`, `token_type: "access"`,
//! `iss`, `aud`, `iat`, `nbf`, `exp`, `jti`; refresh tokens carry `token_type: "refresh"`
//! and expire with their session (30 days after login, absolute). Verification pins the
//! algorithm (so `alg: none` and algorithm confusion fail), requires a known `kid`, checks
//! issuer, audience and the token type, and checks `nbf`/`exp` against the [`Clock`]
//! time passed in — never the system time.
//!
//! [`Clock`]: cyberhub_domain::Clock

use crate::error::{AuthError, ErrorKind, Result};
use chrono::{DateTime, Duration, Utc};
use cyberhub_domain::{Role, SessionId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Shortest accepted signing secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// One HMAC signing key and its id.
#[derive(Clone)]
pub struct JwtKey {
    kid: String,
    secret: SecretString,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl JwtKey {
    /// A key; the secret must be at least [`MIN_SECRET_BYTES`] long and the id 1–64 printable ASCII.
    pub fn new(kid: impl Into<String>, secret: SecretString) -> Result<Self> {
        let kid = kid.into();
        if kid.is_empty() || kid.len() > 64 || !kid.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AuthError::new(
                ErrorKind::ConfigInvalid,
                "JWT key id must be 1-64 printable ASCII characters",
            ));
        }
        if secret.expose_secret().len() < MIN_SECRET_BYTES {
            return Err(AuthError::new(
                ErrorKind::ConfigInvalid,
                format!("JWT secret for key {kid:?} must be at least {MIN_SECRET_BYTES} bytes"),
            ));
        }
        Ok(Self { kid, secret })
    }

    /// A key with a random 48-byte secret (development mode).
    pub fn random(kid: impl Into<String>) -> Result<Self> {
        use rand::Rng;
        let bytes: [u8; 48] = rand::rng().random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self::new(kid, SecretString::from(hex))
    }

    /// The key id (the `kid` header).
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// Token settings.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// `iss` claim.
    pub issuer: String,
    /// `aud` claim.
    pub audience: String,
    /// Access-token lifetime (15 minutes).
    pub access_ttl: Duration,
    /// Refresh (session) lifetime, absolute (30 days).
    pub refresh_ttl: Duration,
    /// Allowed clock skew for `nbf`/`exp`.
    pub leeway: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            issuer: "cyberhub".into(),
            audience: "cyberhub-api".into(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(30),
            leeway: Duration::seconds(5),
        }
    }
}

/// Which kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// Short-lived, for API calls.
    Access,
    /// Long-lived, only for `POST /auth/token/refresh`.
    Refresh,
}

/// The claims of both token types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Session id (refresh-token family).
    pub sid: String,
    /// Roles at issue time (access tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Access or refresh.
    pub token_type: TokenType,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
    /// Token id.
    pub jti: String,
}

impl Claims {
    /// The user id.
    pub fn user_id(&self) -> Result<UserId> {
        self.sub
            .parse()
            .map_err(|_| AuthError::invalid_token("Invalid token subject"))
    }

    /// The session id.
    pub fn session_id(&self) -> Result<SessionId> {
        self.sid
            .parse()
            .map_err(|_| AuthError::invalid_token("Invalid token session"))
    }

    /// The token id.
    pub fn jti(&self) -> Result<Uuid> {
        self.jti
            .parse()
            .map_err(|_| AuthError::invalid_token("Invalid token id"))
    }
}

/// Issues and verifies tokens with a current key and previous keys still accepted.
#[derive(Debug, Clone)]
pub struct TokenService {
    config: TokenConfig,
    current: JwtKey,
    previous: Vec<JwtKey>,
}

impl TokenService {
    /// Signs with `current`; verifies with `current` and `previous` (key rotation).
    pub fn new(config: TokenConfig, current: JwtKey, previous: Vec<JwtKey>) -> Result<Self> {
        if previous.iter().any(|k| k.kid == current.kid) {
            return Err(AuthError::new(
                ErrorKind::ConfigInvalid,
                "JWT key ids must be unique",
            ));
        }
        Ok(Self {
            config,
            current,
            previous,
        })
    }

    /// The settings.
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    fn sign(&self, claims: &Claims) -> Result<String> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        header.typ = Some("JWT".into());
        let key = EncodingKey::from_secret(self.current.secret.expose_secret().as_bytes());
        jsonwebtoken::encode(&header, claims, &key)
            .map_err(|e| AuthError::internal("token signing failed", e))
    }

    /// An access token for a user's session, valid from `now` for the access lifetime.
    pub fn issue_access(
        &self,
        user: UserId,
        session: SessionId,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<(String, Claims)> {
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_string(),
            roles: roles.to_vec(),
            token_type: TokenType::Access,
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + self.config.access_ttl).timestamp(),
            jti: Uuid::new_v4().to_string(),
        };
        Ok((self.sign(&claims)?, claims))
    }

    /// A refresh token with id `jti`, expiring with its session at `session_expires_at`.
    pub fn issue_refresh(
        &self,
        user: UserId,
        session: SessionId,
        jti: Uuid,
        session_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_string(),
            roles: Vec::new(),
            token_type: TokenType::Refresh,
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: session_expires_at.timestamp(),
            jti: jti.to_string(),
        };
        self.sign(&claims)
    }

    /// Verifies an access token at `now`.
    pub fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<Claims> {
        self.verify(token, TokenType::Access, now)
    }

    /// Verifies a refresh token at `now`.
    pub fn verify_refresh(&self, token: &str, now: DateTime<Utc>) -> Result<Claims> {
        self.verify(token, TokenType::Refresh, now)
    }

    fn verify(&self, token: &str, expected: TokenType, now: DateTime<Utc>) -> Result<Claims> {
        if token.is_empty() || token.len() > 8192 {
            return Err(AuthError::invalid_token("Invalid token"));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::invalid_token("Invalid token"))?;
        if header.alg != Algorithm::HS256 {
            return Err(AuthError::invalid_token("Invalid token algorithm"));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::invalid_token("Token has no key id"))?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
            .ok_or_else(|| AuthError::invalid_token("Token signed with an unknown key"))?;
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false; // checked below against the injected clock
        v.validate_nbf = false;
        v.leeway = 0;
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&[&self.config.audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(key.secret.expose_secret().as_bytes()),
            &v,
        )
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidIssuer => AuthError::invalid_token("Invalid token issuer"),
                K::InvalidAudience => AuthError::invalid_token("Invalid token audience"),
                K::InvalidSignature => AuthError::invalid_token("Invalid token signature"),
                _ => AuthError::invalid_token("Invalid token"),
            }
        })?;
        let c = data.claims;
        if c.token_type != expected {
            return Err(AuthError::invalid_token(match expected {
                TokenType::Access => "An access token is required",
                TokenType::Refresh => "A refresh token is required",
            }));
        }
        let t = now.timestamp();
        let leeway = self.config.leeway.num_seconds();
        if c.nbf > t + leeway {
            return Err(AuthError::invalid_token("Token not valid yet"));
        }
        if c.exp <= t - leeway {
            return Err(AuthError::invalid_token("Token has expired"));
        }
        c.user_id()?;
        c.session_id()?;
        c.jti()?;
        Ok(c)
    }
}
