//! Auth hot paths: argon2id hash/verify with the production (OWASP) parameters and JWT
//! sign/verify throughput. Run: `cargo bench --bench auth` (numbers in the README).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cyberhub_auth::{JwtKey, PasswordHasher, PasswordPolicy, TokenConfig, TokenService};
use cyberhub_domain::{Role, SessionId, UserId};
use secrecy::SecretString;
use std::hint::black_box;

fn argon2(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let hasher = PasswordHasher::new(PasswordPolicy::OWASP, 1).expect("hasher");
    let password = SecretString::from("correct horse battery staple".to_owned());
    let stored = rt.block_on(hasher.hash(&password)).expect("hash");
    let mut g = c.benchmark_group("argon2id_owasp_m19456_t2_p1");
    g.sample_size(20);
    g.bench_function("hash", |b| {
        b.iter(|| {
            rt.block_on(hasher.hash(black_box(&password)))
                .expect("hash")
        })
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            assert!(rt
                .block_on(hasher.verify(black_box(&password), Some(&stored)))
                .expect("verify"))
        })
    });
    g.bench_function("verify_unknown_user_dummy", |b| {
        b.iter(|| {
            assert!(!rt
                .block_on(hasher.verify(black_box(&password), None))
                .expect("verify"))
        })
    });
    g.finish();
}

fn jwt(c: &mut Criterion) {
    let key = JwtKey::new(
        "bench",
        SecretString::from("a-benchmark-secret-of-at-least-32-bytes".to_owned()),
    )
    .expect("key");
    let tokens = TokenService::new(TokenConfig::default(), key, vec![]).expect("tokens");
    let (user, sid) = (
        UserId(uuid::Uuid::new_v4()),
        SessionId(uuid::Uuid::new_v4()),
    );
    let now = Utc::now();
    let (token, _) = tokens
        .issue_access(user, sid, &[Role::Mentee], now)
        .expect("issue");
    let mut g = c.benchmark_group("jwt_hs256");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign_access", |b| {
        b.iter(|| {
            tokens
                .issue_access(user, sid, black_box(&[Role::Mentee]), now)
                .expect("sign")
        })
    });
    g.bench_function("verify_access", |b| {
        b.iter(|| {
            tokens
                .verify_access(black_box(&token), now)
                .expect("verify")
        })
    });
    g.finish();
}

criterion_group!(benches, argon2, jwt);
criterion_main!(benches);
