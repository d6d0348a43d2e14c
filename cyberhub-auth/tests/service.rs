//! The account use cases against a real (SQLite) store, with a manual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use chrono::{Duration, TimeZone, Utc};
use cyberhub_auth::*;
use cyberhub_domain::{
    AccountStatus, AuditAction, AuditFilter, ManualClock, NewUser, Page, UserPatch,
};
use cyberhub_store::{DynStore, SqliteStore};
use secrecy::SecretString;
use std::sync::Arc;

struct Harness {
    auth: AuthService,
    clock: ManualClock,
    store: DynStore,
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

async fn harness_with(tweak: impl FnOnce(&mut AuthConfig)) -> Harness {
    let store: DynStore = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap());
    let mut cfg = AuthConfig::new(
        JwtKey::new(
            "test",
            SecretString::from("a-test-secret-of-at-least-32-bytes!!".to_owned()),
        )
        .unwrap(),
    );
    cfg.password_policy = PasswordPolicy::INSECURE_FAST_FOR_TESTS;
    cfg.session_check_ttl = Duration::zero();
    tweak(&mut cfg);
    let auth = AuthService::new(store.clone(), Arc::new(clock.clone()), cfg).unwrap();
    Harness { auth, clock, store }
}

fn pw(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        first_name: "Lin".into(),
        last_name: "Ops".into(),
        ..Default::default()
    }
}

fn client(addr: &str) -> ClientInfo {
    ClientInfo {
        addr: Some(addr.into()),
        user_agent: Some("tests".into()),
    }
}

