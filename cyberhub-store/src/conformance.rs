//! The backend conformance suite (feature `conformance`): every [`Store`] backend must pass it.
//!
//! Each case is a public `async fn(DynStore)` that panics on failure, so a backend's test
//! crate runs the whole suite with one macro call:
//!
//! ```ignore
//! async fn make() -> Option<cyberhub_store::conformance::Fixture> {
//!     Some(cyberhub_store::conformance::Fixture::sqlite_temp().await)
//! }
//! cyberhub_store::store_conformance_tests!(make);
//! ```
//!
//! A factory returning `None` skips the case (only allowed outside CI; see
//! [`postgres_admin_url`]). Cases are independent: each gets a fresh, migrated database.
// Test-support code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use crate::{
    DynStore, EndSessions, ErrorKind, Instance, Purged, Retention, RotateOutcome, Session,
    StoreError,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use cyberhub_domain::*;
use std::sync::Arc;
use uuid::Uuid;

/// A fresh, migrated store for one case, and how to clean it up.
pub struct Fixture {
    /// The store under test.
    pub store: DynStore,
    cleanup: Cleanup,
}

enum Cleanup {
    None,
    TempDir(std::path::PathBuf),
    #[cfg(feature = "postgres")]
    PgDatabase {
        admin_url: String,
        name: String,
    },
}

impl Fixture {
    /// Wraps a store that needs no cleanup.
    pub fn new(store: DynStore) -> Self {
        Self {
            store,
            cleanup: Cleanup::None,
        }
    }

    /// A SQLite database file in a new temporary directory.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite_temp() -> Self {
        let dir =
            std::env::temp_dir().join(format!("cyberhub-conformance-{}", Uuid::new_v4().simple()));
        let url = format!("sqlite://{}/store.db", dir.display());
        let store = crate::open(&url).await.expect("open sqlite");
        Self {
            store,
            cleanup: Cleanup::TempDir(dir),
        }
    }

    /// A new database on the PostgreSQL server behind `admin_url` (a URL to any database
    /// of a role that may `CREATE DATABASE`).
    #[cfg(feature = "postgres")]
    pub async fn postgres_fresh(admin_url: &str) -> Self {
        let (url, name) = create_postgres_database(admin_url).await;
        let store = crate::open(&url).await.expect("open postgres");
        Self {
            store,
            cleanup: Cleanup::PgDatabase {
                admin_url: admin_url.to_owned(),
                name,
            },
        }
    }

    /// Closes the store and removes its database.
    pub async fn teardown(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::None => {}
            Cleanup::TempDir(dir) => {
                std::fs::remove_dir_all(dir).ok();
            }
            #[cfg(feature = "postgres")]
            Cleanup::PgDatabase { admin_url, name } => {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await
                        .ok();
                }
            }
        }
    }
}

/// Creates a uniquely named database next to `admin_url`'s; returns its URL and name.
#[cfg(feature = "postgres")]
pub async fn create_postgres_database(admin_url: &str) -> (String, String) {
    use sqlx::Connection;
    let name = format!("cyberhub_t_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL at {}: {e}",
                crate::redact_url(admin_url)
            )
        });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    admin.close().await.ok();
    (replace_db_name(admin_url, &name), name)
}

/// Drops a database made by [`create_postgres_database`] (best effort).
#[cfg(feature = "postgres")]
pub async fn drop_postgres_database(admin_url: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .ok();
    }
}

/// `postgres://u:p@h:5432/db?x` with the database name replaced.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base.get(authority_start..).and_then(|rest| rest.find('/')) {
        Some(slash) => base.get(..authority_start + slash).unwrap_or(base),
        None => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// The PostgreSQL URL for tests: `CYBERHUB_TEST_DATABASE_URL`, else `DATABASE_URL`.
///
/// When neither is set the tests that need PostgreSQL are skipped — except under
/// `CI=true`, where this panics so that a CI run can never pass by skipping.
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("CYBERHUB_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|u| u.starts_with("postgres"));
    if url.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        if ci {
            panic!(
                "CI is set but no PostgreSQL URL is: export DATABASE_URL (scripts/test.sh does)"
            );
        }
        eprintln!(
            "SKIPPED: set DATABASE_URL=postgres://... to run the PostgreSQL conformance cases"
        );
    }
    url
}

/// Expands to one `#[tokio::test]` per conformance case, each with a store from
/// `$factory: async fn() -> Option<Fixture>`.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:path) => {
        $crate::store_conformance_tests!(@cases $factory;
            users_crud, users_unique_email_writes_nothing, users_change_email, users_bad_input_is_typed, users_list_filters_and_pages,
            sessions_rotate_and_revoke, sessions_revoke_all_but_one, sessions_capped_per_user, roles_grant_and_revoke,
            orgs_create_get_update_delete, orgs_rollback_on_error, orgs_members_and_last_admin,
            orgs_cross_tenant_sees_nothing, content_crud_and_filters, progress_crud_and_transitions,
            progress_cross_tenant_sees_nothing, progress_list_filters_and_ordering, progress_concurrent_writers,
            audit_append_filter_and_stats, user_delete_cascades, user_delete_keeps_an_admin,
            migrations_are_idempotent,
            outbox_records_every_content_write, outbox_leases_are_exclusive, outbox_concurrent_claimers_never_share,
            personality_round_trip, audit_failing_insert_undoes_the_write,
            audit_failing_write_records_nothing, invitations_lifecycle, retention_purges_what_is_not_kept,
            instances_heartbeat_and_leave, progress_popularity_counts_learners);
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(fixture) = $factory().await else { return };
                // The case runs as its own task so that a failing one still gets its
                // database removed before the failure is reported.
                let outcome = tokio::spawn($crate::conformance::$case(fixture.store.clone())).await;
                fixture.teardown().await;
                if let Err(e) = outcome {
                    match e.try_into_panic() {
                        Ok(panic) => std::panic::resume_unwind(panic),
                        Err(e) => panic!("conformance case did not finish: {e}"),
                    }
                }
            }
        )+
    };
}

/// The live-session cap the suite passes where it does not test the cap.
const LIVE: u32 = 50;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap()
}

/// An audit event for a write made by the suite (its content does not matter to the store).
fn ev() -> AuditEvent {
    AuditEvent::new(
        AuditId(Uuid::new_v4()),
        None,
        AuditAction::UserUpdate,
        ("conformance", None),
        AuditResult::Success,
        t0(),
    )
}

