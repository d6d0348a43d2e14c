//! all-MiniLM-L6-v2 through ONNX Runtime (via `fastembed`): the fp32 ONNX graph built from the
//! same safetensors (`scripts/build-fp32-onnx.sh`), mean pooling, L2 normalisation. The
//! runtime library (`libonnxruntime.so` ≥ 1.24) is loaded from a path at run time: nothing is
//! linked or downloaded at build time.

use crate::embedder::{check_batch, Embedder, InferencePool};
use crate::{AiError, AiErrorKind, Result, MINILM_DIMENSION, MINILM_MODEL_ID};
use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The ONNX model file inside the model directory.
pub const ONNX_FILE: &str = "model_fp32.onnx";

/// The fastembed embedder (see the module docs).
#[derive(Clone)]
pub struct FastembedEmbedder {
    model: Arc<Mutex<TextEmbedding>>,
    pool: InferencePool,
    dir: PathBuf,
}

impl std::fmt::Debug for FastembedEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastembedEmbedder")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn missing(dir: &Path, what: &str) -> AiError {
    AiError::new(
        AiErrorKind::ModelMissing,
        format!(
            "the ONNX embedding model is not usable in {} ({what}); fetch it with \
             `bash scripts/fetch-model.sh {} --onnxruntime && bash scripts/build-fp32-onnx.sh {}`",
            dir.display(),
            dir.display(),
            dir.display()
        ),
    )
}

impl FastembedEmbedder {
    /// Loads `dir/model_fp32.onnx` and the tokenizer files, with ONNX Runtime from
    /// `runtime_library` (e.g. `dir/lib/libonnxruntime.so`). Blocking.
    pub fn load(dir: &Path, runtime_library: &Path, pool: InferencePool) -> Result<Self> {
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(|_| missing(dir, name));
        let files = TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let model =
            UserDefinedEmbeddingModel::new(read(ONNX_FILE)?, files).with_pooling(Pooling::Mean);
        if !runtime_library.is_file() {
            return Err(missing(
                dir,
                &format!("no ONNX Runtime library at {}", runtime_library.display()),
            ));
        }
        let env = ort::init_from(runtime_library)
            .map_err(|e| missing(dir, "ONNX Runtime did not load").with_source(Box::new(e)))?
            .build()
            .map_err(|e| missing(dir, "ONNX Runtime did not start").with_source(Box::new(e)))?;
        let opts = InitOptionsUserDefined::new()
            .with_max_length(256)
            .with_environment(env);
        let te = TextEmbedding::try_new_from_user_defined(model, opts)
            .map_err(|e| missing(dir, "the ONNX model did not load").with_source(e))?;
        Ok(Self {
            model: Arc::new(Mutex::new(te)),
            pool,
            dir: dir.to_owned(),
        })
    }
}

#[async_trait::async_trait]
impl Embedder for FastembedEmbedder {
    fn model_id(&self) -> &str {
        MINILM_MODEL_ID
    }

    fn dimension(&self) -> usize {
        MINILM_DIMENSION
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        check_batch(texts)?;
        let model = self.model.clone();
        let texts = texts.to_vec();
        self.pool
            .run(move || {
                let mut m = model.lock().unwrap_or_else(PoisonError::into_inner);
                m.embed(&texts, Some(32)).map_err(|e| {
                    AiError::new(AiErrorKind::Internal, "embedding inference failed").with_source(e)
                })
            })
            .await
    }
}
