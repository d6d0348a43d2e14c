//! What the server enforces on each request property and parameter, as JSON Schema keywords
//! for the OpenAPI document: lengths, patterns, bounds and enumerations that poem-openapi
//! cannot derive from the Rust types because the checks live in the domain's `validated()`.
//!
//! A text field is trimmed by the server before it is checked, so its pattern allows
//! surrounding white space (Rust's `char::is_whitespace`, spelled out below) and counts the
//! length of what is left; control characters are excluded where the server refuses them.
//! Every pattern is written in the subset that ECMA-262 (the document's dialect, and
//! progenitor's `regress`), Python's `re` (schemathesis) and Rust's `regex` (the tests below)
//! read alike: classes, counted repetition and `\uXXXX` escapes, no look-around.
//!
//! The tests at the bottom check each pattern against the domain's own validation over a
//! corpus of edge cases: a rule marked exact accepts exactly what the server accepts, any
//! other accepts only what the server accepts (strings it leaves out, such as non-ASCII
//! e-mail addresses, are documented as not guaranteed).

use serde_json::{json, Value};

/// Rust's white space (`char::is_whitespace`, what `str::trim` removes).
pub(crate) const WS: &str =
    r"\t\n\u000B\u000C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters (`char::is_control`: Unicode Cc).
pub(crate) const CC: &str = r"\u0000-\u001F\u007F-\u009F";
/// Control characters other than tab, line feed and carriage return (multi-line text).
pub(crate) const CC_MULTILINE: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";
/// The one character no string may hold (PostgreSQL cannot store it).
pub(crate) const NUL: &str = r"\u0000";
/// Any string without NUL: the pattern of every request string without a stricter one.
pub(crate) const NO_NUL: &str = r"^[^\u0000]*$";

/// A trimmed value of 1..=`max` characters whose first and last characters are outside
/// `edge` and whose others are outside `interior`; with `blank_ok`, also nothing at all.
fn trimmed(max: usize, edge: &str, interior: &str, blank_ok: bool) -> String {
    let core = format!(
        "[^{edge}](?:[^{interior}]{{0,{}}}[^{edge}])?",
        max.saturating_sub(2)
    );
    let core = if blank_ok {
        format!("(?:{core})?")
    } else {
        core
    };
    format!("^[{WS}]*{core}[{WS}]*$")
}

/// One line of text: trimmed, 1..=`max` characters, no control characters.
pub(crate) fn line(max: usize) -> Value {
    json!({ "pattern": trimmed(max, &format!("{WS}{CC}"), CC, false) })
}

/// Free text: trimmed, at most `max` characters, no control characters but tab and new lines.
pub(crate) fn text(max: usize) -> Value {
    json!({ "pattern": trimmed(max, &format!("{WS}{CC}"), CC_MULTILINE, true) })
}

/// `inner` (a pattern without anchors) with white space around it, or only white space
/// (which the server reads as "not set" or, in a PATCH, "clear").
fn blank_or(inner: &str) -> Value {
    json!({ "pattern": format!("^[{WS}]*(?:{inner})?[{WS}]*$") })
}

/// ISO 3166-1 alpha-2, either case.
pub(crate) fn country() -> Value {
    blank_or("[A-Za-z]{2}")
}

/// An IANA time-zone name's shape: up to three `/`-separated parts. The server takes parts
/// of up to 40 characters and 64 in all; the document says 20 each (62 in all).
pub(crate) fn timezone() -> Value {
    blank_or("[A-Za-z0-9_+-]{1,20}(?:/[A-Za-z0-9_+-]{1,20}){0,2}")
}

/// A BCP 47 tag's shape: a 2–3 letter language and up to three subtags.
pub(crate) fn language() -> Value {
    blank_or("[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}")
}

/// An e-mail address: the server also takes non-ASCII local parts and domains; the document
/// promises ASCII ones.
pub(crate) fn email() -> Value {
    json!({
        "pattern": r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$",
        "maxLength": 254,
    })
}

/// An organization's URL key.
pub(crate) fn slug() -> Value {
    json!({ "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$", "minLength": 3, "maxLength": 50 })
}

/// A catalog item's public key.
const CONTENT_ID: &str = "[a-z0-9][a-z0-9._-]{0,99}";

/// An http(s) URL with a dotted host (ASCII), or blank.
pub(crate) fn website() -> Value {
    json!({
        "pattern": format!(
            r"^(?:[{WS}]{{0,300}}|https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]{{1,5}})?(?:[/?#][\u0021-\u007E]*)?)$"
        ),
        "maxLength": 300,
    })
}

