//! The SDK against the real server (in process, on a free port), over the native reqwest
//! transport: accounts, refresh-once, organizations, content, progress, audit, and (with
//! `CYBERHUB_MODEL_DIR`) the AI routes. The browser (fetch) transport is tested when the
//! wasm bindings land.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_wasm::domain::api::{MemberAddResult, MemberRequest, RoleGrantRequest, SignupRequest};
use cyberhub_wasm::domain::api_ai::{PersonalityRequest, SearchRequest};
use cyberhub_wasm::domain::{
    ContentPatch, ContentType, InvitationStatus, NewContent, NewOrganization, NewProgress, OrgRole,
    OrgType, ProgressPatch, ProgressStatus, Role, Track,
};
use cyberhub_wasm::{Client, ReqwestTransport, TokenStore, Tokens};
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = (
    cyberhub_server::testing::ADMIN_EMAIL,
    cyberhub_server::testing::ADMIN_PASSWORD,
);

/// The shared test server: core routes only, or everything with the model in `ai_model`.
struct Server(cyberhub_server::testing::TestServer);

impl Server {
    async fn start(ai_model: Option<String>) -> Self {
        Self(
            cyberhub_server::testing::TestServer::start(|cfg| {
                cfg.service = cyberhub_server::Service::Core;
                if let Some(m) = ai_model {
                    cfg.service = cyberhub_server::Service::All;
                    cfg.model_dir = m.into();
                }
            })
            .await,
        )
    }

    fn client(&self) -> Client<ReqwestTransport> {
        Client::new(self.0.base_url(), ReqwestTransport::default())
    }

    async fn stop(self) {
        self.0.stop().await;
    }
}

