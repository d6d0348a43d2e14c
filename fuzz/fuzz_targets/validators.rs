//! The field validators on arbitrary text: e-mail normalisation, organization slugs and
//! names, user and content fields, passwords, client-address buckets and rate-limit quotas.
#![no_main]

use cyberhub_domain::{ContentType, NewContent, NewOrganization, NewUser, OrgType, Validate};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    if let Ok(e) = cyberhub_domain::normalized_email(s, "email") {
        // Normalising is idempotent.
        assert_eq!(cyberhub_domain::normalized_email(&e, "email").ok().as_deref(), Some(e.as_str()));
    }
    let _ = cyberhub_auth::client_bucket(s);
    let _ = s.parse::<cyberhub_auth::Quota>();
    let _ = cyberhub_auth::check_new_password(&secrecy::SecretString::from(s.to_owned()), "password");
    let org = json!({"name": s, "slug": s, "org_type": OrgType::ALL[0].as_str(), "website": s, "country": s});
    if let Ok(o) = serde_json::from_value::<NewOrganization>(org) {
        let _ = o.validated();
    }
    let user = json!({"email": s, "first_name": s, "last_name": s, "country": s, "timezone": s, "language": s});
    if let Ok(u) = serde_json::from_value::<NewUser>(user) {
        let _ = u.validated();
    }
    let content = json!({"content_id": s, "content_type": ContentType::ALL[0].as_str(), "title": s, "description": s, "tags": [s]});
    if let Ok(c) = serde_json::from_value::<NewContent>(content) {
        let _ = c.validated();
    }
});