#[tokio::test]
async fn signup_then_login_and_authenticate() {
    let h = harness().await;
    let s = h
        .auth
        .signup(
            new_user("Lin@Example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.1"),
        )
        .await
        .unwrap();
    assert_eq!(s.user.email, "lin@example.org");
    assert_eq!(s.roles, vec![cyberhub_domain::Role::Mentee]);
    let p = h.auth.authenticate(&s.tokens.access_token).await.unwrap();
    assert_eq!(p.user_id, s.user.id);
    let again = h
        .auth
        .signup(
            new_user("lin@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.1"),
        )
        .await;
    assert_eq!(again.unwrap_err().kind(), ErrorKind::AlreadyExists);
    let weak = h
        .auth
        .signup(
            new_user("weak@example.org"),
            &pw("password1"),
            &client("10.0.0.1"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (weak.kind(), weak.fields()[0].field.as_str()),
        (ErrorKind::Validation, "password")
    );
    let login = h
        .auth
        .login(
            " LIN@example.org",
            &pw("blue-team-2026"),
            &client("10.0.0.1"),
        )
        .await
        .unwrap();
    assert_ne!(login.session_id, s.session_id);
}

#[tokio::test]
async fn wrong_password_unknown_email_and_inactive_account_look_the_same() {
    let h = harness().await;
    let s = h
        .auth
        .signup(
            new_user("same@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.2"),
        )
        .await
        .unwrap();
    let before = h.auth.hasher().verifications();
    let wrong = h
        .auth
        .login(
            "same@example.org",
            &pw("red-team-2026"),
            &client("10.0.0.2"),
        )
        .await
        .unwrap_err();
    let unknown = h
        .auth
        .login(
            "nobody@example.org",
            &pw("red-team-2026"),
            &client("10.0.0.2"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        h.auth.hasher().verifications() - before,
        2,
        "an unknown e-mail costs one argon2 verification too"
    );
    h.store
        .update_user(
            s.user.id,
            &UserPatch {
                status: Some(AccountStatus::Suspended),
                ..Default::default()
            },
            h.clock.now(),
            &h.auth.event(
                None,
                cyberhub_domain::AuditAction::UserUpdate,
                ("user", None),
                &ClientInfo::default(),
                serde_json::json!({}),
            ),
        )
        .await
        .unwrap();
    let suspended = h
        .auth
        .login(
            "same@example.org",
            &pw("blue-team-2026"),
            &client("10.0.0.2"),
        )
        .await
        .unwrap_err();
    for e in [&wrong, &unknown, &suspended] {
        assert_eq!(
            (e.kind(), e.to_string().as_str()),
            (ErrorKind::Unauthenticated, "Invalid credentials")
        );
    }
    // A suspended account's existing tokens stop working too.
    assert!(h.auth.authenticate(&s.tokens.access_token).await.is_err());
    let failures = h
        .store
        .list_audit(
            &AuditFilter {
                action: Some(AuditAction::LoginFailure),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(failures.total, 3);
}

use cyberhub_domain::Clock;

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let h = harness().await;
    let s = h
        .auth
        .signup(
            new_user("rot@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.3"),
        )
        .await
        .unwrap();
    h.clock.advance(Duration::minutes(1));
    let second = h
        .auth
        .refresh(&s.tokens.refresh_token, &client("10.0.0.3"))
        .await
        .unwrap();
    assert_ne!(second.refresh_token, s.tokens.refresh_token);
    h.clock.advance(Duration::minutes(1));
    let third = h
        .auth
        .refresh(&second.refresh_token, &client("10.0.0.3"))
        .await
        .unwrap();
    assert!(h.auth.authenticate(&third.access_token).await.is_ok());
    // The first refresh token comes back: reuse. Every token of the family dies.
    let e = h
        .auth
        .refresh(&s.tokens.refresh_token, &client("10.6.6.6"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(
        h.auth
            .refresh(&third.refresh_token, &client("10.0.0.3"))
            .await
            .is_err(),
        "the newest refresh token is dead too"
    );
    assert!(
        h.auth.authenticate(&third.access_token).await.is_err(),
        "access tokens of the family stop working"
    );
    assert!(h.auth.authenticate(&s.tokens.access_token).await.is_err());
    let reuse = h
        .store
        .list_audit(
            &AuditFilter {
                action: Some(AuditAction::RefreshReuseDetected),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(reuse.total, 1);
    // Other sessions of the same user are unaffected.
    let other = h
        .auth
        .login(
            "rot@example.org",
            &pw("blue-team-2026"),
            &client("10.0.0.3"),
        )
        .await
        .unwrap();
    assert!(h
        .auth
        .refresh(&other.tokens.refresh_token, &client("10.0.0.3"))
        .await
        .is_ok());
}

#[tokio::test]
async fn refresh_lifetime_is_absolute() {
    let h = harness().await;
    let s = h
        .auth
        .signup(
            new_user("abs@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.4"),
        )
        .await
        .unwrap();
    let mut token = s.tokens.refresh_token;
    for _ in 0..4 {
        h.clock.advance(Duration::days(7));
        token = h
            .auth
            .refresh(&token, &client("10.0.0.4"))
            .await
            .unwrap()
            .refresh_token;
    }
    h.clock.advance(Duration::days(7));
    assert!(
        h.auth.refresh(&token, &client("10.0.0.4")).await.is_err(),
        "35 days after login the family is over"
    );
}

#[tokio::test]
async fn logout_kills_access_tokens_and_password_change_ends_other_sessions() {
    let h = harness().await;
    let a = h
        .auth
        .signup(
            new_user("out@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.5"),
        )
        .await
        .unwrap();
    let b = h
        .auth
        .login(
            "out@example.org",
            &pw("blue-team-2026"),
            &client("10.0.0.5"),
        )
        .await
        .unwrap();
    let pa = h.auth.authenticate(&a.tokens.access_token).await.unwrap();
    assert_eq!(
        h.auth
            .logout(&pa, None, false, &client("10.0.0.5"))
            .await
            .unwrap(),
        1
    );
    assert!(h.auth.authenticate(&a.tokens.access_token).await.is_err());
    assert!(h
        .auth
        .refresh(&a.tokens.refresh_token, &client("10.0.0.5"))
        .await
        .is_err());
    let pb = h.auth.authenticate(&b.tokens.access_token).await.unwrap();
    let c = h
        .auth
        .login(
            "out@example.org",
            &pw("blue-team-2026"),
            &client("10.0.0.5"),
        )
        .await
        .unwrap();
    let bad = h
        .auth
        .change_password(
            &pb,
            &pw("not-the-password"),
            &pw("new-blue-team-2026"),
            &client("10.0.0.5"),
        )
        .await;
    assert_eq!(bad.unwrap_err().fields()[0].field, "current_password");
    h.auth
        .change_password(
            &pb,
            &pw("blue-team-2026"),
            &pw("new-blue-team-2026"),
            &client("10.0.0.5"),
        )
        .await
        .unwrap();
    assert!(
        h.auth.authenticate(&b.tokens.access_token).await.is_ok(),
        "the caller's session stays"
    );
    assert!(
        h.auth.authenticate(&c.tokens.access_token).await.is_err(),
        "other sessions end"
    );
    assert!(h
        .auth
        .login(
            "out@example.org",
            &pw("blue-team-2026"),
            &client("10.0.0.5")
        )
        .await
        .is_err());
    assert!(h
        .auth
        .login(
            "out@example.org",
            &pw("new-blue-team-2026"),
            &client("10.0.0.5")
        )
        .await
        .is_ok());
    let pb = h.auth.authenticate(&b.tokens.access_token).await.unwrap();
    assert!(
        h.auth
            .logout(&pb, None, true, &client("10.0.0.5"))
            .await
            .unwrap()
            >= 2
    );
    assert!(h.auth.authenticate(&b.tokens.access_token).await.is_err());
}

#[tokio::test]
async fn lockout_escalates_per_account_and_expires() {
    let h = harness().await;
    h.auth
        .signup(
            new_user("lock@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.1.1"),
        )
        .await
        .unwrap();
    let wrong = pw("wrong-password!");
    let guesser = client("10.1.0.1");
    let guess = || h.auth.login("lock@example.org", &wrong, &guesser);
    for _ in 0..5 {
        assert_eq!(
            guess().await.unwrap_err().kind(),
            ErrorKind::Unauthenticated
        );
    }
    // The guessing client is locked out of this account, even with the right password...
    let e = h
        .auth
        .login(
            "lock@example.org",
            &pw("blue-team-2026"),
            &client("10.1.0.1"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after().unwrap().as_secs(), 30);
    // ...but the owner, from their own client, is not: a stranger cannot lock them out.
    assert!(h
        .auth
        .login(
            "lock@example.org",
            &pw("blue-team-2026"),
            &client("10.2.0.1")
        )
        .await
        .is_ok());
    h.clock.advance(Duration::seconds(31));
    for _ in 0..5 {
        guess().await.unwrap_err();
    }
    let e = guess().await.unwrap_err();
    assert_eq!(
        e.retry_after().unwrap().as_secs(),
        60,
        "the second lock is twice as long"
    );
    h.clock.advance(Duration::seconds(61));
    assert!(h
        .auth
        .login(
            "lock@example.org",
            &pw("blue-team-2026"),
            &client("10.1.0.1")
        )
        .await
        .is_ok());
}

/// Guessing one account from many clients is slowed account-wide (a high threshold that
/// one client cannot reach through its own lock-out), for new clients only: the owner, on a
/// client that signed in before, is never locked out by strangers.
#[tokio::test]
async fn lockout_slows_distributed_guessing_of_one_account() {
    let h = harness().await;
    h.auth
        .signup(
            new_user("wide@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.1.1"),
        )
        .await
        .unwrap();
    // A second device of the owner's, used once.
    h.auth
        .login(
            "wide@example.org",
            &pw("blue-team-2026"),
            &client("10.0.1.2"),
        )
        .await
        .unwrap();
    for i in 0..100u32 {
        let addr = format!("10.{}.{}.1", 10 + i / 200, i % 200);
        let e = h
            .auth
            .login("wide@example.org", &pw("wrong-password!"), &client(&addr))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated, "attempt {i}");
    }
    // A new client is slowed, even with the right password...
    let e = h
        .auth
        .login(
            "wide@example.org",
            &pw("blue-team-2026"),
            &client("10.2.0.1"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after().unwrap().as_secs(), 60);
    // ...but the owner's devices sign in at once.
    for own in ["10.0.1.1", "10.0.1.2"] {
        assert!(
            h.auth
                .login("wide@example.org", &pw("blue-team-2026"), &client(own))
                .await
                .is_ok(),
            "{own} signed in before"
        );
    }
    // A known client's wrong passwords are still limited by its own lock-out.
    for _ in 0..5 {
        h.auth
            .login(
                "wide@example.org",
                &pw("wrong-password!"),
                &client("10.0.1.2"),
            )
            .await
            .unwrap_err();
    }
    assert_eq!(
        h.auth
            .login(
                "wide@example.org",
                &pw("blue-team-2026"),
                &client("10.0.1.2")
            )
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::RateLimited
    );
    h.clock.advance(Duration::seconds(61));
    assert!(h
        .auth
        .login(
            "wide@example.org",
            &pw("blue-team-2026"),
            &client("10.2.0.1")
        )
        .await
        .is_ok());
}

/// Addresses of one IPv6 /64 are one client.
#[tokio::test]
async fn lockout_keys_ipv6_clients_by_64() {
    let h = harness().await;
    for i in 0..20u32 {
        h.auth
            .login(
                &format!("v6spray{i}@example.org"),
                &pw("Winter2026!x"),
                &client(&format!("2001:db8:7:7::{:x}", i + 1)),
            )
            .await
            .unwrap_err();
    }
    let e = h
        .auth
        .login(
            "v6next@example.org",
            &pw("Winter2026!x"),
            &client("2001:db8:7:7:ffff::1"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    let other = h
        .auth
        .login(
            "v6next@example.org",
            &pw("Winter2026!x"),
            &client("2001:db8:7:8::1"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        other.kind(),
        ErrorKind::Unauthenticated,
        "another /64 is another client"
    );
}

#[tokio::test]
async fn lockout_per_client_address() {
    let h = harness().await;
    for i in 0..20 {
        let e = h
            .auth
            .login(
                &format!("spray{i}@example.org"),
                &pw("Winter2026!x"),
                &client("192.0.2.9"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    }
    let e = h
        .auth
        .login(
            "spray99@example.org",
            &pw("Winter2026!x"),
            &client("192.0.2.9"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert!(
        h.auth
            .login(
                "spray99@example.org",
                &pw("Winter2026!x"),
                &client("192.0.2.10")
            )
            .await
            .unwrap_err()
            .kind()
            == ErrorKind::Unauthenticated
    );
    h.clock.advance(Duration::seconds(61));
    assert_eq!(
        h.auth
            .login(
                "spray99@example.org",
                &pw("Winter2026!x"),
                &client("192.0.2.9")
            )
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthenticated
    );
}

/// A duplicate sign-up is refused before its password is hashed, and an e-mail no account
/// can have is refused before any lookup, lock-out bookkeeping or audit row.
#[tokio::test]
async fn cheap_checks_come_before_costly_work() {
    let h = harness().await;
    h.auth
        .signup(
            new_user("taken@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.1"),
        )
        .await
        .unwrap();
    let hashes = h.auth.hasher().hashes();
    for _ in 0..3 {
        let e = h
            .auth
            .signup(
                new_user("taken@example.org"),
                &pw("blue-team-2026"),
                &client("10.0.0.2"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    }
    assert_eq!(
        h.auth.hasher().hashes(),
        hashes,
        "no hash for a taken e-mail"
    );

    let rows = |store: cyberhub_store::DynStore| async move {
        store
            .list_audit(
                &cyberhub_domain::AuditFilter::default(),
                cyberhub_domain::Page::default(),
            )
            .await
            .unwrap()
            .total
    };
    // The client is locked out first: each refused attempt used to store the submitted
    // e-mail, whatever its size, in a login_locked row.
    for i in 0..21 {
        h.auth
            .login(
                &format!("spray{i}@example.org"),
                &pw("Winter2026!x"),
                &client("10.9.9.9"),
            )
            .await
            .unwrap_err();
    }
    let before = rows(h.store.clone()).await;
    let verifications = h.auth.hasher().verifications();
    let huge = format!("{}@example.org", "a".repeat(100_000));
    for _ in 0..30 {
        let e = h
            .auth
            .login(&huge, &pw("whatever-password"), &client("10.9.9.9"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    }
    assert_eq!(
        rows(h.store.clone()).await,
        before,
        "no audit row stores the oversized e-mail"
    );
    assert_eq!(h.auth.hasher().verifications(), verifications);
}

/// Two refreshes with the same token (two tabs, a lost response): within the grace period
/// the second gets the same successor; after it, the old token is a reuse that revokes the
/// session.
#[tokio::test]
async fn refresh_grace_period_then_reuse() {
    let h = harness_with(|c| c.refresh_grace = Duration::seconds(10)).await;
    let s = h
        .auth
        .signup(
            new_user("tabs@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.5"),
        )
        .await
        .unwrap();
    let first = h
        .auth
        .refresh(&s.tokens.refresh_token, &client("10.0.0.5"))
        .await
        .unwrap();
    h.clock.advance(Duration::seconds(3));
    let second = h
        .auth
        .refresh(&s.tokens.refresh_token, &client("10.0.0.5"))
        .await
        .unwrap();
    let claims = |t: &str| {
        h.auth
            .tokens()
            .verify_refresh(t, h.clock.now())
            .unwrap()
            .jti()
            .unwrap()
    };
    assert_eq!(
        claims(&first.refresh_token),
        claims(&second.refresh_token),
        "the same successor"
    );
    assert!(h.auth.authenticate(&second.access_token).await.is_ok());
    // Past the grace period the replaced token is a reuse: the family is revoked.
    h.clock.advance(Duration::seconds(10));
    let e = h
        .auth
        .refresh(&s.tokens.refresh_token, &client("10.0.0.5"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(h
        .auth
        .refresh(&first.refresh_token, &client("10.0.0.5"))
        .await
        .is_err());
}

/// Wrong current passwords on a password change are limited like logins (429 after five).
#[tokio::test]
async fn password_change_attempts_are_limited() {
    let h = harness().await;
    let s = h
        .auth
        .signup(
            new_user("pwc@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.0.8"),
        )
        .await
        .unwrap();
    let me = h.auth.authenticate(&s.tokens.access_token).await.unwrap();
    for _ in 0..5 {
        let e = h
            .auth
            .change_password(
                &me,
                &pw("guess-guess-1"),
                &pw("new-pass-2026!"),
                &client("10.0.0.8"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation);
    }
    let e = h
        .auth
        .change_password(
            &me,
            &pw("blue-team-2026"),
            &pw("new-pass-2026!"),
            &client("10.0.0.8"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    h.clock.advance(Duration::seconds(31));
    h.auth
        .change_password(
            &me,
            &pw("blue-team-2026"),
            &pw("new-pass-2026!"),
            &client("10.0.0.8"),
        )
        .await
        .unwrap();
}

/// Self-registration cannot ask for roles: the rule is the service's, so every caller of the
/// library gets it, not only the HTTP handler.
#[tokio::test]
async fn signup_request_refuses_roles() {
    let h = harness().await;
    let body = |roles| cyberhub_domain::api::SignupRequest {
        email: "roles@example.org".into(),
        password: "blue-team-2026".into(),
        first_name: "Ro".into(),
        last_name: "Les".into(),
        country: None,
        timezone: None,
        language: None,
        roles,
    };
    let e = h
        .auth
        .signup_request(
            &body(Some(vec![cyberhub_domain::Role::Admin])),
            &client("10.0.9.1"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(
        h.store
            .get_credentials_by_email("roles@example.org")
            .await
            .is_err(),
        "nothing was created"
    );
    let s = h
        .auth
        .signup_request(&body(None), &client("10.0.9.1"))
        .await
        .unwrap();
    assert_eq!(s.roles, vec![cyberhub_domain::Role::Mentee]);
}

/// Live sessions per user are capped: a login beyond the cap ends the oldest session.
#[tokio::test]
async fn sessions_per_user_are_capped() {
    let h = harness_with(|c| c.max_sessions_per_user = 2).await;
    let first = h
        .auth
        .signup(
            new_user("capped@example.org"),
            &pw("blue-team-2026"),
            &client("10.0.8.1"),
        )
        .await
        .unwrap();
    let (password, from) = (pw("blue-team-2026"), client("10.0.8.1"));
    let login = || h.auth.login("capped@example.org", &password, &from);
    h.clock.advance(Duration::seconds(1));
    let second = login().await.unwrap();
    assert!(h
        .auth
        .authenticate(&first.tokens.access_token)
        .await
        .is_ok());
    h.clock.advance(Duration::seconds(1));
    let third = login().await.unwrap();
    assert!(
        h.auth
            .authenticate(&first.tokens.access_token)
            .await
            .is_err(),
        "the oldest session ended"
    );
    assert!(h
        .auth
        .refresh(&first.tokens.refresh_token, &client("10.0.8.1"))
        .await
        .is_err());
    for s in [&second, &third] {
        assert!(h.auth.authenticate(&s.tokens.access_token).await.is_ok());
    }
    assert_eq!(
        h.store
            .get_session(first.session_id)
            .await
            .unwrap()
            .revoked_reason
            .as_deref(),
        Some("session_limit")
    );
}

#[tokio::test]
async fn a_busy_sessions_answer_is_checked_again_past_half_its_ttl_and_never_used_past_it() {
    let h = harness_with(|c| c.session_check_ttl = Duration::seconds(1)).await;
    let s = h
        .auth
        .signup(
            new_user("cached@example.org"),
            &pw("correct horse battery staple"),
            &client("198.51.100.30"),
        )
        .await
        .unwrap();
    let token = s.tokens.access_token.clone();
    h.auth.authenticate(&token).await.unwrap();
    h.clock.advance(Duration::milliseconds(600));
    h.auth
        .authenticate(&token)
        .await
        .expect("past half the TTL: checked again, still active (the answer renewed)");
    // Ended behind this instance's back, as on another instance without a broadcast.
    let ended = h.auth.event(
        None,
        AuditAction::Logout,
        ("session", Some(s.session_id.to_string())),
        &ClientInfo::default(),
        serde_json::json!({}),
    );
    h.store
        .revoke_session(s.session_id, "elsewhere", h.clock.now(), &ended)
        .await
        .unwrap();
    h.clock.advance(Duration::milliseconds(400));
    h.auth
        .authenticate(&token)
        .await
        .expect("0.4 s after the renewal: the cached answer (within the TTL)");
    h.clock.advance(Duration::milliseconds(100));
    assert!(
        h.auth.authenticate(&token).await.is_err(),
        "half a TTL after the renewal the next request checks again and sees the end"
    );
    h.clock.advance(Duration::milliseconds(100));
    assert!(h.auth.authenticate(&token).await.is_err());
}
