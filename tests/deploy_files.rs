//! Static checks of the deployment files in `deploy/` (no Docker engine runs on the project's
//! machines, so they are never built or started here): `compose.yaml` parses and has every
//! service, port and health check the README's "Deployment" section names; every service has
//! a health check and waits for healthy dependencies; no value is a literal secret;
//! `haproxy.cfg` health-checks every backend with `GET /ready` and names exactly the core and
//! AI services of the compose file; the `Dockerfile` has several stages, a `HEALTHCHECK`, a
//! non-root `USER` and exposes the port the services bind.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_yaml::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The AI routes the balancer must send to the AI service (everything else goes to core).
const AI_PREFIXES: [&str; 5] = [
    "/api/v1/embeddings",
    "/api/v1/search",
    "/api/v1/recommendations",
    "/api/v1/personality",
    "/api/v1/index",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `deploy/compose.yaml` with YAML anchors and `<<` merge keys resolved (as compose does).
fn compose() -> Value {
    let mut doc: Value = serde_yaml::from_str(&read("deploy/compose.yaml"))
        .unwrap_or_else(|e| panic!("deploy/compose.yaml does not parse: {e}"));
    doc.apply_merge()
        .expect("merge keys of deploy/compose.yaml");
    doc
}

fn services(doc: &Value) -> &Mapping {
    doc.get("services")
        .and_then(Value::as_mapping)
        .expect("compose.yaml has a services mapping")
}

fn service<'a>(doc: &'a Value, name: &str) -> &'a Value {
    services(doc)
        .get(name)
        .unwrap_or_else(|| panic!("compose.yaml has no service {name:?}"))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// A service's environment, from either the mapping or the `KEY=VALUE` list form.
fn environment(svc: &Value) -> BTreeMap<String, String> {
    match svc.get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(m)) => m.iter().map(|(k, v)| (scalar(k), scalar(v))).collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| {
                let s = scalar(i);
                let (k, v) = s.split_once('=').unwrap_or((s.as_str(), ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Some(other) => panic!("environment is neither a mapping nor a list: {other:?}"),
    }
}

/// The command of a service's health check as one string (`test` as a string or a list).
fn healthcheck(svc: &Value) -> Option<String> {
    let hc = svc.get("healthcheck")?;
    if hc.get("disable").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    match hc.get("test")? {
        Value::String(s) => Some(s.clone()),
        Value::Sequence(parts) => Some(parts.iter().map(scalar).collect::<Vec<_>>().join(" ")),
        _ => None,
    }
}

/// The services running the CyberHub image (built from `deploy/Dockerfile`).
fn cyberhub_services(doc: &Value) -> BTreeMap<String, String> {
    services(doc)
        .iter()
        .filter(|(_, svc)| svc.get("build").is_some())
        .map(|(name, svc)| {
            let kind = environment(svc)
                .get("CYBERHUB_SERVICE")
                .cloned()
                .unwrap_or_else(|| "all".into());
            (scalar(name), kind)
        })
        .collect()
}

/// The port of `CYBERHUB_BIND` (`0.0.0.0:8000`).
fn bind_port(svc: &Value) -> u16 {
    let bind = environment(svc)
        .get("CYBERHUB_BIND")
        .cloned()
        .expect("every CyberHub service sets CYBERHUB_BIND");
    bind.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("CYBERHUB_BIND {bind:?} has no port"))
}

/// Container ports a service publishes (`"8080:8080"`, `"127.0.0.1:8080:80"`, long form).
fn published(svc: &Value) -> Vec<(u16, u16)> {
    let Some(Value::Sequence(ports)) = svc.get("ports") else {
        return Vec::new();
    };
    ports
        .iter()
        .map(|p| match p {
            Value::Mapping(m) => {
                let n = |k: &str| {
                    m.get(k)
                        .map(scalar)
                        .and_then(|s| s.parse().ok())
                        .expect("port number")
                };
                (n("published"), n("target"))
            }
            other => {
                let s = scalar(other);
                let parts: Vec<&str> = s.split('/').next().unwrap_or("").split(':').collect();
                let n = |s: &str| s.parse::<u16>().expect("port number");
                match parts.as_slice() {
                    [only] => (n(only), n(only)),
                    [.., host, container] => (n(host), n(container)),
                    [] => panic!("empty port {s:?}"),
                }
            }
        })
        .collect()
}

