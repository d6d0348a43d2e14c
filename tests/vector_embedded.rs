//! The vector conformance suite on the embedded backend (a temporary directory per case),
//! plus what only the embedded backend promises: acknowledged writes survive `kill -9`, a
//! torn log tail is repaired, and one process owns a directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may fail loudly

use cyberhub_vector::conformance::Harness;
use cyberhub_vector::{
    CollectionSpec, Distance, DynVectorStore, EmbeddedStore, Payload, Point, SearchRequest,
    VectorErrorKind, VectorStore,
};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::Arc;

struct Embedded(PathBuf);

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("cyberhub-vec-{}", uuid::Uuid::new_v4().simple()))
}

#[async_trait::async_trait]
impl Harness for Embedded {
    async fn open(&self) -> DynVectorStore {
        // Through the URL, as the server does.
        cyberhub_vector::open(&format!("embedded://{}", self.0.display()))
            .await
            .unwrap()
    }
}

async fn embedded() -> Option<Embedded> {
    Some(Embedded(temp_dir()))
}

cyberhub_vector::vector_conformance_tests!(embedded);

fn vec_for(i: u64) -> Vec<f32> {
    (0..16)
        .map(|j| ((i * 31 + j * 7) % 17) as f32 + 1.0)
        .collect()
}

/// Child mode: write batches forever, printing each acknowledged batch's last id.
#[tokio::test]
async fn writer_child() {
    let Ok(dir) = std::env::var("CYBERHUB_VECTOR_KILL_DIR") else {
        return; // only runs when the kill test starts it
    };
    let store = EmbeddedStore::open(&dir).await.unwrap();
    let spec = CollectionSpec::new("crash", 16, Distance::Cosine);
    store.create_collection(&spec).await.unwrap();
    let mut out = std::io::stdout();
    for b in 0u64.. {
        let batch: Vec<Point> = (0..20)
            .map(|i| {
                Point::new(
                    uuid::Uuid::from_u64_pair(7, b * 20 + i),
                    vec_for(b * 20 + i),
                    Payload::default(),
                )
            })
            .collect();
        store.upsert("crash", batch).await.unwrap();
        writeln!(out, "ACK {}", b * 20 + 19).unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = temp_dir();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
        .env("CYBERHUB_VECTOR_KILL_DIR", &dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0u64;
    let mut seen = 0;
    while let Some(Ok(line)) = lines.next() {
        if let Some(n) = line.strip_prefix("ACK ") {
            acked = n.parse().unwrap();
            seen += 1;
            if seen == 30 {
                break;
            }
        }
    }
    assert_eq!(seen, 30, "the writer child did not get going");
    child.kill().unwrap(); // SIGKILL: no destructors, no flush
    child.wait().unwrap();

    let store = EmbeddedStore::open(&dir).await.unwrap();
    let count = store.count("crash", None).await.unwrap();
    assert!(
        count > acked,
        "every acknowledged point survives: {count} stored, {} acknowledged",
        acked + 1
    );
    for i in [0, acked / 2, acked] {
        let p = store
            .get("crash", uuid::Uuid::from_u64_pair(7, i))
            .await
            .unwrap();
        assert!(p.is_some(), "acknowledged point {i} is missing");
    }
    // Whatever the crash left is consistent: whole batches only.
    assert_eq!(count % 20, 0, "a batch is written whole or not at all");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn torn_log_tail_is_cut_off_and_corrupt_snapshot_refused() {
    let dir = temp_dir();
    {
        let store = EmbeddedStore::open(&dir).await.unwrap();
        store
            .create_collection(&CollectionSpec::new("torn", 16, Distance::L2))
            .await
            .unwrap();
        for b in 0..3u64 {
            let batch = (0..5)
                .map(|i| {
                    Point::new(
                        uuid::Uuid::from_u64_pair(1, b * 5 + i),
                        vec_for(b * 5 + i),
                        Payload::default(),
                    )
                })
                .collect();
            store.upsert("torn", batch).await.unwrap();
        }
    }
    // A crash in the middle of appending a fourth record: half of it reached the disk.
    let wal = dir.join("torn").join("wal.log");
    let len = std::fs::metadata(&wal).unwrap().len();
    let mut f = std::fs::OpenOptions::new().append(true).open(&wal).unwrap();
    f.write_all(&[200, 1, 0, 0, 1, 2, 3, 4, 1, 9, 9]).unwrap();
    drop(f);
    {
        let store = EmbeddedStore::open(&dir).await.unwrap();
        assert_eq!(store.count("torn", None).await.unwrap(), 15);
        assert_eq!(
            std::fs::metadata(&wal).unwrap().len(),
            len,
            "the torn tail is cut off"
        );
        // The repaired log takes new writes normally.
        store
            .upsert(
                "torn",
                vec![Point::new(
                    uuid::Uuid::from_u64_pair(1, 99),
                    vec_for(99),
                    Payload::default(),
                )],
            )
            .await
            .unwrap();
        store.checkpoint().await.unwrap();
        assert_eq!(
            std::fs::metadata(&wal).unwrap().len(),
            0,
            "a checkpoint empties the log"
        );
    }
    {
        let store = EmbeddedStore::open(&dir).await.unwrap();
        assert_eq!(
            store.count("torn", None).await.unwrap(),
            16,
            "reloaded from the snapshot"
        );
        let hits = store
            .search("torn", &SearchRequest::new(vec_for(7), 1))
            .await
            .unwrap();
        assert_eq!(hits[0].id, uuid::Uuid::from_u64_pair(1, 7));
    }
    // Flip one byte of the snapshot: opening must refuse rather than serve wrong data.
    let snap = dir.join("torn").join("snapshot.bin");
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&snap, bytes).unwrap();
    let e = EmbeddedStore::open(&dir).await.unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::Internal);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn one_process_per_directory() {
    let dir = temp_dir();
    let first = EmbeddedStore::open(&dir).await.unwrap();
    let e = EmbeddedStore::open(&dir).await.unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::Unavailable);
    drop(first);
    let again: Arc<dyn VectorStore> = Arc::new(EmbeddedStore::open(&dir).await.unwrap());
    assert_eq!(again.backend(), "embedded");
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn urls_pick_backends() {
    let e = cyberhub_vector::open("mongodb://x").await.unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::ConfigInvalid);
    let e = cyberhub_vector::open("embedded://").await.unwrap_err();
    assert_eq!(e.kind(), VectorErrorKind::ConfigInvalid);
}
