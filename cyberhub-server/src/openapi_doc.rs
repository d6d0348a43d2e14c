//! Corrections to the OpenAPI document poem-openapi generates, applied wherever the
//! document leaves the server (`/api/v1/openapi.json`, `cyberhub-server openapi`): the
//! document states what the server enforces, so that generated clients and spec-driven
//! testers (schemathesis, in `scripts/schemathesis.sh`) can trust it.

mod rules;

use serde_json::{json, Value};

/// The finished document: every pass below over poem-openapi's `spec`.
///
/// - optional properties are `nullable` (the API writes a missing value as `null`);
/// - each property and parameter the domain validates gets its bounds, pattern or
///   enumeration ([`rules`]);
/// - integers get the bounds of their format (a `uint32` is 0..=4294967295: the server
///   cannot read more);
/// - every string a request can carry refuses NUL (PostgreSQL cannot store it; the server
///   answers 400 on every backend);
/// - every operation with a body documents `415` (a body that is not JSON);
/// - every object a request body reaches is `additionalProperties: false`.
pub fn finish(spec: &str) -> String {
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
    apply_rules(&mut doc, &rules::rules());
    bound_integer_formats(&mut doc);
    let request_schemas = request_schemas(&doc);
    forbid_nul_in_requests(&mut doc, &request_schemas);
    forbid_unknown_request_properties(&mut doc, &request_schemas);
    document_unsupported_media_type(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned())
}

/// Merges each rule's keywords into its target (see [`rules::rules`] for the targets).
fn apply_rules(doc: &mut Value, rules: &[(&'static str, Value)]) {
    for (target, keywords) in rules {
        let Some(keywords) = keywords.as_object() else {
            continue;
        };
        let merge = |schema: &mut Value| {
            if let Some(obj) = schema.as_object_mut() {
                obj.extend(keywords.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        };
        if let Some((op_id, param)) = target.split_once('?') {
            for_each_parameter(doc, |op, name, schema| {
                let op_matches = op_id.is_empty()
                    || op.get("operationId").and_then(Value::as_str) == Some(op_id);
                if op_matches && name == param {
                    merge(schema);
                }
            });
        } else if let Some((schema, property)) = target.split_once('.') {
            let (property, items) = match property.strip_suffix("[]") {
                Some(p) => (p, true),
                None => (property, false),
            };
            let pointer = format!("/components/schemas/{schema}/properties/{property}");
            let pointer = if items {
                format!("{pointer}/items")
            } else {
                pointer
            };
            if let Some(s) = doc.pointer_mut(&pointer) {
                merge(s);
            }
        }
    }
}

/// Calls `f(operation, parameter name, parameter schema)` for every parameter.
fn for_each_parameter(doc: &mut Value, mut f: impl FnMut(&Value, &str, &mut Value)) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut() {
            let Some(mut params) = op.get_mut("parameters").map(Value::take) else {
                continue;
            };
            for p in params.as_array_mut().into_iter().flatten() {
                let name = p
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if let Some(schema) = p.get_mut("schema") {
                    f(op, &name, schema);
                }
            }
            if let Some(o) = op.as_object_mut() {
                o.insert("parameters".into(), params);
            }
        }
    }
}

/// Calls `f` on every schema object under `v` (itself included).
fn walk_schemas(v: &mut Value, f: &mut impl FnMut(&mut serde_json::Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            f(m);
            m.values_mut().for_each(|x| walk_schemas(x, f));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk_schemas(x, f)),
        _ => {}
    }
}

/// Adds the range of an integer's `format` where no tighter bound is given.
fn bound_integer_formats(doc: &mut Value) {
    walk_schemas(doc, &mut |m| {
        if m.get("type").and_then(Value::as_str) != Some("integer") {
            return;
        }
        let (lo, hi): (Value, Value) = match m.get("format").and_then(Value::as_str) {
            Some("uint8") => (0.into(), u8::MAX.into()),
            Some("uint16") => (0.into(), u16::MAX.into()),
            Some("uint32") => (0.into(), u32::MAX.into()),
            Some("uint64") => (0.into(), u64::MAX.into()),
            Some("int8") => (i8::MIN.into(), i8::MAX.into()),
            Some("int16") => (i16::MIN.into(), i16::MAX.into()),
            Some("int32") => (i32::MIN.into(), i32::MAX.into()),
            Some("int64") => (i64::MIN.into(), i64::MAX.into()),
            _ => return,
        };
        m.entry("minimum").or_insert(lo);
        m.entry("maximum").or_insert(hi);
    });
}

/// Gives every string a request can carry (body properties, parameters) without a pattern,
/// format or enumeration of its own the pattern "no NUL".
fn forbid_nul_in_requests(doc: &mut Value, request_schemas: &[String]) {
    let mut mark = |m: &mut serde_json::Map<String, Value>| {
        let is_string = m.get("type").and_then(Value::as_str) == Some("string");
        if is_string
            && !["pattern", "format", "enum"]
                .iter()
                .any(|k| m.contains_key(*k))
        {
            m.insert("pattern".into(), rules::NO_NUL.into());
        }
    };
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for name in request_schemas {
            if let Some(s) = schemas.get_mut(name) {
                walk_schemas(s, &mut mark);
            }
        }
    }
    for_each_parameter(doc, |_, _, schema| walk_schemas(schema, &mut mark));
}