/// One row of the README's deployment table.
#[derive(Debug)]
struct Row {
    services: Vec<String>,
    port: u16,
    published: bool,
    check: String,
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The README's "## Deployment" section.
fn readme_deployment() -> String {
    let readme = read("README.md");
    let start = readme
        .find("\n## Deployment\n")
        .expect("README.md has a \"## Deployment\" section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

/// The table rows of the section whose first cell names services (`| \`core1\`, ... |`).
fn readme_rows(section: &str) -> Vec<Row> {
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            assert!(
                cells.len() >= 6,
                "README deployment row with 4 cells: {line}"
            );
            let port = cells[3]
                .split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no port in the README row {line}"));
            Row {
                services: backticked(cells[1]),
                port,
                published: cells[3].contains("published"),
                check: backticked(cells[4])
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| panic!("no health check in the README row {line}")),
            }
        })
        .collect()
}

/// Whether `v` is exactly one `${NAME...}` reference.
fn is_reference(v: &str) -> bool {
    v.starts_with("${") && v.ends_with('}') && v[2..v.len() - 1].find(['$', '}']).is_none()
}

/// A reference the operator must set: `${NAME:?message}`.
fn is_required_reference(v: &str) -> bool {
    is_reference(v) && v.contains(":?")
}

fn secret_name(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    ["SECRET", "PASS", "TOKEN", "_KEY", "AUTH", "PRIVATE"]
        .iter()
        .any(|w| k.contains(w))
}

/// What is wrong with `key=value` as a secret, if anything: a secret must come from the
/// operator's environment (`${NAME:?...}`; an optional one may default to empty, `${NAME:-}`),
/// the JWT secret always; a URL's password must be a required reference.
fn secret_problem(key: &str, value: &str) -> Option<String> {
    if secret_name(key) {
        let optional_empty = is_reference(value) && value.ends_with(":-}");
        let ok = if key.ends_with("JWT_SECRET") {
            is_required_reference(value)
        } else {
            is_required_reference(value) || optional_empty
        };
        if !ok {
            return Some(format!(
                "{key} = {value:?} is not an operator-set ${{{key}:?...}} reference"
            ));
        }
    }
    url_password_problem(value).map(|p| format!("{key}: {p}"))
}

/// A password in a `scheme://user:password@host` URL that is not `${NAME:?...}`.
fn url_password_problem(value: &str) -> Option<String> {
    let (_, rest) = value.split_once("://")?;
    let (userinfo, _) = rest.split_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!is_required_reference(password)).then(|| format!("literal password in URL {value:?}"))
}

/// Every secret problem in the compose file: environment entries, strings anywhere (URLs), and
/// the argument after a `--...pass...`/`--...secret...` flag in a command.
fn secret_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, svc) in services(doc) {
        let name = scalar(name);
        for (k, v) in environment(svc) {
            if let Some(p) = secret_problem(&k, &v) {
                problems.push(format!("{name}: {p}"));
            }
        }
        if let Some(Value::Sequence(cmd)) = svc.get("command") {
            let args: Vec<String> = cmd.iter().map(scalar).collect();
            for pair in args.windows(2) {
                if pair[0].starts_with("--")
                    && secret_name(&pair[0].replace('-', "_"))
                    && !is_required_reference(&pair[1])
                {
                    problems.push(format!("{name}: {} {:?} is a literal", pair[0], pair[1]));
                }
            }
        }
    }
    let mut strings = Vec::new();
    collect_strings(doc, &mut strings);
    for s in strings {
        if let Some(p) = url_password_problem(&s) {
            problems.push(p);
        }
    }
    problems
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Mapping(m) => m.values().for_each(|i| collect_strings(i, out)),
        Value::Tagged(t) => collect_strings(&t.value, out),
        _ => {}
    }
}

