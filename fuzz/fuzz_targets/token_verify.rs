//! Token parsing and verification: arbitrary strings as access and refresh tokens, and
//! arbitrary JSON claims signed with the right key (so the fuzzer gets past the signature
//! into claim decoding and checks). Nothing may panic; forged claims must not verify into
//! a different token type.
#![no_main]

use chrono::{TimeZone, Utc};
use cyberhub_auth::{JwtKey, TokenConfig, TokenService, TokenType};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use std::sync::OnceLock;

const SECRET: &str = "a-fuzzing-secret-of-at-least-32-bytes!!";
const OLD_SECRET: &str = "an-older-fuzzing-secret-of-32-bytes-or-more";

fn service() -> &'static TokenService {
    static S: OnceLock<TokenService> = OnceLock::new();
    S.get_or_init(|| {
        let key = |kid: &str, s: &str| JwtKey::new(kid, SecretString::from(s.to_owned())).unwrap();
        TokenService::new(
            TokenConfig::default(),
            key("k1", SECRET),
            vec![key("k0", OLD_SECRET)],
        )
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let svc = service();
    match mode % 2 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            let _ = svc.verify_access(&token, now);
            let _ = svc.verify_refresh(&token, now);
        }
        _ => {
            let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else {
                return;
            };
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            // Each key id signed with its own secret: the current key and the retired one
            // (still accepted for verification) both reach claim decoding.
            let (kid, secret) = if mode & 2 == 0 { ("k1", SECRET) } else { ("k0", OLD_SECRET) };
            header.kid = Some(kid.into());
            let Ok(token) = jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            ) else {
                return;
            };
            if let Ok(c) = svc.verify_access(&token, now) {
                assert_eq!(c.token_type, TokenType::Access);
                let _ = (c.user_id(), c.session_id(), c.jti());
            }
            if let Ok(c) = svc.verify_refresh(&token, now) {
                assert_eq!(c.token_type, TokenType::Refresh);
                let _ = (c.user_id(), c.session_id(), c.jti());
            }
        }
    }
});
