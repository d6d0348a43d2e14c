//! Token verification must reject every forged, stale or misused token.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use cyberhub_auth::{ErrorKind, JwtKey, TokenConfig, TokenService};
use cyberhub_domain::{Role, SessionId, UserId};
use secrecy::SecretString;
use uuid::Uuid;

const SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";

fn key(kid: &str, secret: &str) -> JwtKey {
    JwtKey::new(kid, SecretString::from(secret.to_owned())).unwrap()
}

fn service() -> TokenService {
    TokenService::new(TokenConfig::default(), key("k1", SECRET), vec![]).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn ids() -> (UserId, SessionId) {
    (UserId(Uuid::new_v4()), SessionId(Uuid::new_v4()))
}

fn assert_rejected(r: cyberhub_auth::Result<cyberhub_auth::Claims>) {
    assert_eq!(
        r.expect_err("token must be rejected").kind(),
        ErrorKind::Unauthenticated
    );
}

#[test]
fn a_fresh_access_token_verifies_with_all_claims() {
    let s = service();
    let (u, sid) = ids();
    let (tok, claims) = s.issue_access(u, sid, &[Role::Mentee], t0()).unwrap();
    let got = s.verify_access(&tok, t0() + Duration::minutes(1)).unwrap();
    assert_eq!(got, claims);
    assert_eq!(
        (got.user_id().unwrap(), got.session_id().unwrap()),
        (u, sid)
    );
    assert_eq!(got.exp - got.iat, 15 * 60);
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(tok.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["kid"], "k1");
}

#[test]
fn expired_and_not_yet_valid_are_rejected() {
    let s = service();
    let (u, sid) = ids();
    let (tok, _) = s.issue_access(u, sid, &[], t0()).unwrap();
    assert_rejected(s.verify_access(&tok, t0() + Duration::minutes(16)));
    let (future, _) = s
        .issue_access(u, sid, &[], t0() + Duration::hours(1))
        .unwrap();
    assert_rejected(s.verify_access(&future, t0()));
}

#[test]
fn wrong_audience_or_issuer_is_rejected() {
    let (u, sid) = ids();
    let other_aud = TokenService::new(
        TokenConfig {
            audience: "other-api".into(),
            ..TokenConfig::default()
        },
        key("k1", SECRET),
        vec![],
    )
    .unwrap();
    let (tok, _) = other_aud.issue_access(u, sid, &[], t0()).unwrap();
    assert_rejected(service().verify_access(&tok, t0()));
    let other_iss = TokenService::new(
        TokenConfig {
            issuer: "evil".into(),
            ..TokenConfig::default()
        },
        key("k1", SECRET),
        vec![],
    )
    .unwrap();
    let (tok, _) = other_iss.issue_access(u, sid, &[], t0()).unwrap();
    assert_rejected(service().verify_access(&tok, t0()));
}

#[test]
fn alg_none_and_algorithm_confusion_are_rejected() {
    let s = service();
    let (u, sid) = ids();
    let (tok, _) = s.issue_access(u, sid, &[Role::Admin], t0()).unwrap();
    let payload = tok.split('.').nth(1).unwrap();
    for alg in ["none", "None", "NONE"] {
        let header = B64.encode(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k1"}}"#));
        assert_rejected(s.verify_access(&format!("{header}.{payload}."), t0()));
    }
    // Same secret, another HMAC algorithm: still refused (algorithm pinned).
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
    h.kid = Some("k1".into());
    let claims: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    let hs512 = jsonwebtoken::encode(
        &h,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_rejected(s.verify_access(&hs512, t0()));
}

#[test]
fn tampered_tokens_are_rejected() {
    let s = service();
    let (u, sid) = ids();
    let (tok, _) = s.issue_access(u, sid, &[Role::Mentee], t0()).unwrap();
    let parts: Vec<&str> = tok.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    claims["roles"] = serde_json::json!(["admin"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert_rejected(s.verify_access(&forged, t0()));
    let mut sig = parts[2].to_owned();
    let last = sig.pop().unwrap();
    sig.push(if last == 'A' { 'B' } else { 'A' });
    assert_rejected(s.verify_access(&format!("{}.{}.{sig}", parts[0], parts[1]), t0()));
    for junk in ["", "a.b", "a.b.c", "....", &"x".repeat(10_000)] {
        assert_rejected(s.verify_access(junk, t0()));
    }
    // Signed with another secret under the same kid.
    let impostor = TokenService::new(
        TokenConfig::default(),
        key("k1", "another-secret-that-is-long-enough-123"),
        vec![],
    )
    .unwrap();
    let (tok, _) = impostor.issue_access(u, sid, &[], t0()).unwrap();
    assert_rejected(s.verify_access(&tok, t0()));
}

#[test]
fn access_and_refresh_are_never_interchangeable() {
    let s = service();
    let (u, sid) = ids();
    let (access, _) = s.issue_access(u, sid, &[], t0()).unwrap();
    let refresh = s
        .issue_refresh(u, sid, Uuid::new_v4(), t0() + Duration::days(30), t0())
        .unwrap();
    assert!(s.verify_refresh(&refresh, t0()).is_ok());
    assert_rejected(s.verify_access(&refresh, t0()));
    assert_rejected(s.verify_refresh(&access, t0()));
    assert_rejected(s.verify_refresh(&refresh, t0() + Duration::days(30) + Duration::minutes(1)));
}

#[test]
fn key_rotation_keeps_the_previous_key_valid() {
    let (u, sid) = ids();
    let old = service();
    let (tok, _) = old.issue_access(u, sid, &[], t0()).unwrap();
    let rotated = TokenService::new(
        TokenConfig::default(),
        key("k2", "the-new-secret-is-also-32-bytes-long!!"),
        vec![key("k1", SECRET)],
    )
    .unwrap();
    assert!(
        rotated.verify_access(&tok, t0()).is_ok(),
        "tokens of the previous key still verify"
    );
    let (new_tok, _) = rotated.issue_access(u, sid, &[], t0()).unwrap();
    assert!(new_tok.starts_with(&B64.encode(r#"{"typ":"JWT","alg":"HS256","kid":"k2"}"#)[..10]));
    let dropped = TokenService::new(
        TokenConfig::default(),
        key("k2", "the-new-secret-is-also-32-bytes-long!!"),
        vec![],
    )
    .unwrap();
    assert_rejected(dropped.verify_access(&tok, t0()));
    assert!(TokenService::new(
        TokenConfig::default(),
        key("k1", SECRET),
        vec![key("k1", SECRET)]
    )
    .is_err());
}

#[test]
fn weak_keys_are_config_errors() {
    let e = JwtKey::new("k", SecretString::from("short".to_owned())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    assert!(JwtKey::new("", SecretString::from(SECRET.to_owned())).is_err());
    assert!(JwtKey::random("dev").is_ok());
}