/// `haproxy.cfg` as sections (`backend core` -> its lines), comments and blank lines dropped.
fn haproxy_sections() -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in read("deploy/haproxy.cfg").lines() {
        let text = line.split('#').next().unwrap_or("").trim_end();
        if text.trim().is_empty() {
            continue;
        }
        if !text.starts_with([' ', '\t']) {
            sections.push((text.trim().to_owned(), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(text.trim().to_owned());
        }
    }
    sections
}

/// The Dockerfile's instructions (continuations joined, comments dropped), upper-cased keyword
/// and its arguments.
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read("deploy/Dockerfile").lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let full = std::mem::take(&mut current);
        let (kw, args) = full.trim().split_once(' ').unwrap_or((full.trim(), ""));
        out.push((kw.to_ascii_uppercase(), args.trim().to_owned()));
    }
    out
}

#[test]
fn readme_services_ports_and_health_checks_are_in_compose() {
    let doc = compose();
    let section = readme_deployment();
    assert!(
        section.contains("docker compose -f deploy/compose.yaml up"),
        "the README says how to start the stack"
    );
    assert!(
        section.contains("No Docker engine") && section.contains("tests/deploy_files.rs"),
        "the README says plainly that the files are only checked statically"
    );
    let rows = readme_rows(&section);
    let named: BTreeSet<String> = rows.iter().flat_map(|r| r.services.clone()).collect();
    let defined: BTreeSet<String> = services(&doc).keys().map(scalar).collect();
    assert_eq!(
        named, defined,
        "the README's table and compose.yaml name the same services"
    );

    let haproxy = read("deploy/haproxy.cfg");
    let compose_text = read("deploy/compose.yaml");
    for row in &rows {
        for name in &row.services {
            let svc = service(&doc, name);
            let check = healthcheck(svc).unwrap_or_else(|| panic!("{name} has no health check"));
            assert!(
                check.contains(&row.check),
                "{name}: the README names the health check {:?}, compose runs {check:?}",
                row.check
            );
            let ports = published(svc);
            if row.published {
                assert!(
                    ports.iter().any(|&(host, _)| host == row.port),
                    "{name} publishes port {} (README); compose: {ports:?}",
                    row.port
                );
            } else {
                assert!(
                    ports.is_empty(),
                    "{name} is internal in the README but publishes {ports:?}"
                );
                // Internal: the port is where the others reach it (a URL or the balancer).
                let at = format!("{name}:{}", row.port);
                assert!(
                    compose_text.contains(&at) || haproxy.contains(&at),
                    "nothing reaches {name} at {at} (README port) in compose.yaml or haproxy.cfg"
                );
            }
        }
    }
    for port in section
        .split("localhost:")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .filter_map(|p| p.parse::<u16>().ok())
    {
        assert!(
            services(&doc)
                .values()
                .any(|svc| published(svc).iter().any(|&(host, _)| host == port)),
            "the README uses localhost:{port}, which no service publishes"
        );
    }
}

#[test]
fn every_service_has_a_health_check_and_waits_for_healthy_dependencies() {
    let doc = compose();
    let names: BTreeSet<String> = services(&doc).keys().map(scalar).collect();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, svc) in services(&doc) {
        let name = scalar(name);
        let check = healthcheck(svc).unwrap_or_else(|| panic!("{name} has no health check"));
        assert!(!check.trim().is_empty(), "{name}: empty health check");
        let deps = match svc.get("depends_on") {
            None => Vec::new(),
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(dep, how)| {
                    let dep = scalar(dep);
                    assert_eq!(
                        how.get("condition").map(scalar).as_deref(),
                        Some("service_healthy"),
                        "{name} waits for {dep} with condition: service_healthy"
                    );
                    assert!(names.contains(&dep), "{name} depends on unknown {dep}");
                    dep
                })
                .collect(),
            Some(other) => {
                panic!("{name}: depends_on must be a mapping with conditions, not {other:?}")
            }
        };
        edges.insert(name, deps);
    }
    // No cycle (compose would refuse it): a depth-first walk from every service.
    fn visit(
        n: &str,
        edges: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        assert!(
            !path.iter().any(|p| p == n),
            "dependency cycle: {path:?} -> {n}"
        );
        if done.contains(n) {
            return;
        }
        path.push(n.to_owned());
        for d in edges.get(n).into_iter().flatten() {
            visit(d, edges, path, done);
        }
        path.pop();
        done.insert(n.to_owned());
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        visit(n, &edges, &mut Vec::new(), &mut done);
    }
    // The CyberHub services run in production mode with the JWT secret from the operator.
    let ours = cyberhub_services(&doc);
    assert!(
        ours.values().any(|k| k == "core") && ours.values().any(|k| k == "ai"),
        "compose runs core and ai services: {ours:?}"
    );
    assert!(
        ours.values().filter(|k| *k == "core").count() >= 2,
        "several core instances: {ours:?}"
    );
    for name in ours.keys() {
        let env = environment(service(&doc, name));
        assert_eq!(
            env.get("CYBERHUB_MODE").map(String::as_str),
            Some("production"),
            "{name}"
        );
        assert!(
            env.get("CYBERHUB_JWT_SECRET")
                .is_some_and(|v| is_required_reference(v)),
            "{name}: CYBERHUB_JWT_SECRET must be ${{CYBERHUB_JWT_SECRET:?...}}"
        );
    }
}

