//! The guard's targets on the public labelled data (agentdojo, spikee),
//! read from the files `scripts/install-deps.sh` installs: recall >= 0.90
//! on direct instruction overrides, >= 0.70 on injections inside emails,
//! false positives <= 1 % on benign mail. The benchmark (`ochre-bench
//! guard`) prints the full table.

use ochre_server::guard::Guard;
use ochre_tests::guard_data;

#[test]
fn the_guard_meets_its_recall_and_false_positive_targets_on_the_public_data() {
    let dir = guard_data::data_dir();
    if !dir.join("cases.jsonl").exists() && std::env::var_os("CI").is_none() {
        eprintln!(
            "SKIPPED: no guard data in {} (run ./scripts/install-deps.sh); CI always runs this",
            dir.display()
        );
        return;
    }
    let cases = guard_data::load(&dir).expect("the guard data");
    let guard = Guard::embedded().expect("the embedded rules");
    let rows = guard_data::evaluate(&guard, &cases);
    let missed = guard_data::missed_targets(&rows);
    assert!(
        missed.is_empty(),
        "{missed:?}\n{}",
        guard_data::table(&rows, guard.version())
    );
}
