//! `guard`: the input guard measured on public labelled data (the pinned
//! `agentdojo` and `spikee` wheels, turned into cases by
//! `scripts/guard-data.py`): recall per attack set, the false-positive rate
//! per benign set, and the time per screening. No server.

use std::time::Instant;

use anyhow::Context as _;
use ochre_server::guard::Guard;
use ochre_tests::guard_data;

pub fn run() -> anyhow::Result<()> {
    let dir = guard_data::data_dir();
    let cases = guard_data::load(&dir)?;
    let guard = Guard::embedded().context("the embedded guard rules")?;
    let start = Instant::now();
    let rows = guard_data::evaluate(&guard, &cases);
    let elapsed = start.elapsed();
    println!("data: {} ({} cases)", dir.display(), cases.len());
    println!("{}", guard_data::table(&rows, guard.version()));
    let bytes: usize = cases.iter().map(|c| c.text.len()).sum();
    println!(
        "screening: {:.1} µs per case on average ({} cases, {} KiB, one core)",
        elapsed.as_secs_f64() * 1e6 / cases.len() as f64,
        cases.len(),
        bytes / 1024
    );
    if std::env::var_os("OCHRE_GUARD_MISSES").is_some() {
        for r in &rows {
            for m in &r.misses {
                println!("miss {} {m}", r.set);
            }
        }
    }
    let missed = guard_data::missed_targets(&rows);
    if missed.is_empty() {
        println!(
            "targets met: recall >= 0.90 direct, >= 0.70 indirect in email, FP <= 1 % benign mail"
        );
    } else {
        println!("TARGETS MISSED: {}", missed.join("; "));
    }
    Ok(())
}