fn signup(email: &str) -> SignupRequest {
    SignupRequest {
        email: email.into(),
        password: "blue-team-2026".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        country: None,
        timezone: None,
        language: None,
        roles: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_content_and_progress() {
    let server = Server::start(None).await;
    let api = server.client();
    assert!(!api.is_signed_in());
    let me = api.signup(&signup("ada@sdk.test")).await.unwrap();
    assert!(api.is_signed_in());
    assert_eq!(api.me().await.unwrap().user.id, me.user.id);

    let offensive = api
        .list_content(&[("track", "offensive"), ("page_size", "5")])
        .await
        .unwrap();
    assert_eq!(offensive.results.len(), 5);
    assert!(offensive
        .results
        .iter()
        .all(|c| c.track == Some(Track::Offensive)));
    let item = &offensive.results[0];
    let new = NewProgress {
        content_id: item.content_id.clone(),
        content_type: item.content_type,
        status: Some(ProgressStatus::InProgress),
        completion_percentage: Some(30.0),
        score: None,
        metadata: None,
    };
    let p = api.create_progress(&new).await.unwrap();
    let dup = api.create_progress(&new).await.unwrap_err();
    assert_eq!(dup.status, 409, "{dup}");
    assert!(dup.detail.contains("already exists"), "{dup}");
    let done = api
        .update_progress(
            p.id,
            &ProgressPatch {
                status: Some(ProgressStatus::Completed),
                completion_percentage: Some(100.0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(done.status, ProgressStatus::Completed);
    assert!(done.completed_at.is_some());
    let bad = api
        .update_progress(
            p.id,
            &ProgressPatch {
                completion_percentage: Some(150.0),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.status, 400);
    assert!(
        bad.errors
            .iter()
            .any(|f| f.field == "completion_percentage"),
        "{bad:?}"
    );
    assert_eq!(api.list_progress(&[]).await.unwrap().count, 1);
    api.delete_progress(p.id).await.unwrap();
    assert_eq!(api.get_progress(p.id).await.unwrap_err().status, 404);

    // Another learner's account is invisible (404), and the audit log has our events.
    let other = server.client();
    let o = other.signup(&signup("grace@sdk.test")).await.unwrap();
    assert_eq!(api.get_user(o.user.id).await.unwrap_err().status, 404);
    assert!(api.audit_logs(&[]).await.unwrap().count >= 1);

    api.logout(false).await.unwrap();
    assert!(!api.is_signed_in());
    assert_eq!(api.me().await.unwrap_err().status, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_once_then_a_clear_error() {
    let server = Server::start(None).await;
    let api = server.client();
    api.signup(&signup("refresh@sdk.test")).await.unwrap();
    let before = api.tokens().get().unwrap();
    // An access token the server rejects: the client refreshes once and the call succeeds.
    api.tokens().set(Tokens {
        access: "not-a-jwt".into(),
        refresh: before.refresh.clone(),
    });
    api.me().await.unwrap();
    let after = api.tokens().get().unwrap();
    assert_ne!(
        after.refresh, before.refresh,
        "the refresh rotated the pair"
    );
    assert_ne!(after.access, "not-a-jwt");
    // The successor is used (within the grace period the old token would still get it: two
    // tabs refreshing at once)...
    api.tokens().set(Tokens {
        access: "not-a-jwt".into(),
        refresh: after.refresh.clone(),
    });
    api.me().await.unwrap();
    // ...so the old refresh token is a reuse: the next failing call cannot refresh.
    api.tokens().set(Tokens {
        access: "not-a-jwt".into(),
        refresh: before.refresh,
    });
    let e = api.me().await.unwrap_err();
    assert_eq!(e.status, 401);
    assert!(e.detail.contains("Session expired"), "{e}");
    assert!(!api.is_signed_in(), "tokens are cleared");
    // Wrong credentials: the server's detail comes through.
    let e = api
        .login("refresh@sdk.test", "wrong-password-2026")
        .await
        .unwrap_err();
    assert_eq!(e.status, 401);
    assert!(!e.detail.is_empty());
    // No server at all: status 0 with a readable message.
    let gone = Client::new("http://127.0.0.1:9", ReqwestTransport::default());
    let e = gone.login("a@b.c", "x").await.unwrap_err();
    assert_eq!(e.status, 0);
    assert!(e.detail.contains("cannot reach"), "{e}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_members_and_catalog_admin() {
    let server = Server::start(None).await;
    let admin = server.client();
    admin.login(ADMIN.0, ADMIN.1).await.unwrap();
    let learner = server.client();
    let l = learner.signup(&signup("member@sdk.test")).await.unwrap();

    let org = admin
        .create_organization(&NewOrganization {
            name: "Blue Team Ltd".into(),
            slug: "blue-team".into(),
            org_type: OrgType::Employer,
            description: None,
            website: None,
            country: None,
        })
        .await
        .unwrap();
    assert_eq!(org.slug, "blue-team");
    assert_eq!(
        learner
            .get_organization("blue-team")
            .await
            .unwrap_err()
            .status,
        404
    );
    let added = admin
        .add_member(
            "blue-team",
            &MemberRequest {
                user_id: l.user.id,
                role: Some(OrgRole::Member),
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(added, MemberAddResult::Member(ref m) if m.user_id == l.user.id),
        "a platform administrator adds directly: {added:?}"
    );
    assert_eq!(
        learner.get_organization("blue-team").await.unwrap().id,
        org.id
    );
    assert_eq!(admin.list_members("blue-team", &[]).await.unwrap().count, 2);
    admin.remove_member("blue-team", l.user.id).await.unwrap();

    // The learner's own organization (the platform lets any learner be an org admin only
    // through a creating role; the administrator grants sponsor_admin).
    let owner = server.client();
    let o = owner.signup(&signup("owner@sdk.test")).await.unwrap();
    admin
        .grant_role(
            o.user.id,
            &RoleGrantRequest {
                role: Role::SponsorAdmin,
                scope: None,
                scope_ref: None,
            },
        )
        .await
        .unwrap();
    owner
        .create_organization(&NewOrganization {
            name: "Red Team Ltd".into(),
            slug: "red-team".into(),
            org_type: OrgType::Sponsor,
            description: None,
            website: None,
            country: None,
        })
        .await
        .unwrap();
    let MemberAddResult::Invited(inv) = owner
        .add_member(
            "red-team",
            &MemberRequest {
                user_id: l.user.id,
                role: None,
            },
        )
        .await
        .unwrap()
    else {
        panic!("an organization admin invites");
    };
    assert_eq!(inv.status, InvitationStatus::Pending);
    let mine = learner
        .list_invitations(&[("status", "pending")])
        .await
        .unwrap();
    assert_eq!(mine.results, vec![inv.clone()]);
    let pending = owner.list_org_invitations("red-team", &[]).await.unwrap();
    assert_eq!(pending.count, 1);
    let m = learner.accept_invitation(inv.id).await.unwrap();
    assert_eq!((m.user_id, m.role), (l.user.id, OrgRole::Member));
    assert_eq!(
        learner.accept_invitation(inv.id).await.unwrap_err().status,
        409
    );
    learner.remove_member("red-team", l.user.id).await.unwrap();
    let MemberAddResult::Invited(again) = owner
        .add_member(
            "red-team",
            &MemberRequest {
                user_id: l.user.id,
                role: None,
            },
        )
        .await
        .unwrap()
    else {
        panic!("an organization admin invites");
    };
    owner.revoke_invitation("red-team", again.id).await.unwrap();
    assert_eq!(
        learner
            .decline_invitation(again.id)
            .await
            .unwrap_err()
            .status,
        409
    );

    let item = admin
        .create_content(&NewContent {
            content_id: Some("sdk-lab".into()),
            content_type: ContentType::Lab,
            title: "SDK lab".into(),
            description: "Created through the SDK.".into(),
            track: Some(Track::Defender),
            difficulty: None,
            tags: vec![],
            estimated_minutes: Some(20),
        })
        .await
        .unwrap();
    let renamed = admin
        .update_content(
            "sdk-lab",
            &ContentPatch {
                title: Some("SDK lab 2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.id, item.id);
    assert_eq!(
        learner.get_content("sdk-lab").await.unwrap().title,
        "SDK lab 2"
    );
    assert_eq!(
        learner.delete_content("sdk-lab").await.unwrap_err().status,
        403
    );
    admin.delete_content("sdk-lab").await.unwrap();
    assert_eq!(admin.get_content("sdk-lab").await.unwrap_err().status, 404);
    assert!(!admin.roles().await.unwrap().is_empty());
    assert!(
        admin
            .list_users(&[("search", "member@")])
            .await
            .unwrap()
            .count
            == 1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_routes() {
    let Some(model) = cyberhub_vector::conformance::service_url("CYBERHUB_MODEL_DIR") else {
        return;
    };
    let server = Server::start(Some(model)).await;
    let admin = server.client();
    admin.login(ADMIN.0, ADMIN.1).await.unwrap();
    let start = Instant::now();
    loop {
        let s = admin.index_status().await.unwrap();
        if s.pending == 0 && s.indexed == s.catalog {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api = server.client();
    let me = api.signup(&signup("ai@sdk.test")).await.unwrap();
    let hits = api
        .search(&SearchRequest {
            query: "governance and compliance audits".into(),
            content_type: None,
            track: None,
            limit: Some(3),
        })
        .await
        .unwrap();
    assert_eq!(hits.results.len(), 3);
    let cold = api
        .recommendations_of(me.user.id, &[("limit", "5")])
        .await
        .unwrap();
    assert!(cold.cold_start);
    assert_eq!(cold.total, 5);
    let q = api.questionnaire().await.unwrap();
    assert!(q.questions.len() >= 15);
    let a = api
        .analyze_personality(&PersonalityRequest {
            user_id: me.user.id,
            answers: vec![],
        })
        .await
        .unwrap();
    assert!(!a.enough_data);
    assert_eq!(
        api.personality_of(me.user.id).await.unwrap_err().status,
        404
    );
    let e = api.embeddings(vec!["zero trust".into()]).await.unwrap();
    assert_eq!(e.dimension, 384);
    assert_eq!(api.embeddings(vec![]).await.unwrap_err().status, 400);
    server.stop().await;
}
