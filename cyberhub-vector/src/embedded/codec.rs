//! Little-endian binary encoding for the write-ahead log and snapshots.

use crate::{Payload, Point, Result, VectorError};
use uuid::Uuid;

/// Appends values to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn id(&mut self, id: &Uuid) {
        self.0.extend_from_slice(id.as_bytes());
    }
    pub fn f32s(&mut self, v: &[f32]) {
        self.0.reserve(v.len() * 4);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    pub fn payload(&mut self, p: &Payload) {
        // Serialising plain strings and a JSON map cannot fail.
        let json = serde_json::to_vec(p).unwrap_or_default();
        self.bytes(&json);
    }
    pub fn point(&mut self, p: &Point) {
        self.id(&p.id);
        self.f32s(&p.vector);
        self.payload(&p.payload);
    }
}

/// Reads values back; every read checks bounds and reports truncation as an error.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(VectorError::internal("stored vector data is truncated")),
        }
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn id(&mut self) -> Result<Uuid> {
        Ok(Uuid::from_bytes(self.array()?))
    }
    pub fn f32s_into(&mut self, n: usize, out: &mut Vec<f32>) -> Result<()> {
        let s = self.take(n.saturating_mul(4))?;
        let (chunks, _) = s.as_chunks::<4>();
        out.extend(chunks.iter().map(|c| f32::from_le_bytes(*c)));
        Ok(())
    }
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn payload(&mut self) -> Result<Payload> {
        serde_json::from_slice(self.bytes()?)
            .map_err(|e| VectorError::internal("stored payload is not valid JSON").with_source(e))
    }
    pub fn point(&mut self, dim: usize) -> Result<Point> {
        let id = self.id()?;
        let mut vector = Vec::with_capacity(dim);
        self.f32s_into(dim, &mut vector)?;
        let payload = self.payload()?;
        Ok(Point {
            id,
            vector,
            payload,
        })
    }
}
