//! The dashboard at `/`: a static page (compiled into the binary) that uses the browser SDK,
//! and the SDK itself under `/sdk/`, read from [`Config::sdk_dir`](crate::Config::sdk_dir)
//! (the `--target web` package `scripts/build-sdk.sh` writes).

use poem::endpoint::make_sync;
use poem::http::{header, StatusCode};
use poem::web::Path;
use poem::{get, handler, Response, Route};
use std::path::PathBuf;

const INDEX_HTML: &str = include_str!("../dashboard/index.html");
const APP_JS: &str = include_str!("../dashboard/app.js");
const STYLE_CSS: &str = include_str!("../dashboard/style.css");

/// The SDK files the page may load, with their content types.
const SDK_FILES: &[(&str, &str)] = &[
    ("cyberhub_wasm.js", "text/javascript; charset=utf-8"),
    ("cyberhub_wasm_bg.wasm", "application/wasm"),
    (
        "cyberhub_wasm.d.ts",
        "application/typescript; charset=utf-8",
    ),
    ("package.json", "application/json"),
];

fn asset(content_type: &'static str, body: &'static str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
}

fn not_found(detail: String) -> Response {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .content_type("application/json")
        .body(serde_json::json!({ "detail": detail }).to_string())
}

#[handler]
async fn sdk_file(Path(name): Path<String>, dir: poem::web::Data<&SdkDir>) -> Response {
    let Some((file, content_type)) = SDK_FILES.iter().find(|(f, _)| *f == name) else {
        return not_found(format!("No SDK file named {name:?}."));
    };
    let path = dir.0 .0.join(file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => Response::builder()
            .content_type(*content_type)
            .header(header::CACHE_CONTROL, "no-cache")
            .body(bytes),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "browser SDK file missing");
            not_found(format!(
                "The browser SDK is not built here ({} is missing): run `bash scripts/build-sdk.sh` or set CYBERHUB_SDK_DIR.",
                path.display()
            ))
        }
    }
}

#[derive(Clone)]
struct SdkDir(PathBuf);

/// Adds the page (`/`, `/dashboard/*`) and the SDK (`/sdk/*`) to `route`.
pub fn mount(route: Route, sdk_dir: PathBuf) -> Route {
    route
        .at(
            "/",
            get(make_sync(|_| asset("text/html; charset=utf-8", INDEX_HTML))),
        )
        .at(
            "/dashboard/app.js",
            get(make_sync(|_| {
                asset("text/javascript; charset=utf-8", APP_JS)
            })),
        )
        .at(
            "/dashboard/style.css",
            get(make_sync(|_| asset("text/css; charset=utf-8", STYLE_CSS))),
        )
        .at(
            "/sdk/:name",
            get(poem::EndpointExt::data(sdk_file, SdkDir(sdk_dir))),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::test::TestClient;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cyberhub-dashboard-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn serves_the_page_and_the_built_sdk() {
        let dir = temp_dir("built");
        std::fs::write(dir.join("cyberhub_wasm.js"), "export default 1;").unwrap();
        std::fs::write(dir.join("cyberhub_wasm_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
        let cli = TestClient::new(mount(Route::new(), dir.clone()));

        let page = cli.get("/").send().await;
        page.assert_status_is_ok();
        page.assert_content_type("text/html; charset=utf-8");
        page.assert_text(INDEX_HTML).await;
        cli.get("/dashboard/app.js")
            .send()
            .await
            .assert_text(APP_JS)
            .await;

        let js = cli.get("/sdk/cyberhub_wasm.js").send().await;
        js.assert_content_type("text/javascript; charset=utf-8");
        js.assert_text("export default 1;").await;
        let wasm = cli.get("/sdk/cyberhub_wasm_bg.wasm").send().await;
        wasm.assert_content_type("application/wasm");
        wasm.assert_bytes(b"\0asm\x01\0\0\0".to_vec()).await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_missing_sdk_or_another_file_is_a_json_404() {
        let dir = temp_dir("missing");
        let cli = TestClient::new(mount(Route::new(), dir.clone()));
        let missing = cli.get("/sdk/cyberhub_wasm.js").send().await;
        missing.assert_status(StatusCode::NOT_FOUND);
        let body: serde_json::Value = missing.json().await.value().deserialize();
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .contains("scripts/build-sdk.sh"));

        // Only the package's own files are served: no path tricks reach the disk.
        std::fs::write(dir.join("secret.txt"), "no").unwrap();
        for name in ["secret.txt", "..%2Fsecret.txt", "%2E%2E"] {
            let r = cli.get(format!("/sdk/{name}")).send().await;
            r.assert_status(StatusCode::NOT_FOUND);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
