//! The crate builds from its own copy of the contract (`sdk/proto/`, so that
//! the packaged crate builds on its own); it must equal the repository's
//! `proto/`. Left out of the package (it needs the repository around it).

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

const FIX: &str = "rm -rf sdk/proto/ochre && cp -r proto/ochre sdk/proto/";

fn protos(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.map(|e| e.path()).unwrap_or_else(|e| panic!("{e}"));
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                out.insert(relative, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &root.join("ochre"), &mut out);
    out
}

#[test]
fn the_crates_copy_of_the_contract_equals_the_repositorys() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = protos(&manifest.join("proto"));
    let repo = protos(&manifest.join("../proto"));
    let differ: Vec<String> = repo
        .keys()
        .chain(copy.keys())
        .filter(|p| repo.get(*p) != copy.get(*p))
        .map(|p| p.display().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        differ.is_empty(),
        "sdk/proto differs from proto in {differ:?}; from the repository root run:\n  {FIX}"
    );
}
