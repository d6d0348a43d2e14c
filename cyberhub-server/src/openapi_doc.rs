//! Corrections to the OpenAPI document poem-openapi generates, applied wherever the
//! document leaves the server (`/api/v1/openapi.json`, `cyberhub-server openapi`).

use serde_json::Value;

/// Marks every optional property of an object schema (not `required`, no `default`)
/// `nullable: true`.
///
/// The API writes a missing value as `null` (`"track": null`, `"next": null`), which OpenAPI
/// 3.0 allows only for `nullable` properties; without the mark, strict generated clients
/// (openapi-python-client, for one) refuse the answers. A property wrapped as
/// `allOf: [{$ref}, {description}]` keeps its wrapper and gets the mark beside it.
pub fn mark_nullable_optionals(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(spec) else {
        return spec.to_owned();
    };
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in schemas.values_mut() {
            mark_object(schema);
        }
    }
    bound_page_parameters(&mut doc);
    forbid_unknown_request_properties(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned())
}

/// Marks every object schema a request body can reach `additionalProperties: false`: every
/// request type refuses unknown fields (`deny_unknown_fields`: a typo is a 400, not a
/// silently ignored setting), and generated clients and spec-driven testers must know.
fn forbid_unknown_request_properties(doc: &mut Value) {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    if let Some(name) = r.strip_prefix("#/components/schemas/") {
                        out.push(name.to_owned());
                    }
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for op in paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|i| i.values())
        {
            if let Some(body) = op.get("requestBody") {
                refs(body, &mut todo);
            }
        }
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(schema) = schemas.get_mut(&name) else {
            continue;
        };
        refs(schema, &mut todo);
        if let Some(obj) = schema.as_object_mut() {
            if obj.get("type").and_then(Value::as_str) == Some("object") {
                obj.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
    }
}

/// Documents the bounds the server enforces on `page` (from 1) and `page_size` (1 to
/// [`Page::MAX_SIZE`](cyberhub_domain::Page::MAX_SIZE)): clients generated from the document
/// (and spec-driven testers) must not send values the server refuses.
fn bound_page_parameters(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            for p in params {
                let name = p.get("name").and_then(Value::as_str).map(str::to_owned);
                let Some(schema) = p.get_mut("schema").and_then(Value::as_object_mut) else {
                    continue;
                };
                match name.as_deref() {
                    Some("page") => {
                        schema.insert("minimum".into(), 1.into());
                    }
                    Some("page_size") => {
                        schema.insert("minimum".into(), 1.into());
                        schema.insert("maximum".into(), cyberhub_domain::Page::MAX_SIZE.into());
                    }
                    _ => {}
                }
            }
        }
    }
}

fn mark_object(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let required: Vec<String> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, prop) in props.iter_mut() {
        let Some(p) = prop.as_object_mut() else {
            continue;
        };
        if required.iter().any(|r| r == name) || p.contains_key("default") {
            continue;
        }
        p.insert("nullable".into(), Value::Bool(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_nullable_and_nothing_else_changes() {
        let spec = r##"{"openapi":"3.0.0","paths":{},"components":{"schemas":{
            "A":{"type":"object","required":["id"],"properties":{
                "id":{"type":"string"},
                "note":{"type":"string"},
                "tags":{"type":"array","default":[],"items":{"type":"string"}},
                "track":{"allOf":[{"$ref":"#/components/schemas/T"},{"description":"d"}]}}},
            "T":{"type":"string","enum":["x"]}}}}"##;
        let out: Value = serde_json::from_str(&mark_nullable_optionals(spec)).unwrap();
        let props = &out["components"]["schemas"]["A"]["properties"];
        assert_eq!(props["note"]["nullable"], true);
        assert_eq!(props["track"]["nullable"], true);
        assert!(
            props["id"].get("nullable").is_none(),
            "required stays non-null"
        );
        assert!(
            props["tags"].get("nullable").is_none(),
            "defaulted stays non-null"
        );
        assert_eq!(out["components"]["schemas"]["T"]["enum"][0], "x");
    }

    #[test]
    fn keeps_the_document_order() {
        let spec = r#"{"openapi":"3.0.0","info":{},"paths":{"/b":{},"/a":{}}}"#;
        let out = mark_nullable_optionals(spec);
        assert!(out.find("\"openapi\"") < out.find("\"info\""));
        assert!(out.find("\"/b\"") < out.find("\"/a\""));
    }
}
