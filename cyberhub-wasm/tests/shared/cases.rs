// Cases shared by tests/node.rs (Node.js) and tests/web.rs (headless Chromium). They call the
// JavaScript class `CyberHub` the way a page does (promises, plain objects, thrown ApiErrors)
// against the server at CYBERHUB_TEST_HTTP, which scripts/test-sdk.sh starts (real model,
// seeded catalog, CORS on) and passes in at compile time.

use cyberhub_wasm::bindings::{CyberHub, JsTokenStorage};
use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

// Read at compile time (a wasm test has no environment); a build without it still compiles,
// for clippy, and fails here with this message when run.
#[allow(clippy::option_env_unwrap)]
fn server() -> &'static str {
    option_env!("CYBERHUB_TEST_HTTP")
        .expect("CYBERHUB_TEST_HTTP (the server these tests call) was not set at build time")
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

fn text(v: &JsValue, key: &str) -> String {
    get(v, key)
        .as_string()
        .unwrap_or_else(|| panic!("{key} is not a string in {}", show(v)))
}

fn show(v: &JsValue) -> String {
    JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| format!("{v:?}"))
}

fn obj(json: &str) -> JsValue {
    JSON::parse(json).unwrap()
}

fn query(json: &str) -> Option<Object> {
    Some(obj(json).unchecked_into())
}

async fn ok(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => v,
        Err(e) => panic!("call failed: {} {}", text(&e, "detail"), get(&e, "status").as_f64().unwrap_or(-1.0)),
    }
}

/// A rejected call: (status, detail), after checking it is an `ApiError`.
async fn fails(p: Promise) -> (u16, String) {
    let e = match JsFuture::from(p).await {
        Ok(v) => panic!("call should have failed but answered {}", show(&v)),
        Err(e) => e,
    };
    assert!(e.is_instance_of::<js_sys::Error>(), "rejects with an Error");
    assert_eq!(text(&e, "name"), "ApiError");
    assert!(Array::is_array(&get(&e, "errors")), "errors is an array");
    (get(&e, "status").as_f64().unwrap() as u16, text(&e, "detail"))
}

fn unique(prefix: &str) -> String {
    let n = (js_sys::Math::random() * 1e12) as u64;
    format!("{prefix}-{}-{n}", js_sys::Date::now() as u64)
}

async fn new_learner(hub: &CyberHub) -> (String, JsValue) {
    let email = format!("{}@example.org", unique("sdk"));
    let request = obj(&format!(
        r#"{{"email":"{email}","password":"wasm-sdk-pass-2026","first_name":"Ada","last_name":"Wasm"}}"#
    ));
    let auth = ok(hub.signup(request)).await;
    (email, auth)
}

/// A `TokenStorage` written in JavaScript, as an application would pass one.
fn js_storage() -> JsTokenStorage {
    let make = Function::new_no_args(
        "let t = null; return { get() { return t; }, set(v) { t = v; }, clear() { t = null; } };",
    );
    make.call0(&JsValue::NULL).unwrap().unchecked_into()
}