/// Documents `415` on every operation with a body: a body that is not JSON (or none).
fn document_unsupported_media_type(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for op in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        if op.get("requestBody").is_none() {
            continue;
        }
        let media = op
            .pointer("/responses/400/content")
            .and_then(Value::as_object)
            .and_then(|c| c.keys().next().cloned())
            .unwrap_or_else(|| "application/json; charset=utf-8".into());
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            responses.entry("415").or_insert_with(|| {
                json!({
                    "description": "The body is missing or not JSON (`Content-Type: application/json`).",
                    "content": {
                        media: { "schema": { "$ref": "#/components/schemas/ErrorBody" } }
                    }
                })
            });
        }
    }
}

/// The component schemas a request body can reach.
fn request_schemas(doc: &Value) -> Vec<String> {
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
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = doc.pointer(&format!("/components/schemas/{name}")) {
            refs(schema, &mut todo);
        }
    }
    seen.into_iter().collect()
}

/// Marks every object schema a request body can reach `additionalProperties: false`: every
/// request type refuses unknown fields (`deny_unknown_fields`: a typo is a 400, not a
/// silently ignored setting), and generated clients and spec-driven testers must know.
fn forbid_unknown_request_properties(doc: &mut Value, request_schemas: &[String]) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for name in request_schemas {
        if let Some(obj) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            if obj.get("type").and_then(Value::as_str) == Some("object") {
                obj.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
    }
}

/// Marks every optional property of an object schema (not `required`, no `default`)
/// `nullable: true`.
///
/// The API writes a missing value as `null` (`"track": null`, `"next": null`), which OpenAPI
/// 3.0 allows only for `nullable` properties; without the mark, strict generated clients
/// (openapi-python-client, for one) refuse the answers. A property wrapped as
/// `allOf: [{$ref}, {description}]` keeps its wrapper and gets the mark beside it.
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
        let out: Value = serde_json::from_str(&finish(spec)).unwrap();
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
    fn requests_get_bounds_nul_free_strings_and_415() {
        let spec = r##"{"openapi":"3.0.0","paths":{
            "/x":{"post":{"operationId":"x",
                "parameters":[{"name":"q","in":"query","schema":{"type":"string"}},
                              {"name":"page","in":"query","schema":{"type":"integer","format":"uint32"}}],
                "requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/In"}}}},
                "responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Out"}}}}}}},
            "/y":{"get":{"responses":{}}}},
            "components":{"schemas":{
            "In":{"type":"object","properties":{"s":{"type":"string"},"id":{"type":"string","format":"uuid"},
                "n":{"type":"integer","format":"uint32","minimum":1}}},
            "Out":{"type":"object","properties":{"s":{"type":"string"},"n":{"type":"integer","format":"int32"}}}}}}"##;
        let out: Value = serde_json::from_str(&finish(spec)).unwrap();
        let s = &out["components"]["schemas"];
        assert_eq!(s["In"]["properties"]["s"]["pattern"], rules::NO_NUL);
        assert!(
            s["In"]["properties"]["id"].get("pattern").is_none(),
            "a uuid needs none"
        );
        assert!(
            s["Out"]["properties"]["s"].get("pattern").is_none(),
            "answers are not requests"
        );
        assert_eq!(
            s["In"]["properties"]["n"]["minimum"], 1,
            "a tighter bound stays"
        );
        assert_eq!(s["In"]["properties"]["n"]["maximum"], u32::MAX);
        assert_eq!(s["Out"]["properties"]["n"]["minimum"], i32::MIN);
        assert_eq!(s["In"]["additionalProperties"], false);
        assert!(s["Out"].get("additionalProperties").is_none());
        let op = &out["paths"]["/x"]["post"];
        assert_eq!(op["parameters"][0]["schema"]["pattern"], rules::NO_NUL);
        assert_eq!(
            op["parameters"][1]["schema"]["minimum"], 1,
            "?page from the rules"
        );
        assert_eq!(
            op["parameters"][1]["schema"]["maximum"],
            cyberhub_domain::Page::MAX_NUMBER
        );
        assert_eq!(
            op["responses"]["415"]["content"]["application/json; charset=utf-8"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert!(out["paths"]["/y"]["get"]["responses"].get("415").is_none());
    }

    #[test]
    fn every_rule_names_something_in_the_committed_document() {
        let doc: Value = serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap();
        let mut params = Vec::new();
        for op in doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|i| i.as_object().unwrap().values())
        {
            for p in op["parameters"].as_array().into_iter().flatten() {
                params.push((
                    op["operationId"].as_str().unwrap_or("").to_owned(),
                    p["name"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
        for (target, _) in rules::rules() {
            let found = if let Some((op, name)) = target.split_once('?') {
                params
                    .iter()
                    .any(|(o, n)| n == name && (op.is_empty() || o == op))
            } else {
                let (schema, prop) = target.split_once('.').unwrap();
                let prop = prop.trim_end_matches("[]");
                doc["components"]["schemas"][schema]["properties"]
                    .get(prop)
                    .is_some()
            };
            assert!(found, "rule {target} names nothing in docs/openapi.json");
        }
    }

    #[test]
    fn keeps_the_document_order() {
        let spec = r#"{"openapi":"3.0.0","info":{},"paths":{"/b":{},"/a":{}}}"#;
        let out = finish(spec);
        assert!(out.find("\"openapi\"") < out.find("\"info\""));
        assert!(out.find("\"/b\"") < out.find("\"/a\""));
    }
}