#[test]
fn no_literal_secret_in_compose() {
    let problems = secret_problems(&compose());
    assert!(problems.is_empty(), "literal secrets: {problems:#?}");
}

/// The secret check itself catches what it must (so that the test above can fail).
#[test]
fn the_secret_check_catches_literals() {
    for (k, v) in [
        ("CYBERHUB_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("CYBERHUB_JWT_SECRET", "${CYBERHUB_JWT_SECRET:-changeme}"),
        ("CYBERHUB_JWT_SECRET", "${CYBERHUB_JWT_SECRET:-}"),
        ("CYBERHUB_JWT_SECRET", "${CYBERHUB_JWT_SECRET}"),
        ("POSTGRES_PASSWORD", "postgres"),
        ("POSTGRES_PASSWORD", "${POSTGRES_PASSWORD:-postgres}"),
        (
            "CYBERHUB_DATABASE_URL",
            "postgres://cyberhub:hunter2@postgres:5432/cyberhub",
        ),
        ("CYBERHUB_REDIS_URL", "redis://:hunter2@redis:6379"),
        (
            "CYBERHUB_REDIS_URL",
            "redis://:${REDIS_PASSWORD:-x}@redis:6379",
        ),
    ] {
        assert!(secret_problem(k, v).is_some(), "{k}={v} must be refused");
    }
    for (k, v) in [
        ("CYBERHUB_JWT_SECRET", "${CYBERHUB_JWT_SECRET:?set it}"),
        ("CYBERHUB_ADMIN_PASSWORD", "${CYBERHUB_ADMIN_PASSWORD:-}"),
        (
            "CYBERHUB_DATABASE_URL",
            "postgres://u:${PW:?set PW}@postgres:5432/db",
        ),
        ("CYBERHUB_PUBLIC_URL", "http://localhost:8080"),
        ("CYBERHUB_MODE", "production"),
    ] {
        assert_eq!(secret_problem(k, v), None, "{k}={v} is fine");
    }
    let doc: Value = serde_yaml::from_str(
        "services:\n  redis:\n    command: [\"redis-server\", \"--requirepass\", \"hunter2\"]\n",
    )
    .unwrap();
    assert_eq!(secret_problems(&doc).len(), 1);
}

#[test]
fn haproxy_checks_ready_on_every_core_and_ai_service() {
    let doc = compose();
    let ours = cyberhub_services(&doc);
    let sections = haproxy_sections();
    let default_check = sections.iter().any(|(name, lines)| {
        name.starts_with("defaults")
            && lines.iter().any(|l| {
                l.starts_with("default-server") && l.split_whitespace().any(|w| w == "check")
            })
    });
    let mut backends: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, lines) in sections.iter().filter(|(n, _)| n.starts_with("backend ")) {
        let backend = name["backend ".len()..].trim().to_owned();
        let ready = lines.iter().any(|l| {
            l == "option httpchk GET /ready"
                || (l.starts_with("http-check send")
                    && l.contains("meth GET")
                    && l.contains("uri /ready"))
        });
        assert!(
            ready && lines.iter().any(|l| l.starts_with("option httpchk")),
            "backend {backend} health-checks GET /ready"
        );
        let backend_check = lines
            .iter()
            .any(|l| l.starts_with("default-server") && l.split_whitespace().any(|w| w == "check"));
        for l in lines.iter().filter(|l| l.starts_with("server ")) {
            let words: Vec<&str> = l.split_whitespace().collect();
            let addr = words.get(2).unwrap_or_else(|| panic!("server line {l:?}"));
            let (host, port) = addr.rsplit_once(':').expect("server host:port");
            assert!(
                default_check || backend_check || words.contains(&"check"),
                "backend {backend}: server {host} is health-checked"
            );
            let kind = ours
                .get(host)
                .unwrap_or_else(|| panic!("backend {backend}: {host} is not a CyberHub service"));
            assert_eq!(
                port.parse::<u16>().ok(),
                Some(bind_port(service(&doc, host))),
                "backend {backend}: {host}'s port is the one it binds"
            );
            assert!(
                kind == "core" || kind == "ai",
                "{host} is core or ai, not {kind}"
            );
            backends
                .entry(backend.clone())
                .or_default()
                .insert(host.to_owned());
        }
    }
    let balanced: BTreeSet<String> = backends.values().flatten().cloned().collect();
    let expected: BTreeSet<String> = ours
        .iter()
        .filter(|(_, k)| *k == "core" || *k == "ai")
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(
        balanced, expected,
        "haproxy names every core and ai service"
    );
    for (backend, hosts) in &backends {
        let kinds: BTreeSet<&String> = hosts.iter().map(|h| &ours[h]).collect();
        assert_eq!(
            kinds.len(),
            1,
            "backend {backend} mixes service kinds: {hosts:?}"
        );
    }
    let backend_of = |kind: &str| {
        backends
            .iter()
            .find(|(_, hosts)| hosts.iter().all(|h| ours[h] == kind))
            .map(|(b, _)| b.clone())
            .unwrap_or_else(|| panic!("no backend for the {kind} services"))
    };
    let (ai, core) = (backend_of("ai"), backend_of("core"));

    // The frontend: the port the lb publishes, AI routes to `ai`, the rest to core.
    let (_, frontend) = sections
        .iter()
        .find(|(n, _)| n.starts_with("frontend "))
        .expect("a frontend section");
    let bind_port: u16 = frontend
        .iter()
        .find_map(|l| l.strip_prefix("bind "))
        .and_then(|b| b.split_whitespace().next())
        .and_then(|b| b.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .expect("frontend bind :PORT");
    let lb = services(&doc)
        .iter()
        .find(|(_, svc)| {
            svc.get("image")
                .map(scalar)
                .is_some_and(|i| i.starts_with("haproxy"))
        })
        .map(|(_, svc)| svc)
        .expect("an haproxy service");
    assert!(
        published(lb).iter().any(|&(_, target)| target == bind_port),
        "the lb publishes the frontend's port {bind_port}: {:?}",
        published(lb)
    );
    let mounts: Vec<String> = lb
        .get("volumes")
        .and_then(Value::as_sequence)
        .map(|v| v.iter().map(scalar).collect())
        .unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./haproxy.cfg:") && m.contains("/haproxy.cfg")),
        "the lb mounts deploy/haproxy.cfg: {mounts:?}"
    );
    let acls: BTreeMap<String, Vec<String>> = frontend
        .iter()
        .filter_map(|l| l.strip_prefix("acl "))
        .map(|l| {
            let words: Vec<String> = l.split_whitespace().map(str::to_owned).collect();
            (words[0].clone(), words[1..].to_vec())
        })
        .collect();
    let routed_to_ai: Vec<&String> = frontend
        .iter()
        .filter_map(|l| l.strip_prefix(&format!("use_backend {ai} if ")))
        .flat_map(|cond| cond.split_whitespace())
        .filter_map(|acl| acls.get(acl))
        .flatten()
        .collect();
    for prefix in AI_PREFIXES {
        assert!(
            routed_to_ai.iter().any(|w| *w == prefix),
            "{prefix} is routed to backend {ai}: {routed_to_ai:?}"
        );
    }
    assert!(
        frontend.contains(&format!("default_backend {core}")),
        "everything else goes to backend {core}"
    );
    // The AI service reaches core through the balancer or a core instance.
    for (name, _) in ours.iter().filter(|(_, k)| *k == "ai") {
        let url = environment(service(&doc, name))
            .get("CYBERHUB_CORE_URL")
            .cloned()
            .unwrap_or_else(|| panic!("{name} sets CYBERHUB_CORE_URL"));
        let host = url
            .split_once("://")
            .and_then(|(_, r)| r.split([':', '/']).next())
            .unwrap_or("");
        let lb_name = services(&doc)
            .iter()
            .find(|(_, s)| std::ptr::eq(*s, lb))
            .map(|(n, _)| scalar(n))
            .unwrap_or_default();
        assert!(
            host == lb_name || ours.get(host).is_some_and(|k| k == "core"),
            "{name}: CYBERHUB_CORE_URL {url:?} names the balancer or a core service"
        );
    }

    // Where HAProxy is installed (the multi-instance tests use it), it validates the file.
    match std::process::Command::new("haproxy")
        .args(["-c", "-f"])
        .arg(root().join("deploy/haproxy.cfg"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "haproxy -c refuses deploy/haproxy.cfg:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("haproxy is not installed: deploy/haproxy.cfg checked statically only")
        }
        Err(e) => panic!("haproxy -c: {e}"),
    }
}