/// A password as a new one is checked (its length; common passwords are refused too).
pub(crate) fn password() -> Value {
    json!({
        "minLength": cyberhub_auth::password::MIN_PASSWORD_CHARS,
        "maxLength": cyberhub_auth::password::MAX_PASSWORD_CHARS,
    })
}

/// `(target, keywords)`: `Schema.property`, `Schema.property[]` (its array's items), or
/// `operationId?parameter` / `?parameter` (that query or path parameter of one operation /
/// of every operation).
pub(crate) fn rules() -> Vec<(&'static str, Value)> {
    let results = cyberhub_ai::recommend::MAX_RESULTS;
    let percent = json!({ "minimum": 0, "maximum": 100 });
    let limit = json!({ "minimum": 1, "maximum": results });
    let minutes = json!({ "minimum": 1, "maximum": 10_000 });
    let questionnaire = cyberhub_ai::questionnaire::questionnaire();
    let question_ids: Vec<&str> = questionnaire
        .questions
        .iter()
        .map(|q| q.id.as_str())
        .collect();
    let mut option_ids: Vec<&str> = questionnaire
        .questions
        .iter()
        .flat_map(|q| q.options.iter().map(|o| o.id.as_str()))
        .collect();
    option_ids.sort_unstable();
    option_ids.dedup();
    vec![
        ("SignupRequest.email", email()),
        ("SignupRequest.password", password()),
        ("SignupRequest.first_name", line(100)),
        ("SignupRequest.last_name", line(100)),
        ("SignupRequest.country", country()),
        ("SignupRequest.timezone", timezone()),
        ("SignupRequest.language", language()),
        ("PasswordChangeRequest.new_password", password()),
        ("EmailChangeRequest.new_email", email()),
        ("UserPatchRequest.first_name", line(100)),
        ("UserPatchRequest.last_name", line(100)),
        ("UserPatchRequest.bio", text(2000)),
        ("UserPatchRequest.country", country()),
        ("UserPatchRequest.timezone", timezone()),
        ("UserPatchRequest.language", language()),
        (
            "LearningPreferences.weekly_goal_minutes",
            json!({ "minimum": 1, "maximum": 10_080 }),
        ),
        (
            "RoleGrantRequest.scope",
            json!({ "enum": ["global", "org"] }),
        ),
        ("NewOrganization.name", line(150)),
        ("NewOrganization.slug", slug()),
        ("NewOrganization.description", text(5000)),
        ("NewOrganization.website", website()),
        ("NewOrganization.country", country()),
        ("OrgPatch.name", line(150)),
        ("OrgPatch.description", text(5000)),
        ("OrgPatch.website", website()),
        ("OrgPatch.country", country()),
        ("NewContent.content_id", blank_or(CONTENT_ID)),
        ("NewContent.title", line(200)),
        ("NewContent.description", text(5000)),
        ("NewContent.tags", json!({ "maxItems": 20 })),
        ("NewContent.tags[]", line(40)),
        ("NewContent.estimated_minutes", minutes.clone()),
        ("ContentPatch.title", line(200)),
        ("ContentPatch.description", text(5000)),
        ("ContentPatch.tags", json!({ "maxItems": 20 })),
        ("ContentPatch.tags[]", line(40)),
        ("ContentPatch.estimated_minutes", minutes),
        ("NewProgress.content_id", line(100)),
        ("NewProgress.completion_percentage", percent.clone()),
        ("NewProgress.score", percent.clone()),
        ("NewProgress.metadata", json!({ "type": "object" })),
        ("ProgressPatch.completion_percentage", percent.clone()),
        ("ProgressPatch.score", percent),
        ("ProgressPatch.metadata", json!({ "type": "object" })),
        (
            "EmbeddingsRequest.texts",
            json!({ "minItems": 1, "maxItems": cyberhub_ai::MAX_BATCH }),
        ),
        (
            "EmbeddingsRequest.texts[]",
            json!({ "maxLength": cyberhub_ai::MAX_TEXT_BYTES }),
        ),
        (
            "SearchRequest.query",
            json!({ "pattern": trimmed(1000, &format!("{WS}{NUL}"), NUL, false) }),
        ),
        ("SearchRequest.limit", limit.clone()),
        ("RecommendationRequest.limit", limit.clone()),
        (
            "PersonalityRequest.answers",
            json!({ "maxItems": question_ids.len() }),
        ),
        ("Answer.question_id", json!({ "enum": question_ids })),
        ("Answer.option_id", json!({ "enum": option_ids })),
        (
            "?page",
            json!({ "minimum": 1, "maximum": cyberhub_domain::Page::MAX_NUMBER }),
        ),
        (
            "?page_size",
            json!({ "minimum": 1, "maximum": cyberhub_domain::Page::MAX_SIZE }),
        ),
        ("recommendations_of?limit", limit),
        ("revoke_role?scope", json!({ "enum": ["global", "org"] })),
        (
            "list_invitations?status",
            json!({ "pattern": "^(?:pending)?$" }),
        ),
        (
            "list_org_invitations?status",
            json!({ "pattern": "^(?:pending)?$" }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    //! Each pattern against the domain's validation, over a corpus of edge cases.

    use super::*;
    use cyberhub_domain::{NewContent, NewOrganization, NewUser, OrgPatch, UserPatch, Validate};

    fn regex_of(v: &Value) -> regex::Regex {
        let p = v["pattern"].as_str().expect("a pattern");
        // Counted repetition of a Unicode class ({0,4998}) compiles large.
        regex::RegexBuilder::new(p)
            .size_limit(1 << 30)
            .build()
            .unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    /// Whether `s` satisfies every string keyword of `v` (lengths in characters).
    fn documented(v: &Value, re: Option<&regex::Regex>, s: &str) -> bool {
        let n = s.chars().count() as u64;
        re.is_none_or(|re| re.is_match(s))
            && v["minLength"].as_u64().is_none_or(|m| n >= m)
            && v["maxLength"].as_u64().is_none_or(|m| n <= m)
    }

    /// Strings built from characters the rules treat differently, of every length up to
    /// `max_len`, plus the usual suspects.
    fn corpus(max_len: usize) -> Vec<String> {
        let chars = [
            'a', 'Z', '0', '-', '.', '_', '/', '@', ':', '+', ' ', '\t', '\n', '\r', '\u{0}',
            '\u{1}', '\u{7f}', '\u{85}', '\u{a0}', '\u{2003}', '\u{3000}', '\u{feff}', 'é', 'ß',
            '😀', '#', '?', '%', 'x',
        ];
        let mut out = vec![String::new()];
        // A deterministic walk over the alphabet (an LCG), many lengths.
        let mut seed: u64 = 0x2026;
        for len in (1..=max_len + 3).chain([1, 2, 3, 4, 5, 8, 40, 41, 64, 65]) {
            for _ in 0..40 {
                let mut s = String::new();
                for _ in 0..len {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let i = (seed >> 33) as usize % chars.len();
                    s.push(chars[i]);
                }
                out.push(s);
            }
            out.push("a".repeat(len));
            out.push(format!(" {} ", "a".repeat(len)));
            out.push(format!("\t{}\n", "é".repeat(len)));
        }
        for s in [
            "  ",
            " x ",
            "x y",
            "x\ty",
            "x\ny",
            "\u{feff}x",
            "x\u{85}",
            "\u{a0}x\u{a0}",
            "DE",
            " de ",
            "deu",
            "Europe/Berlin",
            "America/Argentina/Salta",
            "Etc/GMT+5",
            "a/b/c/d",
            "Europe/",
            "pt-BR",
            "zh-Hant",
            "english",
            "en-",
            "a@b.co",
            "first.last+tag@sub.example.org",
            "ünï@exämple.de",
            "a@b",
            "@b.co",
            "a@@b.co",
            "a b@c.co",
            "a@.b.co",
            "a@b..co",
            "a@b.co.",
            " a@b.co ",
            "A@B.CO",
            "https://example.org",
            "http://a.b/x?y#z",
            "https://example",
            "ftp://a.b",
            "https://a.b/ x",
            " https://a.b ",
            "https://exa mple.org",
            "acme",
            "ac",
            "acme-security",
            "-acme",
            "acme-",
            "acme--x",
            "Acme",
            "lab-1",
            "a.b_c-d",
            "_a",
            "A1",
        ] {
            out.push(s.to_owned());
        }
        out
    }

    /// Checks `rule` against `accepts` over the corpus: never documented-valid but refused;
    /// with `exact`, also never documented-invalid but accepted.
    fn check(
        name: &str,
        rule: &Value,
        max_len: usize,
        exact: bool,
        accepts: impl Fn(&str) -> bool,
    ) {
        let mut wrong = Vec::new();
        let re = rule.get("pattern").map(|_| regex_of(rule));
        for s in corpus(max_len) {
            let (doc, server) = (documented(rule, re.as_ref(), &s), accepts(&s));
            if (doc && !server) || (exact && !doc && server) {
                wrong.push(format!("{s:?}: document {doc}, server {server}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "{name}: {} disagreements, e.g. {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(5)]
        );
    }

    fn fields_of(e: cyberhub_domain::Error) -> Vec<String> {
        e.fields().iter().map(|f| f.field.clone()).collect()
    }

    fn new_user(f: impl FnOnce(&mut NewUser)) -> Vec<String> {
        let mut u = NewUser {
            email: "ada@example.org".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            country: None,
            timezone: None,
            language: None,
        };
        f(&mut u);
        u.validated().err().map(fields_of).unwrap_or_default()
    }

    fn user_patch(f: impl FnOnce(&mut UserPatch)) -> Vec<String> {
        let mut p = UserPatch::default();
        f(&mut p);
        p.validated().err().map(fields_of).unwrap_or_default()
    }

    fn new_org(f: impl FnOnce(&mut NewOrganization)) -> Vec<String> {
        let mut o = NewOrganization {
            name: "Acme".into(),
            slug: "acme-security".into(),
            org_type: cyberhub_domain::OrgType::Employer,
            description: None,
            website: None,
            country: None,
        };
        f(&mut o);
        o.validated().err().map(fields_of).unwrap_or_default()
    }

    fn org_patch(f: impl FnOnce(&mut OrgPatch)) -> Vec<String> {
        let mut p = OrgPatch::default();
        f(&mut p);
        p.validated().err().map(fields_of).unwrap_or_default()
    }

    fn new_content(f: impl FnOnce(&mut NewContent)) -> Vec<String> {
        let mut c = NewContent {
            content_id: None,
            content_type: cyberhub_domain::ContentType::Lab,
            title: "T".into(),
            description: String::new(),
            track: None,
            difficulty: None,
            tags: Vec::new(),
            estimated_minutes: None,
        };
        f(&mut c);
        c.validated().err().map(fields_of).unwrap_or_default()
    }

    #[test]
    fn text_rules_match_the_domain() {
        check("name", &line(100), 100, true, |s| {
            new_user(|u| u.first_name = s.into()).is_empty()
        });
        check("bio", &text(2000), 60, true, |s| {
            user_patch(|p| p.bio = Some(s.into())).is_empty()
        });
        check("org name", &line(150), 60, true, |s| {
            org_patch(|p| p.name = Some(s.into())).is_empty()
        });
        check("org description", &text(5000), 60, true, |s| {
            org_patch(|p| p.description = Some(s.into())).is_empty()
                && new_org(|o| o.description = Some(s.into())).is_empty()
        });
        check("title", &line(200), 60, true, |s| {
            new_content(|c| c.title = s.into()).is_empty()
        });
        check("content description", &text(5000), 60, true, |s| {
            new_content(|c| c.description = s.into()).is_empty()
        });
        check("tag", &line(40), 45, true, |s| {
            new_content(|c| c.tags = vec![s.into()]).is_empty()
        });
    }

    #[test]
    fn short_line_lengths_are_counted_after_trimming() {
        let rule = line(3);
        let re = regex_of(&rule);
        for ok in ["a", "abc", "  abc  ", "a b", "\ta\n"] {
            assert!(re.is_match(ok), "{ok:?}");
        }
        for bad in ["", "   ", "abcd", "a\tb", "a\u{0}"] {
            assert!(!re.is_match(bad), "{bad:?}");
        }
    }

    #[test]
    fn profile_rules_match_the_domain() {
        check("country", &country(), 4, true, |s| {
            new_user(|u| u.country = Some(s.into())).is_empty()
                && user_patch(|p| p.country = Some(s.into())).is_empty()
                && org_patch(|p| p.country = Some(s.into())).is_empty()
        });
        check("timezone", &timezone(), 30, false, |s| {
            new_user(|u| u.timezone = Some(s.into())).is_empty()
                && user_patch(|p| p.timezone = Some(s.into())).is_empty()
        });
        check("language", &language(), 30, false, |s| {
            new_user(|u| u.language = Some(s.into())).is_empty()
                && user_patch(|p| p.language = Some(s.into())).is_empty()
        });
        check("email", &email(), 12, false, |s| {
            cyberhub_domain::normalized_email(s, "email").is_ok()
        });
        check("website", &website(), 20, false, |s| {
            org_patch(|p| p.website = Some(s.into())).is_empty()
                && new_org(|o| o.website = Some(s.into())).is_empty()
        });
        check("slug", &slug(), 12, false, |s| {
            new_org(|o| o.slug = s.into()).is_empty()
        });
        check("content_id", &blank_or(CONTENT_ID), 12, true, |s| {
            new_content(|c| c.content_id = Some(s.into())).is_empty()
        });
    }

    #[test]
    fn every_pattern_refuses_nul_and_compiles() {
        for (target, kw) in rules() {
            if kw.get("pattern").is_some() {
                assert!(
                    !regex_of(&kw).is_match("a\u{0}b"),
                    "{target} lets NUL through"
                );
            }
        }
        assert!(!regex::Regex::new(NO_NUL).unwrap().is_match("\u{0}"));
    }
}