fn kind<T: std::fmt::Debug>(r: Result<T, StoreError>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

async fn user(store: &DynStore, email: &str, roles: &[Role]) -> User {
    let new = NewUser {
        email: email.into(),
        first_name: "Test".into(),
        last_name: email.split('@').next().unwrap_or("x").into(),
        ..Default::default()
    }
    .validated()
    .unwrap();
    let u = User::new(UserId(Uuid::new_v4()), new, t0());
    let grants: Vec<RoleGrant> = roles
        .iter()
        .map(|r| RoleGrant {
            user_id: u.id,
            role: *r,
            scope: RoleScope::Global,
            granted_by: None,
            granted_at: t0(),
        })
        .collect();
    store
        .create_user(
            &u,
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            &grants,
            &ev(),
        )
        .await
        .unwrap();
    u
}

fn org_entity(slug: &str) -> Organization {
    let new = NewOrganization {
        name: format!("Org {slug}"),
        slug: slug.into(),
        org_type: OrgType::Employer,
        description: None,
        website: None,
        country: None,
    }
    .validated()
    .unwrap();
    Organization::new(OrgId(Uuid::new_v4()), new, t0())
}

fn content(content_id: &str, ty: ContentType, track: Track, title: &str) -> ContentItem {
    let new = NewContent {
        content_id: Some(content_id.into()),
        content_type: ty,
        title: title.into(),
        description: format!("About {title}"),
        track: Some(track),
        difficulty: Some(Difficulty::Beginner),
        tags: vec!["t1".into()],
        estimated_minutes: Some(30),
    }
    .validated()
    .unwrap();
    ContentItem::new(ContentUuid(Uuid::new_v4()), new, t0())
}

fn progress_for(user: UserId, content_id: &str, pct: Option<f64>, at: DateTime<Utc>) -> Progress {
    Progress::new(
        ProgressId(Uuid::new_v4()),
        user,
        NewProgress {
            content_id: content_id.into(),
            content_type: ContentType::Lab,
            status: None,
            completion_percentage: pct,
            score: None,
            metadata: None,
        },
        at,
    )
    .unwrap()
}

pub async fn users_crud(store: DynStore) {
    let u = user(&store, "ada@example.org", &[Role::Mentee]).await;
    assert_eq!(store.get_user(u.id).await.unwrap(), u);
    let creds = store
        .get_credentials_by_email(" ADA@example.org ")
        .await
        .unwrap();
    assert_eq!(creds.user.id, u.id);
    assert!(creds.password_hash.starts_with("$argon2id$"));
    let patch = UserPatch {
        bio: Some("Blue teamer".into()),
        country: Some("de".into()),
        learning_preferences: Some(LearningPreferences {
            preferred_tracks: vec![Track::Defender],
            weekly_goal_minutes: Some(120),
            ..Default::default()
        }),
        ..Default::default()
    };
    let later = t0() + Duration::minutes(5);
    let updated = store.update_user(u.id, &patch, later, &ev()).await.unwrap();
    assert_eq!(updated.country.as_deref(), Some("DE"));
    assert_eq!(updated.updated_at, later);
    assert_eq!(store.get_user(u.id).await.unwrap(), updated);
    store
        .set_password_hash(u.id, "$argon2id$new", later, EndSessions::None, &ev())
        .await
        .unwrap();
    assert_eq!(
        store
            .get_credentials_by_email("ada@example.org")
            .await
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );
    assert_eq!(store.list_roles(u.id).await.unwrap().len(), 1);
    store.delete_user(u.id, &ev()).await.unwrap();
    assert_eq!(kind(store.get_user(u.id).await), ErrorKind::NotFound);
    assert_eq!(
        kind(store.delete_user(u.id, &ev()).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.update_user(u.id, &patch, later, &ev()).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            store
                .set_password_hash(u.id, "$x", later, EndSessions::None, &ev())
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.get_credentials_by_email("nobody@example.org").await),
        ErrorKind::NotFound
    );
}

pub async fn users_unique_email_writes_nothing(store: DynStore) {
    let first = user(&store, "dup@example.org", &[]).await;
    let again = User::new(
        UserId(Uuid::new_v4()),
        NewUser {
            email: "dup@example.org".into(),
            first_name: "B".into(),
            last_name: "C".into(),
            ..Default::default()
        },
        t0(),
    );
    let grant = RoleGrant {
        user_id: again.id,
        role: Role::Admin,
        scope: RoleScope::Global,
        granted_by: None,
        granted_at: t0(),
    };
    assert_eq!(
        kind(store.create_user(&again, "$h", &[grant], &ev()).await),
        ErrorKind::AlreadyExists
    );
    assert!(
        store.list_roles(again.id).await.unwrap().is_empty(),
        "no grant survives the failed insert"
    );
    assert_eq!(kind(store.get_user(again.id).await), ErrorKind::NotFound);
    assert_eq!(store.get_user(first.id).await.unwrap(), first);
}

pub async fn users_change_email(store: DynStore) {
    let a = user(&store, "old@example.org", &[]).await;
    let b = user(&store, "taken@example.org", &[]).await;
    let before = audit_rows(&store).await;
    let later = t0() + Duration::minutes(1);
    let changed = store
        .set_email(a.id, "  New@Example.ORG ", later, &ev())
        .await
        .unwrap();
    assert_eq!(changed.email, "new@example.org", "stored normalised");
    assert_eq!(changed.updated_at, later);
    assert_eq!(audit_rows(&store).await, before + 1);
    assert_eq!(
        store
            .get_credentials_by_email("new@example.org")
            .await
            .unwrap()
            .user
            .id,
        a.id
    );
    assert_eq!(
        kind(store.get_credentials_by_email("old@example.org").await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            store
                .set_email(a.id, "taken@example.org", later, &ev())
                .await
        ),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        kind(store.set_email(a.id, "not an address", later, &ev()).await),
        ErrorKind::Validation
    );
    assert_eq!(
        kind(
            store
                .set_email(UserId(Uuid::new_v4()), "free@example.org", later, &ev())
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        audit_rows(&store).await,
        before + 1,
        "refusals record nothing"
    );
    assert_eq!(store.get_user(b.id).await.unwrap(), b);
    assert_eq!(store.get_user(a.id).await.unwrap().email, "new@example.org");
}

pub async fn users_bad_input_is_typed(store: DynStore) {
    let mut bad = User::new(
        UserId(Uuid::new_v4()),
        NewUser {
            email: "ok@example.org".into(),
            first_name: "A".into(),
            last_name: "B".into(),
            ..Default::default()
        },
        t0(),
    );
    bad.email = "not an email".into();
    assert_eq!(
        kind(store.create_user(&bad, "$h", &[], &ev()).await),
        ErrorKind::Validation
    );
    let mut good = bad.clone();
    good.email = "good@example.org".into();
    assert_eq!(
        kind(store.create_user(&good, "", &[], &ev()).await),
        ErrorKind::Validation
    );
    let foreign = RoleGrant {
        user_id: UserId(Uuid::new_v4()),
        role: Role::Admin,
        scope: RoleScope::Global,
        granted_by: None,
        granted_at: t0(),
    };
    assert_eq!(
        kind(store.create_user(&good, "$h", &[foreign], &ev()).await),
        ErrorKind::Validation
    );
    assert_eq!(
        kind(store.get_user(good.id).await),
        ErrorKind::NotFound,
        "nothing was written"
    );
    store.create_user(&good, "$h", &[], &ev()).await.unwrap();
    let too_long = UserPatch {
        first_name: Some("x".repeat(500)),
        ..Default::default()
    };
    let e = store
        .update_user(good.id, &too_long, t0(), &ev())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(e.fields()[0].field, "first_name");
    assert_eq!(store.get_user(good.id).await.unwrap().first_name, "A");
}

pub async fn users_list_filters_and_pages(store: DynStore) {
    for i in 0..25 {
        let roles: &[Role] = if i % 5 == 0 {
            &[Role::Mentor]
        } else {
            &[Role::Mentee]
        };
        let u = user(&store, &format!("user{i:02}@example.org"), roles).await;
        if i % 10 == 3 {
            store
                .update_user(
                    u.id,
                    &UserPatch {
                        status: Some(AccountStatus::Suspended),
                        ..Default::default()
                    },
                    t0(),
                    &ev(),
                )
                .await
                .unwrap();
        }
    }
    let p1 = store
        .list_users(
            &UserFilter::default(),
            Page::new(Some(1), Some(10)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((p1.total, p1.items.len()), (25, 10));
    assert!(p1.has_next());
    let p3 = store
        .list_users(
            &UserFilter::default(),
            Page::new(Some(3), Some(10)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(p3.items.len(), 5);
    assert!(!p3.has_next());
    let p9 = store
        .list_users(
            &UserFilter::default(),
            Page::new(Some(9), Some(10)).unwrap(),
        )
        .await
        .unwrap();
    assert!(p9.items.is_empty());
    assert_eq!(p9.total, 25);
    let mut all: Vec<UserId> = Vec::new();
    for n in 1..=3 {
        let p = store
            .list_users(
                &UserFilter::default(),
                Page::new(Some(n), Some(10)).unwrap(),
            )
            .await
            .unwrap();
        all.extend(p.items.iter().map(|u| u.id));
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 25, "pages neither overlap nor skip");
    let mentors = store
        .list_users(
            &UserFilter {
                role: Some(Role::Mentor),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(mentors.total, 5);
    let suspended = store
        .list_users(
            &UserFilter {
                status: Some(AccountStatus::Suspended),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(suspended.total, 3);
    let search = store
        .list_users(
            &UserFilter {
                search: Some("USER1".into()),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(search.total, 10);
    let wildcard = store
        .list_users(
            &UserFilter {
                search: Some("%".into()),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        wildcard.total, 0,
        "LIKE wildcards in search terms are literal"
    );
}

fn session(user: UserId, at: DateTime<Utc>) -> Session {
    Session {
        id: SessionId(Uuid::new_v4()),
        user_id: user,
        refresh_jti: Uuid::new_v4(),
        generation: 0,
        created_at: at,
        last_used_at: at,
        expires_at: at + Duration::days(30),
        revoked_at: None,
        revoked_reason: None,
        user_agent: Some("conformance".into()),
        client_addr: Some("127.0.0.1".into()),
        previous_refresh_jti: None,
    }
}

pub async fn sessions_rotate_and_revoke(store: DynStore) {
    let u = user(&store, "s@example.org", &[]).await;
    let s = session(u.id, t0());
    store.create_session(&s, LIVE, &ev()).await.unwrap();
    assert_eq!(store.get_session(s.id).await.unwrap(), s);
    let j1 = Uuid::new_v4();
    let at = t0() + Duration::minutes(1);
    let RotateOutcome::Rotated(r) = store
        .rotate_refresh(s.id, s.refresh_jti, j1, at, &ev())
        .await
        .unwrap()
    else {
        panic!("first rotation must succeed")
    };
    assert_eq!((r.refresh_jti, r.generation, r.last_used_at), (j1, 1, at));
    // The old jti again: rejected, nothing changes.
    let RotateOutcome::Rejected(cur) = store
        .rotate_refresh(s.id, s.refresh_jti, Uuid::new_v4(), at, &ev())
        .await
        .unwrap()
    else {
        panic!("reuse must be rejected")
    };
    assert_eq!(cur.refresh_jti, j1);
    // After the absolute expiry: rejected.
    let late = s.expires_at + Duration::seconds(1);
    assert!(matches!(
        store
            .rotate_refresh(s.id, j1, Uuid::new_v4(), late, &ev())
            .await
            .unwrap(),
        RotateOutcome::Rejected(_)
    ));
    store
        .revoke_session(s.id, "logout", at, &ev())
        .await
        .unwrap();
    store
        .revoke_session(s.id, "again", at + Duration::minutes(1), &ev())
        .await
        .unwrap();
    let revoked = store.get_session(s.id).await.unwrap();
    assert_eq!(
        (revoked.revoked_at, revoked.revoked_reason.as_deref()),
        (Some(at), Some("logout"))
    );
    assert!(!revoked.is_active(at));
    assert!(matches!(
        store
            .rotate_refresh(s.id, j1, Uuid::new_v4(), at, &ev())
            .await
            .unwrap(),
        RotateOutcome::Rejected(_)
    ));
    assert_eq!(
        kind(store.get_session(SessionId(Uuid::new_v4())).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            store
                .rotate_refresh(SessionId(Uuid::new_v4()), j1, j1, at, &ev())
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            store
                .revoke_session(SessionId(Uuid::new_v4()), "x", at, &ev())
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            store
                .create_session(&session(UserId(Uuid::new_v4()), t0()), LIVE, &ev())
                .await
        ),
        ErrorKind::NotFound
    );
}

pub async fn sessions_revoke_all_but_one(store: DynStore) {
    let u = user(&store, "multi@example.org", &[]).await;
    let other = user(&store, "other@example.org", &[]).await;
    let ss: Vec<Session> = (0..4).map(|_| session(u.id, t0())).collect();
    for s in &ss {
        store.create_session(s, LIVE, &ev()).await.unwrap();
    }
    let theirs = session(other.id, t0());
    store.create_session(&theirs, LIVE, &ev()).await.unwrap();
    let n = store
        .revoke_user_sessions(u.id, Some(ss[0].id), "password_change", t0(), &ev())
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(store.get_session(ss[0].id).await.unwrap().is_active(t0()));
    assert!(!store.get_session(ss[1].id).await.unwrap().is_active(t0()));
    assert!(store.get_session(theirs.id).await.unwrap().is_active(t0()));
    assert_eq!(
        store
            .revoke_user_sessions(u.id, None, "logout_all", t0(), &ev())
            .await
            .unwrap(),
        1
    );
    // A password change ends the other sessions in its own transaction.
    let (mine, other_tab) = (session(u.id, t0()), session(u.id, t0()));
    store.create_session(&mine, LIVE, &ev()).await.unwrap();
    store.create_session(&other_tab, LIVE, &ev()).await.unwrap();
    let at = t0() + Duration::minutes(3);
    let ended = store
        .set_password_hash(
            u.id,
            "$argon2id$n",
            at,
            EndSessions::AllExcept(mine.id),
            &ev(),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(store.get_session(mine.id).await.unwrap().is_active(at));
    let ended_tab = store.get_session(other_tab.id).await.unwrap();
    assert_eq!(
        (ended_tab.revoked_at, ended_tab.revoked_reason.as_deref()),
        (Some(at), Some("password_change"))
    );
    assert_eq!(
        store
            .set_password_hash(u.id, "$argon2id$m", at, EndSessions::None, &ev())
            .await
            .unwrap(),
        0
    );
    assert!(store.get_session(mine.id).await.unwrap().is_active(at));
    assert!(store.get_session(theirs.id).await.unwrap().is_active(at));
}

/// A user keeps at most `max_live` live sessions: a login beyond it revokes their oldest
/// (by login time) in its own transaction; ended sessions and other users' do not count.
pub async fn sessions_capped_per_user(store: DynStore) {
    let u = user(&store, "many-tabs@example.org", &[]).await;
    let other = user(&store, "few-tabs@example.org", &[]).await;
    let at = |m: i64| t0() + Duration::minutes(m);
    let theirs = session(other.id, at(0));
    store.create_session(&theirs, 3, &ev()).await.unwrap();
    let mut ended = session(u.id, at(0));
    ended.expires_at = at(1);
    store.create_session(&ended, 3, &ev()).await.unwrap();
    let logged_out = session(u.id, at(0));
    store.create_session(&logged_out, 3, &ev()).await.unwrap();
    store
        .revoke_session(logged_out.id, "logout", at(0), &ev())
        .await
        .unwrap();
    let ss: Vec<Session> = (1..=3).map(|m| session(u.id, at(m * 2))).collect();
    for s in &ss {
        assert_eq!(store.create_session(s, 3, &ev()).await.unwrap(), 0);
    }
    for s in &ss {
        assert!(store.get_session(s.id).await.unwrap().is_active(at(6)));
    }
    // A fourth, whose audit row cannot be written: nothing happens, the cap included.
    let fourth = session(u.id, at(8));
    let taken = ev();
    store.append_audit(&taken).await.unwrap();
    assert!(store.create_session(&fourth, 3, &taken).await.is_err());
    assert!(store.get_session(ss[0].id).await.unwrap().is_active(at(8)));
    // The fourth: the oldest live one goes.
    assert_eq!(store.create_session(&fourth, 3, &ev()).await.unwrap(), 1);
    let oldest = store.get_session(ss[0].id).await.unwrap();
    assert_eq!(
        (oldest.revoked_at, oldest.revoked_reason.as_deref()),
        (Some(at(8)), Some("session_limit"))
    );
    for s in [&ss[1], &ss[2], &fourth, &theirs] {
        assert!(store.get_session(s.id).await.unwrap().is_active(at(8)));
    }
    assert_eq!(
        store
            .get_session(logged_out.id)
            .await
            .unwrap()
            .revoked_reason
            .as_deref(),
        Some("logout"),
        "an ended session is left as it was"
    );
    // Same login time: the new session is the one kept.
    let (a, b) = (session(u.id, at(9)), session(u.id, at(9)));
    store.create_session(&a, 1, &ev()).await.unwrap();
    assert_eq!(store.create_session(&b, 1, &ev()).await.unwrap(), 1);
    assert!(store.get_session(b.id).await.unwrap().is_active(at(9)));
    assert!(!store.get_session(a.id).await.unwrap().is_active(at(9)));
}

pub async fn roles_grant_and_revoke(store: DynStore) {
    let u = user(&store, "r@example.org", &[Role::Mentee]).await;
    let o = org_entity("role-org");
    store.create_org(&o, u.id, t0(), &ev()).await.unwrap();
    let g = |role, scope| RoleGrant {
        user_id: u.id,
        role,
        scope,
        granted_by: None,
        granted_at: t0(),
    };
    store
        .grant_role(&g(Role::Mentor, RoleScope::Global), &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(
            store
                .grant_role(&g(Role::Mentor, RoleScope::Global), &ev())
                .await
        ),
        ErrorKind::AlreadyExists
    );
    store
        .grant_role(&g(Role::Mentor, RoleScope::Org(o.id)), &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(
            store
                .grant_role(&g(Role::Mentor, RoleScope::Org(o.id)), &ev())
                .await
        ),
        ErrorKind::AlreadyExists
    );
    let ghost_org = RoleScope::Org(OrgId(Uuid::new_v4()));
    assert_eq!(
        kind(store.grant_role(&g(Role::Analyst, ghost_org), &ev()).await),
        ErrorKind::NotFound
    );
    let ghost = RoleGrant {
        user_id: UserId(Uuid::new_v4()),
        ..g(Role::Admin, RoleScope::Global)
    };
    assert_eq!(
        kind(store.grant_role(&ghost, &ev()).await),
        ErrorKind::NotFound
    );
    let roles = store.list_roles(u.id).await.unwrap();
    assert_eq!(roles.len(), 3);
    assert!(roles.iter().any(|r| r.scope == RoleScope::Org(o.id)));
    store
        .revoke_role(u.id, Role::Mentor, RoleScope::Global, &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(
            store
                .revoke_role(u.id, Role::Mentor, RoleScope::Global, &ev())
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(store.list_roles(u.id).await.unwrap().len(), 2);
    store.delete_org(o.id, &ev()).await.unwrap();
    assert_eq!(
        store.list_roles(u.id).await.unwrap().len(),
        1,
        "org-scoped grants go with the org"
    );
}

pub async fn orgs_create_get_update_delete(store: DynStore) {
    let creator = user(&store, "creator@example.org", &[Role::ProgramDirector]).await;
    let o = org_entity("acme-security");
    store.create_org(&o, creator.id, t0(), &ev()).await.unwrap();
    assert_eq!(store.get_org("acme-security").await.unwrap(), o);
    assert_eq!(store.get_org_by_id(o.id).await.unwrap(), o);
    assert_eq!(
        kind(store.get_org_by_id(OrgId(Uuid::new_v4())).await),
        ErrorKind::NotFound
    );
    let (seen, role) = store
        .get_org_as_member("acme-security", creator.id)
        .await
        .unwrap();
    assert_eq!((seen.id, role), (o.id, OrgRole::Admin));
    let dup = org_entity("acme-security");
    assert_eq!(
        kind(store.create_org(&dup, creator.id, t0(), &ev()).await),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        store.memberships_of(creator.id).await.unwrap().len(),
        1,
        "the failed create added no membership"
    );
    let patch = OrgPatch {
        name: Some("ACME".into()),
        website: Some("https://acme.example".into()),
        ..Default::default()
    };
    let up = store
        .update_org(o.id, &patch, t0() + Duration::hours(1), &ev())
        .await
        .unwrap();
    assert_eq!(up.name, "ACME");
    assert_eq!(store.get_org("acme-security").await.unwrap(), up);
    let bad = OrgPatch {
        website: Some("ftp://x".into()),
        ..Default::default()
    };
    assert_eq!(
        kind(store.update_org(o.id, &bad, t0(), &ev()).await),
        ErrorKind::Validation
    );
    let mut invalid = org_entity("valid-slug");
    invalid.slug = "Not A Slug".into();
    assert_eq!(
        kind(store.create_org(&invalid, creator.id, t0(), &ev()).await),
        ErrorKind::Validation
    );
    store.delete_org(o.id, &ev()).await.unwrap();
    assert_eq!(
        kind(store.get_org("acme-security").await),
        ErrorKind::NotFound
    );
    assert!(store.memberships_of(creator.id).await.unwrap().is_empty());
    assert_eq!(
        kind(store.delete_org(o.id, &ev()).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.update_org(o.id, &patch, t0(), &ev()).await),
        ErrorKind::NotFound
    );
}

pub async fn orgs_rollback_on_error(store: DynStore) {
    // The creator does not exist: the membership insert fails, so the org insert must roll back.
    let o = org_entity("ghost-creator");
    assert_eq!(
        kind(
            store
                .create_org(&o, UserId(Uuid::new_v4()), t0(), &ev())
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.get_org("ghost-creator").await),
        ErrorKind::NotFound
    );
    let listed = store
        .list_orgs(&OrgFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 0);
}

pub async fn orgs_members_and_last_admin(store: DynStore) {
    let a = user(&store, "a@example.org", &[]).await;
    let b = user(&store, "b@example.org", &[]).await;
    let c = user(&store, "c@example.org", &[]).await;
    let o = org_entity("team-one");
    store.create_org(&o, a.id, t0(), &ev()).await.unwrap();
    let m = |u: &User, role| Membership {
        org_id: o.id,
        user_id: u.id,
        role,
        joined_at: t0() + Duration::seconds(1),
    };
    store
        .add_member(&m(&b, OrgRole::Member), &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(store.add_member(&m(&b, OrgRole::Viewer), &ev()).await),
        ErrorKind::AlreadyExists
    );
    let ghost = Membership {
        user_id: UserId(Uuid::new_v4()),
        ..m(&b, OrgRole::Member)
    };
    assert_eq!(
        kind(store.add_member(&ghost, &ev()).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(
            store
                .update_member(o.id, a.id, OrgRole::Member, &ev())
                .await
        ),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(store.remove_member(o.id, a.id, &ev()).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        store.get_member(o.id, a.id).await.unwrap().role,
        OrgRole::Admin,
        "refused change left the admin"
    );
    let promoted = store
        .update_member(o.id, b.id, OrgRole::Admin, &ev())
        .await
        .unwrap();
    assert_eq!(promoted.role, OrgRole::Admin);
    store
        .update_member(o.id, a.id, OrgRole::Viewer, &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(
            store
                .update_member(o.id, c.id, OrgRole::Member, &ev())
                .await
        ),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.remove_member(o.id, c.id, &ev()).await),
        ErrorKind::NotFound
    );
    let members = store.list_members(o.id, Page::default()).await.unwrap();
    assert_eq!(members.total, 2);
    assert_eq!(
        store.shared_orgs(a.id, b.id).await.unwrap(),
        vec![(o.id, OrgRole::Viewer)]
    );
    assert!(store.shared_orgs(a.id, c.id).await.unwrap().is_empty());
    store.remove_member(o.id, a.id, &ev()).await.unwrap();
    assert_eq!(
        store
            .list_members(o.id, Page::default())
            .await
            .unwrap()
            .total,
        1
    );
}

pub async fn orgs_cross_tenant_sees_nothing(store: DynStore) {
    let a = user(&store, "tenant-a@example.org", &[]).await;
    let b = user(&store, "tenant-b@example.org", &[]).await;
    store
        .create_org(&org_entity("org-a"), a.id, t0(), &ev())
        .await
        .unwrap();
    store
        .create_org(&org_entity("org-b"), b.id, t0(), &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(store.get_org_as_member("org-a", b.id).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.get_org_as_member("no-such-org", b.id).await),
        ErrorKind::NotFound
    );
    let seen_by_b = store
        .list_orgs(
            &OrgFilter {
                member: Some(b.id),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        seen_by_b
            .items
            .iter()
            .map(|o| o.slug.as_str())
            .collect::<Vec<_>>(),
        ["org-b"]
    );
    let all = store
        .list_orgs(&OrgFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(all.total, 2);
    let search = store
        .list_orgs(
            &OrgFilter {
                search: Some("org-a".into()),
                member: Some(b.id),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(search.total, 0);
}

pub async fn content_crud_and_filters(store: DynStore) {
    let items = [
        content(
            "def-101",
            ContentType::Course,
            Track::Defender,
            "SOC Fundamentals",
        ),
        content(
            "def-lab-1",
            ContentType::Lab,
            Track::Defender,
            "Log triage lab",
        ),
        content(
            "off-101",
            ContentType::Course,
            Track::Offensive,
            "Intro to pentesting",
        ),
        content(
            "grc-101",
            ContentType::Article,
            Track::Grc,
            "100% compliance myths",
        ),
    ];
    for i in &items {
        store.insert_content(i, &ev()).await.unwrap();
    }
    assert_eq!(store.count_content().await.unwrap(), 4);
    let dup = content("def-101", ContentType::Lab, Track::Grc, "Other");
    assert_eq!(
        kind(store.insert_content(&dup, &ev()).await),
        ErrorKind::AlreadyExists
    );
    assert_eq!(store.get_content(items[0].id).await.unwrap(), items[0]);
    assert_eq!(store.get_content_by_key("off-101").await.unwrap(), items[2]);
    let keys: Vec<String> = ["grc-101", "nope", "def-101", "grc-101"]
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    let mut found = store.contents_by_keys(&keys).await.unwrap();
    found.sort_by(|a, b| a.content_id.cmp(&b.content_id));
    assert_eq!(
        found,
        vec![items[0].clone(), items[3].clone()],
        "unknown keys left out, no duplicates"
    );
    assert!(store.contents_by_keys(&[]).await.unwrap().is_empty());
    let ids = [items[3].id, ContentUuid(Uuid::new_v4()), items[1].id];
    let mut found = store.contents_by_ids(&ids).await.unwrap();
    found.sort_by_key(|i| ids.iter().position(|id| *id == i.id));
    assert_eq!(
        found,
        vec![items[3].clone(), items[1].clone()],
        "by internal id; unknown ids left out"
    );
    assert!(store.contents_by_ids(&[]).await.unwrap().is_empty());
    assert_eq!(
        kind(store.get_content_by_key("nope").await),
        ErrorKind::NotFound
    );
    let f = |ty, tr, s: Option<&str>| ContentFilter {
        content_type: ty,
        track: tr,
        search: s.map(Into::into),
        difficulty: None,
    };
    let courses = store
        .list_content(&f(Some(ContentType::Course), None, None), Page::default())
        .await
        .unwrap();
    assert_eq!(courses.total, 2);
    let def = store
        .list_content(&f(None, Some(Track::Defender), None), Page::default())
        .await
        .unwrap();
    assert_eq!(def.total, 2);
    let both = store
        .list_content(
            &f(Some(ContentType::Lab), Some(Track::Defender), None),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(both.items[0].content_id, "def-lab-1");
    let pct = store
        .list_content(&f(None, None, Some("100%")), Page::default())
        .await
        .unwrap();
    assert_eq!(pct.total, 1, "a literal % in search matches only itself");
    let soc = store
        .list_content(&f(None, None, Some("soc fund")), Page::default())
        .await
        .unwrap();
    assert_eq!(soc.total, 1);
    let page2 = store
        .list_content(
            &ContentFilter::default(),
            Page::new(Some(2), Some(3)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((page2.total, page2.items.len()), (4, 1));
    let patch = ContentPatch {
        title: Some("SOC Fundamentals II".into()),
        tags: Some(vec!["SIEM".into()]),
        ..Default::default()
    };
    let up = store
        .update_content(items[0].id, &patch, t0() + Duration::days(1), &ev())
        .await
        .unwrap();
    assert_eq!(
        (up.title.as_str(), up.tags.clone()),
        ("SOC Fundamentals II", vec!["siem".to_owned()])
    );
    assert_eq!(store.get_content(items[0].id).await.unwrap(), up);
    let bad = ContentPatch {
        estimated_minutes: Some(0),
        ..Default::default()
    };
    assert_eq!(
        kind(store.update_content(items[0].id, &bad, t0(), &ev()).await),
        ErrorKind::Validation
    );
    store.delete_content(items[0].id, &ev()).await.unwrap();
    assert_eq!(
        kind(store.get_content(items[0].id).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.delete_content(items[0].id, &ev()).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.update_content(items[0].id, &patch, t0(), &ev()).await),
        ErrorKind::NotFound
    );
}

pub async fn progress_crud_and_transitions(store: DynStore) {
    let u = user(&store, "learner@example.org", &[]).await;
    let p = progress_for(u.id, "lab-1", Some(20.0), t0());
    store.insert_progress(&p).await.unwrap();
    assert_eq!(store.get_progress(p.id, Some(u.id)).await.unwrap(), p);
    assert_eq!(store.get_progress(p.id, None).await.unwrap(), p);
    let dup = progress_for(u.id, "lab-1", None, t0());
    assert_eq!(
        kind(store.insert_progress(&dup).await),
        ErrorKind::AlreadyExists
    );
    let later = t0() + Duration::hours(3);
    let done = store
        .update_progress(
            p.id,
            Some(u.id),
            &ProgressPatch {
                completion_percentage: Some(100.0),
                score: Some(88.5),
                ..Default::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.completed_at, done.started_at),
        (ProgressStatus::Completed, Some(later), Some(t0()))
    );
    assert_eq!(store.get_progress(p.id, None).await.unwrap(), done);
    let back = ProgressPatch {
        status: Some(ProgressStatus::NotStarted),
        ..Default::default()
    };
    assert_eq!(
        kind(store.update_progress(p.id, Some(u.id), &back, later).await),
        ErrorKind::Conflict
    );
    let nan = ProgressPatch {
        score: Some(f64::NAN),
        ..Default::default()
    };
    assert_eq!(
        kind(store.update_progress(p.id, Some(u.id), &nan, later).await),
        ErrorKind::Validation
    );
    assert_eq!(
        store.get_progress(p.id, None).await.unwrap(),
        done,
        "refused patches change nothing"
    );
    let mut corrupt = progress_for(u.id, "lab-2", None, t0());
    corrupt.completion_percentage = 150.0;
    assert_eq!(
        kind(store.insert_progress(&corrupt).await),
        ErrorKind::Validation
    );
    let ghost = progress_for(UserId(Uuid::new_v4()), "lab-3", None, t0());
    assert_eq!(
        kind(store.insert_progress(&ghost).await),
        ErrorKind::NotFound
    );
    store
        .delete_progress(p.id, Some(u.id), &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(store.get_progress(p.id, None).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.delete_progress(p.id, None, &ev()).await),
        ErrorKind::NotFound
    );
}

pub async fn progress_cross_tenant_sees_nothing(store: DynStore) {
    let a = user(&store, "pa@example.org", &[]).await;
    let b = user(&store, "pb@example.org", &[]).await;
    let p = progress_for(a.id, "lab-x", Some(10.0), t0());
    store.insert_progress(&p).await.unwrap();
    assert_eq!(
        kind(store.get_progress(p.id, Some(b.id)).await),
        ErrorKind::NotFound
    );
    let patch = ProgressPatch {
        completion_percentage: Some(50.0),
        ..Default::default()
    };
    assert_eq!(
        kind(store.update_progress(p.id, Some(b.id), &patch, t0()).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.delete_progress(p.id, Some(b.id), &ev()).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        store
            .list_progress(&ProgressFilter::for_user(b.id), Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store.get_progress(p.id, Some(a.id)).await.unwrap(),
        p,
        "a's row is untouched"
    );
}

pub async fn progress_list_filters_and_ordering(store: DynStore) {
    let u = user(&store, "lister@example.org", &[]).await;
    for i in 0..30u32 {
        let mut p = progress_for(
            u.id,
            &format!("item-{i:02}"),
            Some(f64::from(i) * 3.0),
            t0() + Duration::minutes(i.into()),
        );
        if i % 3 == 0 {
            p.content_type = ContentType::Course;
        }
        store.insert_progress(&p).await.unwrap();
    }
    let f = ProgressFilter::for_user(u.id);
    let first = store
        .list_progress(&f, Page::new(Some(1), Some(7)).unwrap())
        .await
        .unwrap();
    assert_eq!((first.total, first.items.len()), (30, 7));
    assert_eq!(
        first.items[0].content_id, "item-29",
        "default order: most recently updated first"
    );
    let asc = store
        .list_progress(
            &ProgressFilter {
                ordering: ProgressOrdering::Completion,
                ..f.clone()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert!(asc
        .items
        .windows(2)
        .all(|w| w[0].completion_percentage <= w[1].completion_percentage));
    let courses = store
        .list_progress(
            &ProgressFilter {
                content_type: Some(ContentType::Course),
                ..f.clone()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(courses.total, 10);
    let ns = store
        .list_progress(
            &ProgressFilter {
                status: Some(ProgressStatus::NotStarted),
                ..f.clone()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(ns.total, 1);
    let s = store
        .list_progress(
            &ProgressFilter {
                search: Some("ITEM-1".into()),
                ..f.clone()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(s.total, 10);
}

pub async fn progress_concurrent_writers(store: DynStore) {
    let u = user(&store, "busy@example.org", &[]).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let p = progress_for(u.id, &format!("c-{i}"), Some(1.0), t0());
            store.insert_progress(&p).await.map(|()| p.id)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().expect("no concurrent insert may fail"));
    }
    assert_eq!(
        store
            .list_progress(&ProgressFilter::for_user(u.id), Page::default())
            .await
            .unwrap()
            .total,
        60
    );
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let store = Arc::clone(&store);
        let id = *id;
        tasks.push(tokio::spawn(async move {
            let pct = 2.0 + (i % 90) as f64;
            let patch = ProgressPatch {
                completion_percentage: Some(pct),
                ..Default::default()
            };
            store
                .update_progress(id, Some(u.id), &patch, t0() + Duration::seconds(1))
                .await
                .map(|p| (id, p.completion_percentage))
        }));
    }
    for t in tasks {
        let (id, pct) = t.await.unwrap().expect("no concurrent update may fail");
        assert_eq!(
            store
                .get_progress(id, None)
                .await
                .unwrap()
                .completion_percentage,
            pct
        );
    }
    // Many writers on one row: every update commits, the final state is one of them.
    let target = ids[0];
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let patch = ProgressPatch {
                metadata: Some(serde_json::json!({ "writer": i })),
                ..Default::default()
            };
            store.update_progress(target, None, &patch, t0()).await
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("same-row updates serialize, never fail");
    }
    let w = store.get_progress(target, None).await.unwrap().metadata["writer"]
        .as_i64()
        .unwrap();
    assert!((0..20).contains(&w));
}

pub async fn audit_append_filter_and_stats(store: DynStore) {
    let a = user(&store, "auditee@example.org", &[]).await;
    let ev = |actor: Option<UserId>, action, result, mins: i64| AuditEvent {
        id: AuditId(Uuid::new_v4()),
        actor_id: actor,
        action,
        resource_type: "user".into(),
        resource_id: actor.map(|u| u.to_string()),
        result,
        client_addr: Some("127.0.0.1".into()),
        details: serde_json::json!({"n": mins}),
        created_at: t0() + Duration::minutes(mins),
    };
    let events = [
        ev(Some(a.id), AuditAction::Signup, AuditResult::Success, 0),
        ev(
            Some(a.id),
            AuditAction::LoginFailure,
            AuditResult::Failure,
            1,
        ),
        ev(
            Some(a.id),
            AuditAction::LoginFailure,
            AuditResult::Failure,
            2,
        ),
        ev(
            Some(a.id),
            AuditAction::LoginSuccess,
            AuditResult::Success,
            3,
        ),
        ev(None, AuditAction::LoginFailure, AuditResult::Failure, 4),
    ];
    for e in &events {
        store.append_audit(e).await.unwrap();
    }
    assert_eq!(
        kind(store.append_audit(&events[0]).await),
        ErrorKind::AlreadyExists
    );
    let all = store
        .list_audit(&AuditFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(all.total, 6, "the five, and the row of the user's creation");
    assert_eq!(all.items[0], events[4], "newest first");
    let mine = store
        .list_audit(
            &AuditFilter {
                actor_id: Some(a.id),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(mine.total, 4);
    let window = AuditFilter {
        since: Some(t0() + Duration::minutes(1)),
        until: Some(t0() + Duration::minutes(3)),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_audit(&window, Page::default())
            .await
            .unwrap()
            .total,
        2
    );
    let failures = AuditFilter {
        result: Some(AuditResult::Failure),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_audit(&failures, Page::default())
            .await
            .unwrap()
            .total,
        3
    );
    let stats = store.audit_stats(&AuditFilter::default()).await.unwrap();
    let count = |a, r| {
        stats
            .iter()
            .find(|c| c.action == a && c.result == r)
            .map_or(0, |c| c.count)
    };
    assert_eq!(count(AuditAction::LoginFailure, AuditResult::Failure), 3);
    assert_eq!(count(AuditAction::Signup, AuditResult::Success), 1);
    let mine_stats = store
        .audit_stats(&AuditFilter {
            actor_id: Some(a.id),
            action: Some(AuditAction::LoginFailure),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        mine_stats,
        vec![AuditCount {
            action: AuditAction::LoginFailure,
            result: AuditResult::Failure,
            count: 2
        }]
    );
}

pub async fn user_delete_cascades(store: DynStore) {
    let a = user(&store, "leaver@example.org", &[Role::Mentee]).await;
    let b = user(&store, "stayer@example.org", &[]).await;
    let o = org_entity("cascade-org");
    store.create_org(&o, b.id, t0(), &ev()).await.unwrap();
    store
        .add_member(
            &Membership {
                org_id: o.id,
                user_id: a.id,
                role: OrgRole::Member,
                joined_at: t0(),
            },
            &ev(),
        )
        .await
        .unwrap();
    let s = session(a.id, t0());
    store.create_session(&s, LIVE, &ev()).await.unwrap();
    let p = progress_for(a.id, "lab-9", None, t0());
    store.insert_progress(&p).await.unwrap();
    store.delete_user(a.id, &ev()).await.unwrap();
    assert_eq!(kind(store.get_session(s.id).await), ErrorKind::NotFound);
    assert_eq!(
        kind(store.get_progress(p.id, None).await),
        ErrorKind::NotFound
    );
    assert!(store.list_roles(a.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .list_members(o.id, Page::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(store.get_user(b.id).await.unwrap(), b);
}

pub async fn user_delete_keeps_an_admin(store: DynStore) {
    // An organization's only admin cannot be deleted; the refusal changes nothing.
    let owner = user(&store, "owner@example.org", &[Role::SponsorAdmin]).await;
    let o = org_entity("sole-admin-org");
    store.create_org(&o, owner.id, t0(), &ev()).await.unwrap();
    let err = store.delete_user(owner.id, &ev()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("sole-admin-org"), "{err}");
    assert_eq!(store.get_user(owner.id).await.unwrap().id, owner.id);
    assert_eq!(
        store.get_member(o.id, owner.id).await.unwrap().role,
        OrgRole::Admin
    );
    // With a second admin the first may go.
    let deputy = user(&store, "deputy@example.org", &[]).await;
    store
        .add_member(
            &Membership {
                org_id: o.id,
                user_id: deputy.id,
                role: OrgRole::Admin,
                joined_at: t0(),
            },
            &ev(),
        )
        .await
        .unwrap();
    store.delete_user(owner.id, &ev()).await.unwrap();
    assert_eq!(kind(store.get_user(owner.id).await), ErrorKind::NotFound);

    // The last active platform administrator cannot be deleted either.
    let root = user(&store, "root@example.org", &[Role::Admin]).await;
    assert_eq!(
        kind(store.delete_user(root.id, &ev()).await),
        ErrorKind::Conflict
    );
    // An inactive second admin does not count.
    let idle = user(&store, "idle@example.org", &[Role::Admin]).await;
    let suspend = UserPatch {
        status: Some(AccountStatus::Suspended),
        ..Default::default()
    };
    store
        .update_user(idle.id, &suspend, t0(), &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(store.delete_user(root.id, &ev()).await),
        ErrorKind::Conflict
    );
    // ...nor suspended, nor lose the admin role: the refusals change nothing.
    assert_eq!(
        kind(store.update_user(root.id, &suspend, t0(), &ev()).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(
            store
                .revoke_role(root.id, Role::Admin, RoleScope::Global, &ev())
                .await
        ),
        ErrorKind::Conflict
    );
    assert_eq!(
        store.get_user(root.id).await.unwrap().status,
        AccountStatus::Active
    );
    assert_eq!(store.list_roles(root.id).await.unwrap().len(), 1);
    let second = user(&store, "second@example.org", &[Role::Admin]).await;
    store.delete_user(root.id, &ev()).await.unwrap();
    assert_eq!(
        kind(store.delete_user(second.id, &ev()).await),
        ErrorKind::Conflict
    );
    // With a second active admin, one may be demoted or suspended.
    let third = user(&store, "third@example.org", &[Role::Admin]).await;
    store
        .revoke_role(third.id, Role::Admin, RoleScope::Global, &ev())
        .await
        .unwrap();
    let fourth = user(&store, "fourth@example.org", &[Role::Admin]).await;
    store
        .update_user(fourth.id, &suspend, t0(), &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(
            store
                .revoke_role(second.id, Role::Admin, RoleScope::Global, &ev())
                .await
        ),
        ErrorKind::Conflict
    );
}

pub async fn migrations_are_idempotent(store: DynStore) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert!(matches!(store.backend(), "sqlite" | "postgres"));
}

pub async fn outbox_records_every_content_write(store: DynStore) {
    assert_eq!(store.index_backlog().await.unwrap(), 0);
    let a = content("ob-a", ContentType::Course, Track::Defender, "A");
    let b = content("ob-b", ContentType::Lab, Track::Offensive, "B");
    store.insert_content(&a, &ev()).await.unwrap();
    store.insert_content(&b, &ev()).await.unwrap();
    let patch = ContentPatch {
        title: Some("A2".into()),
        ..Default::default()
    };
    store
        .update_content(a.id, &patch, t0(), &ev())
        .await
        .unwrap();
    store.delete_content(b.id, &ev()).await.unwrap();
    // A failed write appends nothing.
    assert_eq!(
        kind(
            store
                .insert_content(&content("ob-a", ContentType::Lab, Track::Grc, "dup"), &ev())
                .await
        ),
        ErrorKind::AlreadyExists
    );
    assert_eq!(store.index_backlog().await.unwrap(), 4);
    let events = store
        .claim_index_events("w1", 10, t0(), Duration::seconds(30))
        .await
        .unwrap();
    let ids: Vec<ContentUuid> = events.iter().map(|e| e.content).collect();
    assert_eq!(ids, vec![a.id, b.id, a.id, b.id], "in write order");
    assert!(events.iter().all(|e| e.attempts == 1));
    // Someone else's complete removes nothing; the holder's does.
    let all: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert_eq!(store.complete_index_events("w2", &all).await.unwrap(), 0);
    assert_eq!(store.complete_index_events("w1", &all).await.unwrap(), 4);
    assert_eq!(store.index_backlog().await.unwrap(), 0);
    // A full re-index appends one event per item, with its audit row; when the audit row
    // cannot be written (its id is taken) nothing is appended.
    let audit = ev();
    let rows = audit_rows(&store).await;
    assert_eq!(store.enqueue_full_reindex(t0(), &audit).await.unwrap(), 1);
    assert_eq!(store.index_backlog().await.unwrap(), 1);
    assert_eq!(audit_rows(&store).await, rows + 1);
    assert!(store.enqueue_full_reindex(t0(), &audit).await.is_err());
    assert_eq!(store.index_backlog().await.unwrap(), 1);
    assert_eq!(audit_rows(&store).await, rows + 1);
}

pub async fn outbox_leases_are_exclusive(store: DynStore) {
    let a = content("ol-a", ContentType::Course, Track::Defender, "A");
    let b = content("ol-b", ContentType::Course, Track::Grc, "B");
    store.insert_content(&a, &ev()).await.unwrap();
    let lease = Duration::seconds(30);
    let first = store
        .claim_index_events("w1", 10, t0(), lease)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // A newer event for the item w1 is indexing is not handed to w2 while the lease runs.
    store
        .update_content(
            a.id,
            &ContentPatch {
                title: Some("A2".into()),
                ..Default::default()
            },
            t0(),
            &ev(),
        )
        .await
        .unwrap();
    store.insert_content(&b, &ev()).await.unwrap();
    let second = store
        .claim_index_events("w2", 10, t0() + Duration::seconds(1), lease)
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(|e| e.content).collect::<Vec<_>>(),
        vec![b.id]
    );
    // w1 dies without completing: after the lease expires its events are claimable again.
    let later = t0() + Duration::milliseconds(30_500); // w1's lease is over, w2's is not
    let third = store
        .claim_index_events("w3", 10, later, lease)
        .await
        .unwrap();
    assert_eq!(
        third.len(),
        2,
        "the expired event and the newer one for the same item"
    );
    assert!(third.iter().all(|e| e.content == a.id));
    assert_eq!(
        third.iter().find(|e| e.id == first[0].id).unwrap().attempts,
        2
    );
    // The dead worker's late complete changes nothing.
    assert_eq!(
        store
            .complete_index_events("w1", &[first[0].id])
            .await
            .unwrap(),
        0
    );
    // A released event waits for its retry time, keeps nothing leased meanwhile.
    assert_eq!(
        store
            .complete_index_events("w2", &[second[0].id])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .complete_index_events("w3", &[third[1].id])
            .await
            .unwrap(),
        1
    );
    store
        .release_index_event(
            "w3",
            third[0].id,
            "vector store down",
            later + Duration::seconds(60),
        )
        .await
        .unwrap();
    assert!(store
        .claim_index_events("w4", 10, later + Duration::seconds(59), lease)
        .await
        .unwrap()
        .is_empty());
    let retried = store
        .claim_index_events("w4", 10, later + Duration::seconds(61), lease)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, third[0].id);
}

pub async fn outbox_concurrent_claimers_never_share(store: DynStore) {
    let n = 60;
    for i in 0..n {
        store
            .insert_content(
                &content(&format!("oc-{i}"), ContentType::Lab, Track::Defender, "x"),
                &ev(),
            )
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let mut got = Vec::new();
            loop {
                let batch = store
                    .claim_index_events(&worker, 3, t0(), Duration::minutes(5))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                let ids: Vec<i64> = batch.iter().map(|e| e.id).collect();
                assert_eq!(
                    store.complete_index_events(&worker, &ids).await.unwrap(),
                    ids.len() as u64
                );
                got.extend(ids);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: std::collections::HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), n, "every event processed exactly once");
    assert_eq!(unique.len(), n);
    assert_eq!(store.index_backlog().await.unwrap(), 0);
}

pub async fn personality_round_trip(store: DynStore) {
    let u = user(&store, "persona@example.com", &[]).await;
    assert_eq!(store.latest_personality(u.id).await.unwrap(), None);
    let old = serde_json::json!({"summary": "old", "n": 1});
    let new =
        serde_json::json!({"summary": "new", "traits": [{"name": "persistence", "score": 0.5}]});
    store
        .save_personality(u.id, t0(), &old, &ev())
        .await
        .unwrap();
    store
        .save_personality(u.id, t0() + Duration::hours(1), &new, &ev())
        .await
        .unwrap();
    assert_eq!(store.latest_personality(u.id).await.unwrap(), Some(new));
    store.delete_user(u.id, &ev()).await.unwrap();
    assert_eq!(store.latest_personality(u.id).await.unwrap(), None);
}

/// How many audit rows the store holds.
async fn audit_rows(store: &DynStore) -> u64 {
    store
        .list_audit(
            &AuditFilter::default(),
            Page::new(Some(1), Some(1)).unwrap(),
        )
        .await
        .unwrap()
        .total
}

/// A write whose audit row cannot be written (its id is taken) is undone, on every kind of
/// audited write: the change and its audit row commit together or not at all.
pub async fn audit_failing_insert_undoes_the_write(store: DynStore) {
    let taken = ev();
    store.append_audit(&taken).await.unwrap();
    let before = audit_rows(&store).await;
    let dup = || AuditEvent {
        created_at: t0() + Duration::minutes(5),
        ..taken.clone()
    };

    // create_user
    let new = NewUser {
        email: "rollback@example.org".into(),
        first_name: "R".into(),
        last_name: "B".into(),
        ..Default::default()
    }
    .validated()
    .unwrap();
    let ghost = User::new(UserId(Uuid::new_v4()), new, t0());
    assert_eq!(
        kind(store.create_user(&ghost, "$h", &[], &dup()).await),
        ErrorKind::AlreadyExists
    );
    assert_eq!(kind(store.get_user(ghost.id).await), ErrorKind::NotFound);

    let u = user(&store, "audited@example.org", &[Role::Mentee]).await;
    let admin = user(&store, "audit-root@example.org", &[Role::Admin]).await;
    // update_user, set_password_hash
    let patch = UserPatch {
        first_name: Some("Changed".into()),
        ..Default::default()
    };
    assert!(store.update_user(u.id, &patch, t0(), &dup()).await.is_err());
    assert_eq!(store.get_user(u.id).await.unwrap().first_name, "Test");
    let hash_before = store
        .get_credentials_by_email(&u.email)
        .await
        .unwrap()
        .password_hash;
    assert!(store
        .set_password_hash(u.id, "$argon2id$other", t0(), EndSessions::All, &dup())
        .await
        .is_err());
    assert_eq!(
        store
            .get_credentials_by_email(&u.email)
            .await
            .unwrap()
            .password_hash,
        hash_before
    );
    // grant_role, revoke_role
    let grant = RoleGrant {
        user_id: u.id,
        role: Role::Mentor,
        scope: RoleScope::Global,
        granted_by: Some(admin.id),
        granted_at: t0(),
    };
    assert!(store.grant_role(&grant, &dup()).await.is_err());
    assert_eq!(store.list_roles(u.id).await.unwrap().len(), 1);
    assert!(store
        .revoke_role(u.id, Role::Mentee, RoleScope::Global, &dup())
        .await
        .is_err());
    assert_eq!(store.list_roles(u.id).await.unwrap().len(), 1);
    // create_org, update_org, add/update/remove member, delete_org
    let o = org_entity("audited-org");
    assert!(store.create_org(&o, admin.id, t0(), &dup()).await.is_err());
    assert_eq!(
        kind(store.get_org("audited-org").await),
        ErrorKind::NotFound
    );
    store.create_org(&o, admin.id, t0(), &ev()).await.unwrap();
    let op = OrgPatch {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    assert!(store.update_org(o.id, &op, t0(), &dup()).await.is_err());
    assert_eq!(store.get_org_by_id(o.id).await.unwrap().name, o.name);
    let m = Membership {
        org_id: o.id,
        user_id: u.id,
        role: OrgRole::Member,
        joined_at: t0(),
    };
    assert!(store.add_member(&m, &dup()).await.is_err());
    assert_eq!(
        kind(store.get_member(o.id, u.id).await),
        ErrorKind::NotFound
    );
    store.add_member(&m, &ev()).await.unwrap();
    assert!(store
        .update_member(o.id, u.id, OrgRole::Admin, &dup())
        .await
        .is_err());
    assert_eq!(
        store.get_member(o.id, u.id).await.unwrap().role,
        OrgRole::Member
    );
    assert!(store.remove_member(o.id, u.id, &dup()).await.is_err());
    assert!(store.get_member(o.id, u.id).await.is_ok());
    // invitations
    let invitee = user(&store, "audit-invitee@example.org", &[]).await;
    let inv = Invitation::new(
        InvitationId(Uuid::new_v4()),
        (o.id, &o.slug, &o.name),
        invitee.id,
        OrgRole::Member,
        admin.id,
        t0(),
    );
    assert!(store.create_invitation(&inv, &dup()).await.is_err());
    assert_eq!(
        kind(store.get_invitation(inv.id).await),
        ErrorKind::NotFound
    );
    store.create_invitation(&inv, &ev()).await.unwrap();
    assert!(store
        .accept_invitation(inv.id, invitee.id, t0(), &dup())
        .await
        .is_err());
    assert_eq!(
        kind(store.get_member(o.id, invitee.id).await),
        ErrorKind::NotFound
    );
    assert!(store
        .close_invitation(inv.id, InvitationStatus::Declined, t0(), &dup())
        .await
        .is_err());
    assert_eq!(
        store.get_invitation(inv.id).await.unwrap().status,
        InvitationStatus::Pending
    );
    assert!(store.delete_org(o.id, &dup()).await.is_err());
    assert!(store.get_org_by_id(o.id).await.is_ok());
    // content: no item and no outbox event without the audit row
    let backlog = store.index_backlog().await.unwrap();
    let item = content("audited-item", ContentType::Lab, Track::Grc, "Audited");
    assert!(store.insert_content(&item, &dup()).await.is_err());
    assert_eq!(kind(store.get_content(item.id).await), ErrorKind::NotFound);
    assert_eq!(store.index_backlog().await.unwrap(), backlog);
    store.insert_content(&item, &ev()).await.unwrap();
    let backlog = store.index_backlog().await.unwrap();
    let cp = ContentPatch {
        title: Some("Other".into()),
        ..Default::default()
    };
    assert!(store
        .update_content(item.id, &cp, t0(), &dup())
        .await
        .is_err());
    assert_eq!(store.get_content(item.id).await.unwrap().title, "Audited");
    assert!(store.delete_content(item.id, &dup()).await.is_err());
    assert!(store.get_content(item.id).await.is_ok());
    assert_eq!(store.index_backlog().await.unwrap(), backlog);
    // progress, personality
    let p = progress_for(u.id, "audited-item", Some(10.0), t0());
    store.insert_progress(&p).await.unwrap();
    assert!(store
        .delete_progress(p.id, Some(u.id), &dup())
        .await
        .is_err());
    assert!(store.get_progress(p.id, Some(u.id)).await.is_ok());
    assert!(store
        .save_personality(u.id, t0(), &serde_json::json!({"x": 1}), &dup())
        .await
        .is_err());
    assert_eq!(store.latest_personality(u.id).await.unwrap(), None);
    // sessions: a login, a rotation, a logout, the end of every session, a password
    // change that ends sessions
    let ghost_session = session(u.id, t0());
    assert!(store
        .create_session(&ghost_session, LIVE, &dup())
        .await
        .is_err());
    assert_eq!(
        kind(store.get_session(ghost_session.id).await),
        ErrorKind::NotFound
    );
    let live = session(u.id, t0());
    store.create_session(&live, LIVE, &ev()).await.unwrap();
    assert!(store
        .rotate_refresh(live.id, live.refresh_jti, Uuid::new_v4(), t0(), &dup())
        .await
        .is_err());
    assert_eq!(
        store.get_session(live.id).await.unwrap().refresh_jti,
        live.refresh_jti,
        "the rotation is undone"
    );
    assert!(store
        .revoke_session(live.id, "logout", t0(), &dup())
        .await
        .is_err());
    assert!(store
        .revoke_user_sessions(u.id, None, "logout_all", t0(), &dup())
        .await
        .is_err());
    assert!(store
        .set_password_hash(u.id, "$argon2id$x", t0(), EndSessions::All, &dup())
        .await
        .is_err());
    assert!(
        store.get_session(live.id).await.unwrap().is_active(t0()),
        "no revocation without its audit row"
    );
    // delete_user
    assert!(store.delete_user(u.id, &dup()).await.is_err());
    assert!(store.get_user(u.id).await.is_ok());

    // Exactly the successful writes above left audit rows (three users, the organization,
    // the membership, the invitation, the item, the session), none of the failed ones.
    assert_eq!(audit_rows(&store).await, before + 8);
}

/// A write that fails records no audit row (its event is not found afterwards).
pub async fn audit_failing_write_records_nothing(store: DynStore) {
    let a = user(&store, "first@example.org", &[Role::Admin]).await;
    let b = user(&store, "second@example.org", &[]).await;
    let before = audit_rows(&store).await;
    let o = org_entity("failing-writes");
    store.create_org(&o, a.id, t0(), &ev()).await.unwrap();
    let failing: Vec<(&str, Result<(), StoreError>)> = vec![
        (
            "duplicate e-mail",
            store.create_user(&b, "$h", &[], &ev()).await,
        ),
        (
            "unknown user update",
            store
                .update_user(UserId(Uuid::new_v4()), &UserPatch::default(), t0(), &ev())
                .await
                .map(drop),
        ),
        (
            "last platform admin deleted",
            store.delete_user(a.id, &ev()).await,
        ),
        (
            "duplicate slug",
            store.create_org(&o, a.id, t0(), &ev()).await,
        ),
        (
            "last org admin removed",
            store.remove_member(o.id, a.id, &ev()).await,
        ),
        (
            "last org admin demoted",
            store
                .update_member(o.id, a.id, OrgRole::Viewer, &ev())
                .await
                .map(drop),
        ),
        (
            "unknown content deleted",
            store
                .delete_content(ContentUuid(Uuid::new_v4()), &ev())
                .await,
        ),
        (
            "invitation of a member",
            store
                .create_invitation(
                    &Invitation::new(
                        InvitationId(Uuid::new_v4()),
                        (o.id, &o.slug, &o.name),
                        a.id,
                        OrgRole::Member,
                        a.id,
                        t0(),
                    ),
                    &ev(),
                )
                .await,
        ),
        (
            "unknown invitation accepted",
            store
                .accept_invitation(InvitationId(Uuid::new_v4()), b.id, t0(), &ev())
                .await
                .map(drop),
        ),
        (
            "session of an unknown user",
            store
                .create_session(&session(UserId(Uuid::new_v4()), t0()), LIVE, &ev())
                .await
                .map(drop),
        ),
        (
            "unknown session rotated",
            store
                .rotate_refresh(
                    SessionId(Uuid::new_v4()),
                    Uuid::new_v4(),
                    Uuid::new_v4(),
                    t0(),
                    &ev(),
                )
                .await
                .map(drop),
        ),
        (
            "unknown session revoked",
            store
                .revoke_session(SessionId(Uuid::new_v4()), "logout", t0(), &ev())
                .await,
        ),
        (
            "password of an unknown user",
            store
                .set_password_hash(
                    UserId(Uuid::new_v4()),
                    "$argon2id$x",
                    t0(),
                    EndSessions::All,
                    &ev(),
                )
                .await
                .map(drop),
        ),
    ];
    for (what, r) in failing {
        assert!(r.is_err(), "{what} should fail");
    }
    assert_eq!(
        audit_rows(&store).await,
        before + 1,
        "only the organization's creation is recorded"
    );
    // A rotation that is refused (a stale jti) changes nothing and records nothing.
    let s = session(b.id, t0());
    store.create_session(&s, LIVE, &ev()).await.unwrap();
    let refused = store
        .rotate_refresh(s.id, Uuid::new_v4(), Uuid::new_v4(), t0(), &ev())
        .await
        .unwrap();
    assert!(matches!(refused, RotateOutcome::Rejected(_)));
    assert_eq!(
        audit_rows(&store).await,
        before + 2,
        "the session's login only, not the refused rotation"
    );
}

/// Invitations: only the invited user accepts (the membership appears in the same step) or
/// declines; admins revoke; a closed or lapsed invitation cannot be answered; one open
/// invitation per user and organization.
pub async fn invitations_lifecycle(store: DynStore) {
    let admin = user(&store, "inv-admin@example.org", &[]).await;
    let b = user(&store, "inv-b@example.org", &[]).await;
    let c = user(&store, "inv-c@example.org", &[]).await;
    let o = org_entity("inviting");
    store.create_org(&o, admin.id, t0(), &ev()).await.unwrap();
    let invite = |u: UserId, at: DateTime<Utc>| {
        Invitation::new(
            InvitationId(Uuid::new_v4()),
            (o.id, &o.slug, &o.name),
            u,
            OrgRole::Viewer,
            admin.id,
            at,
        )
    };
    let now = t0() + Duration::hours(1);
    let ib = invite(b.id, t0());
    store.create_invitation(&ib, &ev()).await.unwrap();
    assert_eq!(store.get_invitation(ib.id).await.unwrap(), ib);
    assert_eq!(
        kind(store.create_invitation(&invite(b.id, t0()), &ev()).await),
        ErrorKind::AlreadyExists,
        "one open invitation per user and organization"
    );
    let mine = InvitationFilter {
        user: Some(b.id),
        open_at: Some(now),
        ..Default::default()
    };
    let listed = store
        .list_invitations(&mine, Page::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].organization, "inviting");
    assert_eq!(listed.items[0].organization_name, o.name);
    // Not a member until accepted; nobody but b can accept.
    assert!(store.shared_orgs(admin.id, b.id).await.unwrap().is_empty());
    assert_eq!(
        kind(store.accept_invitation(ib.id, c.id, now, &ev()).await),
        ErrorKind::NotFound
    );
    let m = store
        .accept_invitation(ib.id, b.id, now, &ev())
        .await
        .unwrap();
    assert_eq!((m.org_id, m.user_id, m.role), (o.id, b.id, OrgRole::Viewer));
    assert_eq!(store.get_member(o.id, b.id).await.unwrap(), m);
    let accepted = store.get_invitation(ib.id).await.unwrap();
    assert_eq!(accepted.status, InvitationStatus::Accepted);
    assert_eq!(accepted.decided_at, Some(now));
    assert_eq!(
        kind(store.accept_invitation(ib.id, b.id, now, &ev()).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(store.create_invitation(&invite(b.id, now), &ev()).await),
        ErrorKind::AlreadyExists,
        "a member is not invited"
    );
    assert_eq!(
        store
            .list_invitations(&mine, Page::default())
            .await
            .unwrap()
            .total,
        0
    );

    // Declined, then invited again; revoked cannot be accepted.
    let ic = invite(c.id, t0());
    store.create_invitation(&ic, &ev()).await.unwrap();
    let declined = store
        .close_invitation(ic.id, InvitationStatus::Declined, now, &ev())
        .await
        .unwrap();
    assert_eq!(declined.status, InvitationStatus::Declined);
    assert_eq!(
        kind(store.accept_invitation(ic.id, c.id, now, &ev()).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(store.get_member(o.id, c.id).await),
        ErrorKind::NotFound
    );
    let ic2 = invite(c.id, now);
    store.create_invitation(&ic2, &ev()).await.unwrap();
    store
        .close_invitation(ic2.id, InvitationStatus::Revoked, now, &ev())
        .await
        .unwrap();
    assert_eq!(
        kind(
            store
                .close_invitation(ic2.id, InvitationStatus::Declined, now, &ev())
                .await
        ),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(
            store
                .close_invitation(ic2.id, InvitationStatus::Accepted, now, &ev())
                .await
        ),
        ErrorKind::Validation
    );

    // Lapsed: cannot be accepted, reads expired, makes way for a new one.
    let ic3 = invite(c.id, now);
    store.create_invitation(&ic3, &ev()).await.unwrap();
    let late = ic3.expires_at + Duration::seconds(1);
    assert_eq!(
        kind(store.accept_invitation(ic3.id, c.id, late, &ev()).await),
        ErrorKind::Conflict
    );
    assert_eq!(
        store.get_invitation(ic3.id).await.unwrap().at(late).status,
        InvitationStatus::Expired
    );
    let ic4 = invite(c.id, late);
    store.create_invitation(&ic4, &ev()).await.unwrap();
    let org_open = InvitationFilter {
        org: Some(o.id),
        open_at: Some(late),
        ..Default::default()
    };
    let open = store
        .list_invitations(&org_open, Page::default())
        .await
        .unwrap();
    assert_eq!(
        open.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ic4.id]
    );
    let all = InvitationFilter {
        org: Some(o.id),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_invitations(&all, Page::default())
            .await
            .unwrap()
            .total,
        5
    );
    // Deleting the organization takes its invitations.
    store.delete_org(o.id, &ev()).await.unwrap();
    assert_eq!(
        kind(store.get_invitation(ic4.id).await),
        ErrorKind::NotFound
    );
}

/// Ended sessions, superseded analyses and (when configured) old audit rows are purged;
/// what is still in use is kept.
pub async fn retention_purges_what_is_not_kept(store: DynStore) {
    let u = user(&store, "retained@example.org", &[]).await;
    let live = session(u.id, t0());
    let mut expired = session(u.id, t0() - Duration::days(40));
    expired.expires_at = t0() - Duration::days(10);
    let revoked = session(u.id, t0());
    store.create_session(&live, LIVE, &ev()).await.unwrap();
    store.create_session(&expired, LIVE, &ev()).await.unwrap();
    store.create_session(&revoked, LIVE, &ev()).await.unwrap();
    store
        .revoke_session(revoked.id, "logout", t0() - Duration::days(2), &ev())
        .await
        .unwrap();
    for h in 0..5 {
        store
            .save_personality(
                u.id,
                t0() + Duration::hours(h),
                &serde_json::json!({"n": h}),
                &ev(),
            )
            .await
            .unwrap();
    }
    let old = AuditEvent {
        created_at: t0() - Duration::days(400),
        ..ev()
    };
    store.append_audit(&old).await.unwrap();
    let rows_before = audit_rows(&store).await;

    let keep_log = Retention {
        sessions_ended_before: t0() - Duration::days(1),
        analyses_per_user: 3,
        audit_before: None,
    };
    let purged = store.purge(&keep_log).await.unwrap();
    assert_eq!(
        purged,
        Purged {
            sessions: 2,
            analyses: 2,
            audit_rows: 0
        }
    );
    assert!(store.get_session(live.id).await.is_ok());
    assert_eq!(
        kind(store.get_session(expired.id).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(store.get_session(revoked.id).await),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.latest_personality(u.id).await.unwrap(),
        Some(serde_json::json!({"n": 4})),
        "the newest analysis is kept"
    );
    assert_eq!(
        audit_rows(&store).await,
        rows_before,
        "the audit log is kept by default"
    );
    let purged = store
        .purge(&Retention {
            audit_before: Some(t0() - Duration::days(365)),
            ..keep_log
        })
        .await
        .unwrap();
    assert_eq!(purged.audit_rows, 1);
    assert_eq!(purged.analyses, 0, "idempotent");
    assert_eq!(audit_rows(&store).await, rows_before - 1);
}

/// Popularity counts learners per item across every learner's rows.
pub async fn progress_popularity_counts_learners(store: DynStore) {
    assert!(store.content_popularity(10).await.unwrap().is_empty());
    let users = [
        user(&store, "pop1@example.org", &[]).await,
        user(&store, "pop2@example.org", &[]).await,
        user(&store, "pop3@example.org", &[]).await,
    ];
    let rows = [
        (0, "pop-a", Some(100.0)),
        (1, "pop-a", Some(50.0)),
        (2, "pop-a", None),
        (0, "pop-b", Some(10.0)),
        (1, "pop-c", None),
    ];
    for (u, item, pct) in rows {
        store
            .insert_progress(&progress_for(users[u].id, item, pct, t0()))
            .await
            .unwrap();
    }
    let pop = |id: &str, started: u64, completed: u64| ContentPopularity {
        content_id: id.into(),
        started,
        completed,
    };
    assert_eq!(
        store.content_popularity(10).await.unwrap(),
        vec![pop("pop-a", 2, 1), pop("pop-b", 1, 0), pop("pop-c", 0, 0)]
    );
    assert_eq!(store.content_popularity(1).await.unwrap().len(), 1);
}

/// Instances keep a heartbeat; silent ones drop out of the live list; leaving removes one.
pub async fn instances_heartbeat_and_leave(store: DynStore) {
    let at = |s: i64| t0() + Duration::seconds(s);
    let inst = |id: &str, service: &str, shared: bool, seen: i64| Instance {
        id: id.into(),
        service: service.into(),
        shared_state: shared,
        started_at: at(0),
        seen_at: at(seen),
    };
    assert!(store.live_instances(at(0)).await.unwrap().is_empty());
    store.heartbeat(&inst("a", "core", false, 0)).await.unwrap();
    store.heartbeat(&inst("b", "all", true, 0)).await.unwrap();
    // A later heartbeat of `a` updates it in place.
    store.heartbeat(&inst("a", "core", true, 10)).await.unwrap();
    let live = store.live_instances(at(5)).await.unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0], inst("a", "core", true, 10));
    assert_eq!(store.live_instances(at(0)).await.unwrap().len(), 2);
    // Leaving removes the instance and those silent since before `before`.
    store.leave("a", at(-1)).await.unwrap();
    assert_eq!(
        store.live_instances(at(0)).await.unwrap(),
        vec![inst("b", "all", true, 0)]
    );
    store.leave("nobody", at(1)).await.unwrap();
    assert!(store.live_instances(at(-100)).await.unwrap().is_empty());
}

#[cfg(test)]
mod tests {
    /// Every public case of this module is in [`store_conformance_tests!`]'s list, so a
    /// new case cannot be left out of the suite by mistake.
    #[test]
    fn every_case_is_registered() {
        let src = include_str!("conformance.rs");
        let start = src.find("users_crud, users_unique_email").unwrap();
        let list = &src[start..start + src[start..].find(");").unwrap()];
        let registered: Vec<&str> = list
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        let marker = concat!("pub async fn ", "");
        let cases: Vec<&str> = src
            .match_indices(marker)
            .filter_map(|(i, _)| {
                let rest = &src[i + marker.len()..];
                let name = &rest[..rest.find('(')?];
                rest[name.len()..]
                    .starts_with("(store: DynStore)")
                    .then_some(name)
            })
            .collect();
        assert!(cases.len() > 20, "found {} cases", cases.len());
        for case in cases {
            assert!(
                registered.contains(&case),
                "{case} is not in store_conformance_tests!"
            );
        }
    }

    #[test]
    fn replaces_database_names() {
        use super::replace_db_name as r;
        assert_eq!(
            r("postgres://u:p@h:5432/cyberhub", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            r("postgres://u:p@h:5432/cyberhub?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(r("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