#[test]
fn dockerfile_is_multi_stage_healthy_non_root_and_exposes_the_served_port() {
    let doc = compose();
    let instructions = dockerfile();
    let froms: Vec<usize> = instructions
        .iter()
        .enumerate()
        .filter(|(_, (kw, _))| kw == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert!(
        froms.len() >= 2,
        "at least two FROM stages, got {}",
        froms.len()
    );
    let last_stage = &instructions[*froms.last().unwrap()..];
    let last = |kw: &str| {
        last_stage
            .iter()
            .rev()
            .find(|(k, _)| k == kw)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("the runtime stage has no {kw}"))
    };
    let health = last("HEALTHCHECK");
    assert!(
        health.contains("/ready"),
        "HEALTHCHECK asks /ready: {health}"
    );
    let user = last("USER");
    let uid = user.split(':').next().unwrap_or("");
    assert!(
        !uid.is_empty() && uid != "root" && uid != "0",
        "the runtime user is not root: {user}"
    );
    let exposed: BTreeSet<u16> = last_stage
        .iter()
        .filter(|(k, _)| k == "EXPOSE")
        .flat_map(|(_, a)| a.split_whitespace())
        .filter_map(|p| p.split('/').next()?.parse().ok())
        .collect();
    let ours = cyberhub_services(&doc);
    for name in ours.keys() {
        let svc = service(&doc, name);
        let port = bind_port(svc);
        assert!(
            exposed.contains(&port),
            "{name} binds {port}, the image exposes {exposed:?}"
        );
        let build = svc.get("build").expect("build");
        let context = build
            .get("context")
            .map(scalar)
            .unwrap_or_else(|| ".".into());
        let dockerfile = build
            .get("dockerfile")
            .map(scalar)
            .unwrap_or_else(|| "Dockerfile".into());
        let path = root().join("deploy").join(&context).join(&dockerfile);
        assert_eq!(
            std::fs::canonicalize(&path).ok(),
            std::fs::canonicalize(root().join("deploy/Dockerfile")).ok(),
            "{name} builds deploy/Dockerfile (context {context:?}, dockerfile {dockerfile:?})"
        );
    }
    let command = format!("{} {}", last("ENTRYPOINT"), last("CMD"));
    assert!(
        command.contains("cyberhub-server") && command.contains("serve"),
        "the image runs cyberhub-server serve: {command}"
    );
    // Every COPY --from names an earlier stage.
    let stages: Vec<String> = froms
        .iter()
        .filter_map(|&i| {
            let args = &instructions[i].1;
            let words: Vec<&str> = args.split_whitespace().collect();
            let pos = words.iter().position(|w| w.eq_ignore_ascii_case("AS"))?;
            words.get(pos + 1).map(|s| (*s).to_owned())
        })
        .collect();
    for (_, args) in instructions.iter().filter(|(k, _)| k == "COPY") {
        if let Some(from) = args
            .split_whitespace()
            .find_map(|w| w.strip_prefix("--from="))
        {
            assert!(
                stages.iter().any(|s| s == from),
                "COPY --from={from}: no such stage"
            );
        }
    }
}
