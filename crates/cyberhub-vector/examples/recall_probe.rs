#![allow(clippy::unwrap_used, missing_docs)]
use cyberhub_vector::*;
use rand::{Rng, SeedableRng};
#[tokio::main]
async fn main() {
    let m: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(0);
    let _ = m;
    let dir = std::env::temp_dir().join(format!("probe-{}", std::process::id()));
    let store = EmbeddedStore::open(&dir).await.unwrap();
    store.create_collection(&CollectionSpec::new("p", 384, Distance::Cosine)).await.unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let unit = |rng: &mut rand::rngs::StdRng| { let v: Vec<f32> = (0..384).map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum::<f32>()).collect(); let n = math::norm(&v); v.into_iter().map(|x| x / n).collect::<Vec<f32>>() };
    let pts: Vec<Point> = (0..10000u64).map(|i| Point::new(uuid::Uuid::from_u64_pair(1, i), unit(&mut rng), Payload::default())).collect();
    let t = std::time::Instant::now();
    for c in pts.chunks(500) { store.upsert("p", c.to_vec()).await.unwrap(); }
    println!("build {:?}", t.elapsed());
    let qs: Vec<Vec<f32>> = (0..50).map(|_| unit(&mut rng)).collect();
    for ef in [96, 200, 400, 800] {
        let mut found = 0; let t = std::time::Instant::now();
        for q in &qs {
            let exact = store.search("p", &SearchRequest::new(q.clone(), 10).exact()).await.unwrap();
            let a = store.search("p", &SearchRequest::new(q.clone(), 10).with_ef(ef)).await.unwrap();
            found += a.iter().filter(|h| exact.iter().any(|e| e.id == h.id)).count();
        }
        println!("ef {ef}: recall {:.3} ({:?} for 50 exact+approx)", found as f64 / 500.0, t.elapsed());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
