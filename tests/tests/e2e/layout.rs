//! The house rules of the server's source tree, checked from its files: no
//! two files import each other (directly or around a ring), no file is
//! longer than 400 lines, rows map themselves (no column read by name), and
//! the circle checker finds a planted circle.

use std::path::Path;

use ochre_tests::layout::{import_circles, import_graph, rust_files, server_src};

#[test]
fn no_two_server_files_import_each_other_directly_or_around_a_ring() {
    let graph = import_graph(&server_src());
    assert!(graph.len() > 50, "the tree was read: {} files", graph.len());
    let imports: usize = graph.values().map(|t| t.len()).sum();
    assert!(imports > 100, "imports were found: {imports}");
    let circles = import_circles(&graph);
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn the_circle_checker_finds_a_planted_circle_through_a_facade() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a;\nmod c;\n");
    write("a/mod.rs", "mod b;\npub use b::X;\npub struct Y;\n");
    write("a/b.rs", "use super::Y;\npub struct X(Y);\n");
    write(
        "c.rs",
        "use crate::a::X;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
    );
    let circles = import_circles(&import_graph(dir.path()));
    assert_eq!(
        circles,
        vec![vec![
            Path::new("a/b.rs").to_path_buf(),
            Path::new("a/mod.rs").to_path_buf()
        ]]
    );
}

#[test]
fn no_server_source_file_is_longer_than_400_lines() {
    let root = server_src();
    let long: Vec<String> = rust_files(&root)
        .into_iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(root.join(&f))
                .unwrap()
                .lines()
                .count();
            (lines > 400).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over 400 lines: {long:?}");
}

#[test]
fn rows_map_themselves_and_no_server_code_reads_columns_by_name() {
    let root = server_src();
    // The one exception: the app pool's driver, which turns each wire
    // column (by position, whatever its name) into the sea-orm value the
    // derived mappings read.
    let driver = std::path::Path::new("db/wire/values.rs");
    let by_hand: Vec<String> = rust_files(&root)
        .into_iter()
        .filter(|f| f != driver)
        .filter(|f| {
            std::fs::read_to_string(root.join(f))
                .unwrap()
                .contains("try_get(")
                || std::fs::read_to_string(root.join(f))
                    .unwrap()
                    .contains("try_get::<")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        by_hand.is_empty(),
        "hand-written row mapping in {by_hand:?}"
    );
}
