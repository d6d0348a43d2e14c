//! Request-body decoding of every route's JSON, as the server does it (poem-openapi's
//! `ParseFromJSON` on the domain types) and as the SDK does it (serde), then the types'
//! own validation. Nothing may panic, whatever the bytes.
#![no_main]

use cyberhub_domain::api::{
    AccountDeleteRequest, EmailChangeRequest, LoginRequest, LogoutRequest, MemberPatchRequest,
    MemberRequest, PasswordChangeRequest, RefreshRequest, RoleGrantRequest, SignupRequest,
    UserPatchRequest,
};
use cyberhub_domain::api_ai::{
    EmbeddingsRequest, PersonalityRequest, RecommendationRequest, SearchRequest,
};
use cyberhub_domain::{
    ContentPatch, NewContent, NewOrganization, NewProgress, OrgPatch, ProgressPatch, Validate,
};
use libfuzzer_sys::fuzz_target;
use poem_openapi::types::ParseFromJSON;

fn decode<T: ParseFromJSON + serde::de::DeserializeOwned>(value: &serde_json::Value, raw: &[u8]) -> Option<T> {
    let served = T::parse_from_json(Some(value.clone())).ok();
    let _ = serde_json::from_slice::<T>(raw);
    served
}

fn validate<T: ParseFromJSON + serde::de::DeserializeOwned + Validate>(value: &serde_json::Value, raw: &[u8]) {
    if let Some(v) = decode::<T>(value, raw) {
        let _ = v.validated();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    decode::<SignupRequest>(&value, data);
    decode::<LoginRequest>(&value, data);
    decode::<RefreshRequest>(&value, data);
    decode::<LogoutRequest>(&value, data);
    decode::<PasswordChangeRequest>(&value, data);
    decode::<EmailChangeRequest>(&value, data);
    decode::<AccountDeleteRequest>(&value, data);
    decode::<UserPatchRequest>(&value, data);
    decode::<RoleGrantRequest>(&value, data);
    decode::<MemberRequest>(&value, data);
    decode::<MemberPatchRequest>(&value, data);
    decode::<EmbeddingsRequest>(&value, data);
    decode::<SearchRequest>(&value, data);
    decode::<RecommendationRequest>(&value, data);
    decode::<PersonalityRequest>(&value, data);
    validate::<NewOrganization>(&value, data);
    validate::<OrgPatch>(&value, data);
    validate::<NewContent>(&value, data);
    validate::<ContentPatch>(&value, data);
    validate::<NewProgress>(&value, data);
    validate::<ProgressPatch>(&value, data);
});
