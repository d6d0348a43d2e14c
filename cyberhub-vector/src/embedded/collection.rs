//! One collection on disk: `spec.json`, `snapshot.bin` (all points and the graph, checksummed)
//! and `wal.log` (every acknowledged write since the snapshot, one checksummed record each,
//! `fsync`ed before the write returns). Opening loads the snapshot and replays the log;
//! a torn record at the end of the log (a crash mid-write, never acknowledged) is cut off.

use super::codec::{Reader, Writer};
use super::state::State;
use crate::{CollectionSpec, Point, PointId, Result, VectorError};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

const SNAPSHOT_MAGIC: &[u8; 8] = b"CHVSNAP1";
const SPEC_FILE: &str = "spec.json";
const SNAPSHOT_FILE: &str = "snapshot.bin";
const WAL_FILE: &str = "wal.log";
/// The log is folded into a new snapshot once it outgrows this and the last snapshot.
const WAL_SNAPSHOT_MIN: u64 = 64 * 1024 * 1024;
const REC_UPSERT: u8 = 1;
const REC_DELETE: u8 = 2;

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> VectorError {
    move |e| VectorError::unavailable(what).with_source(e)
}

/// Makes a rename or file creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(format!("cannot sync directory {}", dir.display())))
}

struct Wal {
    file: File,
    len: u64,
    snapshot_len: u64,
}