#[wasm_bindgen_test]
async fn accounts_content_and_progress_round_trip() {
    let hub = CyberHub::new(server(), None);
    assert!(!hub.is_signed_in());
    let (email, auth) = new_learner(&hub).await;
    assert!(hub.is_signed_in());
    assert_eq!(text(&get(&auth, "user"), "email"), email);

    let me = ok(hub.me()).await;
    assert_eq!(text(&get(&me, "user"), "email"), email);

    // The same e-mail again: 409 with the server's detail.
    let again = obj(&format!(
        r#"{{"email":"{email}","password":"wasm-sdk-pass-2026","first_name":"A","last_name":"B"}}"#
    ));
    let (status, detail) = fails(hub.signup(again)).await;
    assert_eq!(status, 409, "{detail}");
    assert!(!detail.is_empty());

    // Validation errors keep their field list.
    let weak = obj(r#"{"email":"not-an-email","password":"x","first_name":"","last_name":""}"#);
    let (status, detail) = fails(CyberHub::new(server(), None).signup(weak)).await;
    assert_eq!(status, 400, "{detail}");

    let catalog = ok(hub.list_content(query(r#"{"track":"offensive","page_size":5}"#))).await;
    let items = Array::from(&get(&catalog, "results"));
    assert!(items.length() > 0, "seeded catalog: {}", show(&catalog));
    let item = items.get(0);
    assert_eq!(text(&item, "track"), "offensive");

    let started = ok(hub.create_progress(obj(&format!(
        r#"{{"content_id":"{}","content_type":"{}","completion_percentage":40}}"#,
        text(&item, "content_id"),
        text(&item, "content_type")
    ))))
    .await;
    assert_eq!(text(&started, "status"), "in_progress");
    let done = ok(hub.update_progress(
        text(&started, "id"),
        obj(r#"{"status":"completed","score":92}"#),
    ))
    .await;
    assert_eq!(text(&done, "status"), "completed");
    assert_eq!(get(&done, "score").as_f64(), Some(92.0));
    let mine = ok(hub.list_progress(None)).await;
    assert_eq!(get(&mine, "count").as_f64(), Some(1.0), "{}", show(&mine));

    // Arguments are checked before anything is sent.
    let (status, detail) = fails(hub.get_user("not-a-uuid".into())).await;
    assert_eq!(status, 0);
    assert!(detail.contains("invalid user id"), "{detail}");
    // Someone else's row is invisible: 404.
    let other = CyberHub::new(server(), None);
    new_learner(&other).await;
    let (status, _) = fails(other.get_progress(text(&started, "id"))).await;
    assert_eq!(status, 404);

    ok(hub.logout(None)).await;
    assert!(!hub.is_signed_in());
    let (status, _) = fails(hub.me()).await;
    assert_eq!(status, 401);
}

#[wasm_bindgen_test]
async fn refreshes_once_then_reports_an_expired_session() {
    let storage = js_storage();
    let hub = CyberHub::new(server(), Some(storage.clone()));
    new_learner(&hub).await;
    let stored = js_get(&storage);
    let refresh = text(&stored, "refresh");

    // A rejected access token with a good refresh token: one refresh, the call succeeds
    // and the storage holds the rotated pair.
    js_set(&storage, &format!(r#"{{"access":"not-a-jwt","refresh":"{refresh}"}}"#));
    let me = ok(hub.me()).await;
    assert!(get(&me, "user").is_object());
    let rotated = js_get(&storage);
    assert_ne!(text(&rotated, "access"), "not-a-jwt");
    assert_ne!(text(&rotated, "refresh"), refresh, "the refresh token rotates");

    // Both tokens dead: a clear 401 and the storage is cleared.
    js_set(&storage, r#"{"access":"not-a-jwt","refresh":"not-a-refresh-token"}"#);
    let (status, detail) = fails(hub.me()).await;
    assert_eq!(status, 401);
    assert!(detail.contains("Session expired"), "{detail}");
    assert!(js_get(&storage).is_null());
    assert!(!hub.is_signed_in());
}

fn js_get(storage: &JsTokenStorage) -> JsValue {
    let f: Function = get(storage, "get").unchecked_into();
    f.call0(storage).unwrap()
}

fn js_set(storage: &JsTokenStorage, json: &str) {
    let f: Function = get(storage, "set").unchecked_into();
    f.call1(storage, &obj(json)).unwrap();
}

#[wasm_bindgen_test]
async fn recommendations_personality_search_and_embeddings() {
    let hub = CyberHub::new(server(), None);
    let (_, auth) = new_learner(&hub).await;
    let user_id = text(&get(&auth, "user"), "id");

    let cold = ok(hub.recommendations_of(user_id.clone(), query(r#"{"limit":5}"#))).await;
    assert_eq!(get(&cold, "cold_start").as_bool(), Some(true));
    let recs = Array::from(&get(&cold, "recommendations"));
    assert_eq!(recs.length(), 5, "{}", show(&cold));
    for r in recs.iter() {
        assert!(!text(&r, "reason").is_empty());
    }

    // Complete the first suggestion: it is never suggested again, and the list is no longer
    // a cold start.
    let first = recs.get(0);
    ok(hub.create_progress(obj(&format!(
        r#"{{"content_id":"{}","content_type":"{}","status":"completed","score":88}}"#,
        text(&first, "content_id"),
        text(&first, "content_type")
    ))))
    .await;
    let warm = ok(hub.recommendations(obj(&format!(
        r#"{{"user_id":"{user_id}","limit":5}}"#
    ))))
    .await;
    assert_eq!(get(&warm, "cold_start").as_bool(), Some(false));
    for r in Array::from(&get(&warm, "recommendations")).iter() {
        assert_ne!(text(&r, "content_id"), text(&first, "content_id"));
        assert!(!text(&r, "reason").is_empty());
    }

    let questionnaire = ok(hub.questionnaire()).await;
    let questions = Array::from(&get(&questionnaire, "questions"));
    assert!(questions.length() >= 15);
    let answers: Vec<String> = questions
        .iter()
        .map(|q| {
            let option = Array::from(&get(&q, "options")).get(0);
            format!(
                r#"{{"question_id":"{}","option_id":"{}"}}"#,
                text(&q, "id"),
                text(&option, "id")
            )
        })
        .collect();
    let analysis = ok(hub.analyze_personality(obj(&format!(
        r#"{{"user_id":"{user_id}","answers":[{}]}}"#,
        answers.join(",")
    ))))
    .await;
    assert_eq!(get(&analysis, "enough_data").as_bool(), Some(true), "{}", show(&analysis));
    assert_eq!(Array::from(&get(&analysis, "track_fit")).length(), 5, "{}", show(&analysis));
    let stored = ok(hub.personality_of(user_id.clone())).await;
    assert_eq!(show(&get(&stored, "track_fit")), show(&get(&analysis, "track_fit")));
    let (status, detail) = fails(hub.analyze_personality(obj(&format!(
        r#"{{"user_id":"{user_id}","answers":[{{"question_id":"no-such-question","option_id":"a"}}]}}"#
    ))))
    .await;
    assert_eq!(status, 400, "{detail}");

    let found = ok(hub.search(obj(
        r#"{"query":"exploiting web application vulnerabilities","limit":3}"#,
    )))
    .await;
    assert_eq!(Array::from(&get(&found, "results")).length(), 3);

    let embedded = ok(hub.embeddings(vec!["phishing awareness".into()])).await;
    assert_eq!(get(&embedded, "dimension").as_f64(), Some(384.0));
    let vector = get(&Array::from(&get(&embedded, "embeddings")).get(0), "embedding");
    assert_eq!(Array::from(&vector).length(), 384);
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_status_zero() {
    // Port 9 (discard) on loopback: nothing listens there.
    let hub = CyberHub::new("http://127.0.0.1:9", None);
    let (status, detail) = fails(hub.login("a@example.org".into(), "whatever-pass".into())).await;
    assert_eq!(status, 0);
    assert!(!detail.is_empty());
}
