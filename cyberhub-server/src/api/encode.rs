//! Responses encoded straight to bytes with serde, for hot routes.
//!
//! poem-openapi's `Json<T>` encodes through a `serde_json::Value` tree (an `IndexMap` with
//! an owned key per field, SipHash on every insert) and then writes that tree out. On
//! `GET /progress` the tree building, hashing and freeing were about a tenth of the
//! server's CPU time per request (perf, 2026-12-07). [`Encoded<T>`] writes the same bytes
//! in one pass: its OpenAPI description is `Json<T>`'s own, and the tests below compare
//! its bytes with `Json<T>`'s for every field.

use chrono::{DateTime, Utc};
use cyberhub_domain::api::ProgressList;
use cyberhub_domain::Progress;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::ApiResponse;
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

/// A type whose JSON encoding matches its poem-openapi `ToJSON` encoding byte for byte.
pub trait EncodeJson: ToJSON + Type {
    /// The JSON bytes `poem_openapi::payload::Json<Self>` would send.
    fn encode(&self) -> serde_json::Result<Vec<u8>>;
}

/// A `200 application/json` response documented as `Json<T>` and encoded by
/// [`EncodeJson`].
#[derive(Debug)]
pub struct Encoded<T>(pub T);

impl<T: EncodeJson + Send> IntoResponse for Encoded<T> {
    fn into_response(self) -> Response {
        match self.0.encode() {
            Ok(body) => Response::builder()
                .content_type(Json::<T>::CONTENT_TYPE)
                .body(body),
            // What poem's `Json` does on an encoding error (none can happen for these types).
            Err(e) => Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(e.to_string()),
        }
    }
}

impl<T: EncodeJson + Send> ApiResponse for Encoded<T> {
    fn meta() -> MetaResponses {
        <Json<T> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        <Json<T> as ApiResponse>::register(registry);
    }
}

/// A timestamp as poem-openapi writes it (`DateTime::to_rfc3339`: `+00:00`, not serde's
/// `Z`).
struct Rfc3339(DateTime<Utc>);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339())
    }
}

/// One progress row, fields in declaration order (poem-openapi's `Object` order).
struct ProgressOut<'a>(&'a Progress);

impl Serialize for ProgressOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut o = s.serialize_struct("Progress", 12)?;
        o.serialize_field("id", &p.id)?;
        o.serialize_field("user_id", &p.user_id)?;
        o.serialize_field("content_id", &p.content_id)?;
        o.serialize_field("content_type", &p.content_type)?;
        o.serialize_field("status", &p.status)?;
        // poem-openapi leaves out a float JSON cannot hold (NaN, infinities); so does this.
        if p.completion_percentage.is_finite() {
            o.serialize_field("completion_percentage", &p.completion_percentage)?;
        } else {
            o.skip_field("completion_percentage")?;
        }
        match p.score {
            Some(x) if !x.is_finite() => o.skip_field("score")?,
            score => o.serialize_field("score", &score)?,
        }
        o.serialize_field("metadata", &p.metadata)?;
        o.serialize_field("started_at", &p.started_at.map(Rfc3339))?;
        o.serialize_field("completed_at", &p.completed_at.map(Rfc3339))?;
        o.serialize_field("created_at", &Rfc3339(p.created_at))?;
        o.serialize_field("updated_at", &Rfc3339(p.updated_at))?;
        o.end()
    }
}

/// The rows of a page.
struct RowsOut<'a>(&'a [Progress]);

impl Serialize for RowsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for p in self.0 {
            seq.serialize_element(&ProgressOut(p))?;
        }
        seq.end()
    }
}

impl EncodeJson for ProgressList {
    fn encode(&self) -> serde_json::Result<Vec<u8>> {
        struct Out<'a>(&'a ProgressList);
        impl Serialize for Out<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let l = self.0;
                let mut o = s.serialize_struct("ProgressList", 4)?;
                o.serialize_field("count", &l.count)?;
                o.serialize_field("next", &l.next)?;
                o.serialize_field("previous", &l.previous)?;
                o.serialize_field("results", &RowsOut(&l.results))?;
                o.end()
            }
        }
        // 20 rows of the default page come to about 8.5 KB.
        let mut out = Vec::with_capacity(512 + 450 * self.results.len());
        serde_json::to_writer(&mut out, &Out(self))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cyberhub_domain::{ContentType, ProgressId, ProgressStatus, UserId};
    use uuid::Uuid;

    /// What `poem_openapi::payload::Json<T>` sends for `v`.
    fn poem_bytes<T: ToJSON + Send>(v: T) -> Vec<u8> {
        let resp = Json(v).into_response();
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            Json::<ProgressList>::CONTENT_TYPE
        );
        futures_bytes(resp)
    }

    fn futures_bytes(resp: Response) -> Vec<u8> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(resp.into_body().into_vec())
            .unwrap()
    }

    fn row(i: u32, full: bool) -> Progress {
        let t = |s: i64, ns: u32| Utc.timestamp_opt(1_765_000_000 + s, ns).unwrap();
        Progress {
            id: ProgressId(Uuid::new_v4()),
            user_id: UserId(Uuid::new_v4()),
            content_id: format!("course-\"{i}\"-ünï\\cödé\u{1}\n"),
            content_type: ContentType::ALL[i as usize % ContentType::ALL.len()],
            status: ProgressStatus::ALL[i as usize % ProgressStatus::ALL.len()],
            completion_percentage: f64::from(i) * 7.25 + 0.1,
            score: full.then_some(99.999_999_9),
            metadata: if full {
                serde_json::json!({"z": 1, "a": [1.5, null, true, "x\"y"], "nested": {"k": {"j": -0.0}}, "big": 12345678901234567_u64})
            } else {
                serde_json::json!({})
            },
            started_at: full.then(|| t(1, 0)),
            completed_at: full.then(|| t(2, 123_456_789)),
            created_at: t(0, 1_000),
            updated_at: t(i64::from(i), 999_999_999),
        }
    }

    /// Every field, empty and full, `None` and `Some`, escapes, sub-second timestamps:
    /// the same bytes as poem-openapi's encoding, the same content type, the same
    /// OpenAPI description.
    #[test]
    fn progress_page_bytes_match_poem_openapi() {
        let pages = [
            ProgressList {
                count: 0,
                next: None,
                previous: None,
                results: vec![],
            },
            ProgressList {
                count: 41,
                next: Some("http://h/api/v1/progress?page=3&x=\"é\"".into()),
                previous: Some("http://h/api/v1/progress?page=1".into()),
                results: (0..20).map(|i| row(i, i % 3 != 0)).collect(),
            },
            // Floats JSON cannot hold (validation keeps them out of the store).
            ProgressList {
                count: 3,
                next: None,
                previous: None,
                results: [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
                    .into_iter()
                    .map(|x| Progress {
                        completion_percentage: x,
                        score: Some(x),
                        ..row(1, true)
                    })
                    .collect(),
            },
        ];
        for page in pages {
            let ours = Encoded(page.clone()).into_response();
            assert_eq!(ours.status(), StatusCode::OK);
            assert_eq!(
                ours.headers().get("content-type").unwrap(),
                Json::<ProgressList>::CONTENT_TYPE
            );
            let ours = futures_bytes(ours);
            let theirs = poem_bytes(page);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
        let (a, b) = (
            <Encoded<ProgressList> as ApiResponse>::meta(),
            <Json<ProgressList> as ApiResponse>::meta(),
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}
