//! The merge thread's cost of each stage, measured apart from reading: every file of a folder
//! is read and counted first, then the batches are applied in delivery order by a pipeline
//! with the risky-change rules only and by one with detection too, alternately, best of N.
//! With `--evict-kb K`, K KB of memory are written between files, as the reading threads do
//! to the caches in a real replay (so per-API state is cold, as it is there).
//!
//! `cargo run --release -p trailsight-cli --example merge_cost -- bench-out/corpus4-s1 [--reps 5] [--evict-kb 8192] [--only rules|all]`
use std::path::{Path, PathBuf};
use std::time::Instant;
use trailsight_core::detect::DetectorConfig;
use trailsight_core::ingest::pipeline::{Pipeline, Stages};
use trailsight_core::log::count::{count_log, FileBatch};
use trailsight_core::log::object_key::{classify, Classified, LogKey};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error>;

fn walk(dir: &Path, out: &mut Vec<(PathBuf, LogKey)>) -> Result<(), Error> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if let Classified::Log(k) = classify(&p.to_string_lossy()) {
            out.push((p, k));
        }
    }
    Ok(())
}

/// Seconds to apply every batch with the given stages, not counting the eviction writes.
fn apply_all(batches: &[(LogKey, FileBatch)], detect: bool, evict: &mut [u64]) -> f64 {
    let copies = batches.to_vec();
    let mut pipeline = Pipeline::with_stages(DetectorConfig::default(), Stages { detect, rules: true });
    let mut spent = 0.0;
    for (key, batch) in copies {
        let t = Instant::now();
        std::hint::black_box(pipeline.apply(Some(&key), batch));
        spent += t.elapsed().as_secs_f64();
        for (i, x) in evict.iter_mut().enumerate().step_by(8) {
            *x = x.wrapping_add(i as u64);
        }
    }
    std::hint::black_box(&evict);
    spent
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| -> Result<usize, Error> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args.get(i + 1).ok_or(format!("{name} needs a value"))?.parse()?),
            None => Ok(0),
        }
    };
    let folder = args.first().ok_or("usage: merge_cost FOLDER [--reps N] [--evict-kb K] [--only rules|all]")?;
    let reps = option("--reps")?.max(1);
    let mut evict = vec![0u64; option("--evict-kb")? * 128];
    let mut files = vec![];
    walk(Path::new(folder), &mut files)?;
    files.sort_by(|a, b| a.1.delivered.cmp(&b.1.delivered).then_with(|| a.0.cmp(&b.0)));
    let mut batches = Vec::with_capacity(files.len());
    for (path, key) in &files {
        let batch = count_log(std::fs::File::open(path)?, &path.display().to_string(), Some(key), true)?;
        batches.push((key.clone(), batch));
    }
    // `--only rules|all` runs one of the two (for a cache simulation of one).
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1));
    if only.is_some_and(|o| o != "rules" && o != "all") {
        return Err("--only takes rules or all".into());
    }
    let (mut rules, mut all) = (0.0, 0.0);
    if only.is_none_or(|o| o == "rules") {
        rules = (0..reps).map(|_| apply_all(&batches, false, &mut evict)).fold(f64::MAX, f64::min);
    }
    if only.is_none_or(|o| o == "all") {
        all = (0..reps).map(|_| apply_all(&batches, true, &mut evict)).fold(f64::MAX, f64::min);
    }
    println!(
        "{} files, best of {reps}: rules {rules:.3} s, rules + detection {all:.3} s, detection {:.3} s",
        batches.len(),
        all - rules
    );
    Ok(())
}