/// A durable collection. Writers serialise on the log; readers share the state.
pub struct Collection {
    spec: CollectionSpec,
    dir: PathBuf,
    wal: Mutex<Wal>,
    state: RwLock<State>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl Collection {
    /// Writes a new collection directory at `dir` (which must not exist) atomically:
    /// built under a temporary name, then renamed.
    pub fn create(dir: &Path, spec: &CollectionSpec) -> Result<Self> {
        let parent = dir.parent().unwrap_or(Path::new("."));
        let tmp = parent.join(format!(
            ".tmp-{}-{}",
            spec.name,
            uuid::Uuid::new_v4().simple()
        ));
        fs::create_dir_all(&tmp).map_err(io_err(format!("cannot create {}", tmp.display())))?;
        let json = serde_json::to_vec_pretty(spec).unwrap_or_default();
        write_synced(&tmp.join(SPEC_FILE), &json)?;
        sync_dir(&tmp)?;
        fs::rename(&tmp, dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
        sync_dir(parent)?;
        Self::open(dir)
    }

    /// Loads a collection directory: spec, snapshot, then the log.
    pub fn open(dir: &Path) -> Result<Self> {
        let spec_bytes = fs::read(dir.join(SPEC_FILE))
            .map_err(io_err(format!("cannot read {}", dir.display())))?;
        let spec: CollectionSpec = serde_json::from_slice(&spec_bytes).map_err(|e| {
            VectorError::internal(format!("{} is not a collection spec", dir.display()))
                .with_source(e)
        })?;
        let snap_path = dir.join(SNAPSHOT_FILE);
        let (mut state, snapshot_len) = match fs::read(&snap_path) {
            Ok(bytes) => (decode_snapshot(&spec, &bytes)?, bytes.len() as u64),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (State::new(spec.clone()), 0),
            Err(e) => return Err(io_err(format!("cannot read {}", snap_path.display()))(e)),
        };
        let wal_path = dir.join(WAL_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&wal_path)
            .map_err(io_err(format!("cannot open {}", wal_path.display())))?;
        let mut log = Vec::new();
        file.read_to_end(&mut log)
            .map_err(io_err(format!("cannot read {}", wal_path.display())))?;
        let good = replay(&spec, &log, &mut state)?;
        if good < log.len() {
            tracing::warn!(
                collection = %spec.name,
                dropped_bytes = log.len() - good,
                "cutting off an incomplete record at the end of the write-ahead log (a crash mid-write)"
            );
            file.set_len(good as u64)
                .and_then(|()| file.sync_all())
                .map_err(io_err(format!("cannot repair {}", wal_path.display())))?;
        }
        if state.needs_compaction() {
            state = state.compacted();
        }
        Ok(Self {
            spec,
            dir: dir.to_owned(),
            wal: Mutex::new(Wal {
                file,
                len: good as u64,
                snapshot_len,
            }),
            state: RwLock::new(state),
        })
    }

    pub fn spec(&self) -> &CollectionSpec {
        &self.spec
    }

    /// Shared access for reads.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Logs, syncs, then applies validated points.
    pub fn upsert(&self, points: &[Point]) -> Result<()> {
        let mut w = Writer::default();
        w.u8(REC_UPSERT);
        w.u32(points.len() as u32);
        for p in points {
            w.point(p);
        }
        self.write(w.0, |s| s.upsert(points))
    }

    /// Logs, syncs, then applies a delete.
    pub fn delete(&self, ids: &[PointId]) -> Result<()> {
        let mut w = Writer::default();
        w.u8(REC_DELETE);
        w.u32(ids.len() as u32);
        for id in ids {
            w.id(id);
        }
        self.write(w.0, |s| s.delete(ids))
    }

    fn write(&self, body: Vec<u8>, apply: impl FnOnce(&mut State)) -> Result<()> {
        let mut wal = self
            .wal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rec = Vec::with_capacity(body.len() + 8);
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        rec.extend_from_slice(&body);
        let path = || format!("cannot write {}", self.dir.join(WAL_FILE).display());
        if let Err(e) = wal.file.write_all(&rec).and_then(|()| wal.file.sync_data()) {
            // Leave no partial record behind for the next write to follow.
            let _ = wal.file.set_len(wal.len);
            return Err(io_err(path())(e));
        }
        wal.len += rec.len() as u64;
        {
            let mut state = self
                .state
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            apply(&mut state);
            if state.needs_compaction() {
                *state = state.compacted();
            }
        }
        if wal.len > WAL_SNAPSHOT_MIN.max(wal.snapshot_len) {
            // Still holding the log: no write can slip in between snapshot and truncation.
            self.snapshot(&mut wal)?;
        }
        Ok(())
    }

    /// Writes a snapshot of the current state and empties the log.
    pub fn checkpoint(&self) -> Result<()> {
        let mut wal = self
            .wal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.snapshot(&mut wal)
    }

    fn snapshot(&self, wal: &mut Wal) -> Result<()> {
        let mut w = Writer::default();
        w.0.extend_from_slice(SNAPSHOT_MAGIC);
        self.read().encode(&mut w);
        let crc = crc32fast::hash(&w.0);
        w.u32(crc);
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        write_synced(&tmp, &w.0)?;
        fs::rename(&tmp, self.dir.join(SNAPSHOT_FILE)).map_err(io_err(format!(
            "cannot replace the snapshot in {}",
            self.dir.display()
        )))?;
        sync_dir(&self.dir)?;
        // A crash before this truncation replays the log onto the new snapshot: upserts and
        // deletes are idempotent, so the result is the same.
        wal.file
            .set_len(0)
            .and_then(|()| wal.file.sync_all())
            .map_err(io_err(format!(
                "cannot truncate the log in {}",
                self.dir.display()
            )))?;
        wal.len = 0;
        wal.snapshot_len = w.0.len() as u64;
        Ok(())
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    File::create(path)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(io_err(format!("cannot write {}", path.display())))
}

fn decode_snapshot(spec: &CollectionSpec, bytes: &[u8]) -> Result<State> {
    let corrupt = || VectorError::internal(format!("the snapshot of {:?} is corrupt", spec.name));
    let body_len = bytes.len().checked_sub(4).ok_or_else(corrupt)?;
    let (body, crc) = bytes.split_at(body_len);
    let crc: [u8; 4] = crc.try_into().map_err(|_| corrupt())?;
    if crc32fast::hash(body) != u32::from_le_bytes(crc) || !body.starts_with(SNAPSHOT_MAGIC) {
        return Err(corrupt());
    }
    let mut r = Reader::new(body.get(SNAPSHOT_MAGIC.len()..).unwrap_or_default());
    State::decode(spec.clone(), &mut r)
}

/// Applies every complete record; returns the length of the valid prefix of the log.
fn replay(spec: &CollectionSpec, log: &[u8], state: &mut State) -> Result<usize> {
    let mut pos = 0usize;
    while let Some(header) = log.get(pos..pos + 8) {
        let (len, crc) = header.split_at(4);
        let le = |b: &[u8]| b.try_into().map(u32::from_le_bytes).unwrap_or(u32::MAX);
        let (len, crc) = (le(len) as usize, le(crc));
        let Some(body) = log.get(pos + 8..pos + 8 + len) else {
            break;
        };
        if crc32fast::hash(body) != crc {
            break;
        }
        let mut r = Reader::new(body);
        match r.u8()? {
            REC_UPSERT => {
                let n = r.u32()? as usize;
                let mut points = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    points.push(r.point(spec.dimension)?);
                }
                state.upsert(&points);
            }
            REC_DELETE => {
                let n = r.u32()? as usize;
                let mut ids = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    ids.push(r.id()?);
                }
                state.delete(&ids);
            }
            other => {
                return Err(VectorError::internal(format!(
                    "unknown record type {other} in the log of {:?}",
                    spec.name
                )))
            }
        }
        pos += 8 + len;
    }
    Ok(pos)
}

/// Entry points for the fuzz targets (`fuzz/`): a body is framed with a valid checksum here,
/// so that the fuzzer reaches the decoders behind the CRC check, and a decoded state is
/// searched, so that a corrupt graph is walked too. Whatever the bytes, these must return
/// (an error or a state), never panic, and never allocate without bound.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use super::*;

    fn spec() -> CollectionSpec {
        CollectionSpec::new("fuzz", 4, crate::Distance::Cosine)
    }

    fn exercise(state: &State) {
        for exact in [false, true] {
            let mut req = crate::SearchRequest::new(vec![0.5, -0.5, 0.5, 0.5], 10);
            req.exact = exact;
            let _ = state.search(&req.vector, &req);
        }
        let _ = state.count(None);
    }

    /// Decodes `body` as a snapshot body (after the magic) and searches the result.
    pub fn snapshot(body: &[u8]) {
        let mut framed = SNAPSHOT_MAGIC.to_vec();
        framed.extend_from_slice(body);
        let crc = crc32fast::hash(&framed);
        framed.extend_from_slice(&crc.to_le_bytes());
        if let Ok(state) = decode_snapshot(&spec(), &framed) {
            exercise(&state);
        }
    }

    /// Replays `records` (each framed with its length and checksum) as a write-ahead log
    /// onto an empty collection and searches the result.
    pub fn log(records: &[&[u8]]) {
        let mut log = Vec::new();
        for body in records {
            log.extend_from_slice(&(body.len() as u32).to_le_bytes());
            log.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
            log.extend_from_slice(body);
        }
        let mut state = State::new(spec());
        let _ = replay(&spec(), &log, &mut state);
        exercise(&state);
    }
}
