//! `docs/API.md` (the contract in prose) names every route the served OpenAPI document
//! (`docs/openapi.json`, itself checked against the server by scripts/test.sh) has, so the
//! two cannot drift apart unnoticed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `/users/{id}` and `/users/{user_id}` are the same route.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// Every `` `METHOD /path`` and `` `GET|PATCH|DELETE /path`` in the text.
fn routes_in_prose(text: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for span in text.split('`').skip(1).step_by(2) {
        let Some((methods, rest)) = span.split_once(' ') else {
            continue;
        };
        let methods: Vec<&str> = methods.split('|').collect();
        if !methods.iter().all(|m| METHODS.contains(m)) || !rest.starts_with('/') {
            continue;
        }
        let path = rest.split([' ', '?']).next().unwrap_or(rest);
        for m in methods {
            found.insert((m.to_owned(), normalize(path)));
        }
    }
    found
}

#[test]
fn api_md_names_every_route_of_the_openapi_document() {
    let root = env!("CARGO_MANIFEST_DIR");
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/docs/openapi.json")).unwrap(),
    )
    .unwrap();
    let prose = routes_in_prose(&std::fs::read_to_string(format!("{root}/docs/API.md")).unwrap());
    let mut missing = Vec::new();
    let paths = spec["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let m = method.to_ascii_uppercase();
            if METHODS.contains(&m.as_str()) && !prose.contains(&(m.clone(), normalize(path))) {
                missing.push(format!("{m} {path}"));
            }
        }
    }
    assert!(paths.len() > 30, "the document has {} paths", paths.len());
    assert!(
        missing.is_empty(),
        "docs/API.md does not mention: {missing:?}"
    );
}

#[test]
fn prose_routes_are_read_as_written() {
    let r = routes_in_prose(
        "see `GET|PATCH /users/{id}` and `POST /auth/login` `{email}`, `GET /x?y=1`",
    );
    let want: BTreeSet<(String, String)> = [
        ("GET", "/users/{}"),
        ("PATCH", "/users/{}"),
        ("POST", "/auth/login"),
        ("GET", "/x"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    assert_eq!(r, want);
}
