//! The shape of the server's source tree, read from its files: which file
//! imports which (through `use` trees and `crate::`/`super::`/`self::`
//! paths, resolved to the file that defines the module), the import circles
//! among them, and file sizes. A child module declared by a file (`mod x;`)
//! is not an import; a path through it is.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// The server crate's `src/` directory.
pub fn server_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src")
}

/// Every `.rs` file under `root`, relative to it.
pub fn rust_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The module path of a file (`rpc/identity/mod.rs` → `[rpc, identity]`).
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without line comments and without a trailing inline test
/// module (its `super::` means the file itself).
fn code_of(text: &str) -> String {
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default();
        code.push_str(line);
        code.push('\n');
    }
    let mut from = 0;
    while let Some(found) = code[from..].find("#[cfg(test)]") {
        let at = from + found;
        let rest = &code[at..];
        let header = &rest[..rest.find(['{', ';']).unwrap_or(rest.len())];
        if header.contains("mod ") && rest[header.len()..].starts_with('{') {
            code.truncate(at);
            break;
        }
        from = at + 1;
    }
    code
}

/// Expands a `use` tree (`a::{b, c::{d}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let close = tree.rfind('}').unwrap_or(tree.len());
    let prefix = &tree[..open];
    let inner = &tree[open + 1..close];
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |x| format!("{prefix}{x}")))
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Paths written in `code`: expanded `use` trees, and `crate::`, `super::`,
/// `self::` and `<child>::` paths in expressions.
fn paths_in(code: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(is_ident) {
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        let tree: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
        paths.extend(expand(&tree));
    }
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':');
        if starts && is_ident(chars[i]) {
            let mut j = i;
            while j < chars.len() && (is_ident(chars[j]) || chars[j] == ':') {
                j += 1;
            }
            let path: String = chars[i..j].iter().collect();
            let path = path.trim_end_matches(':').to_owned();
            // `a::b::{..}` in a use tree was expanded above.
            if chars.get(j) == Some(&'{') {
                i = j;
                continue;
            }
            let head = path.split("::").next().unwrap_or_default();
            if path.contains("::")
                && (matches!(head, "crate" | "super" | "self") || children.contains(head))
            {
                paths.push(path);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    paths
        .into_iter()
        .map(|p| {
            p.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// Which files each file imports (files relative to `root`).
pub fn import_graph(root: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let files = rust_files(root);
    let by_module: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let code = code_of(&std::fs::read_to_string(root.join(file)).unwrap_or_default());
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let l = l.strip_prefix("pub ").unwrap_or(l);
                let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
            })
            .collect();
        let here = module_of(file);
        let mut targets = BTreeSet::new();
        for mut segs in paths_in(&code, &children) {
            let mut base = match segs.first().map(String::as_str) {
                Some("crate") => {
                    segs.remove(0);
                    Vec::new()
                }
                Some("super" | "self") => here.clone(),
                Some(head) if children.contains(head) => here.clone(),
                _ => continue,
            };
            while let Some(first) = segs.first().map(String::as_str) {
                match first {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                segs.remove(0);
            }
            base.extend(segs);
            let target = (0..=base.len())
                .rev()
                .find_map(|k| by_module.get(&base[..k]));
            if let Some(target) = target.filter(|t| *t != file) {
                targets.insert(target.clone());
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// The groups of files that import each other, directly or around a ring
/// (strongly connected components of more than one file).
pub fn import_circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    let reach = |from: &PathBuf| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(f) = todo.pop() {
            for next in graph.get(&f).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&PathBuf, BTreeSet<PathBuf>> =
        graph.keys().map(|f| (f, reach(f))).collect();
    let mut circles: Vec<Vec<PathBuf>> = Vec::new();
    for (file, reached) in &reachable {
        if !reached.contains(*file) || circles.iter().any(|c| c.contains(file)) {
            continue;
        }
        let circle: Vec<PathBuf> = reached
            .iter()
            .filter(|other| reachable.get(other).is_some_and(|r| r.contains(*file)))
            .cloned()
            .collect();
        circles.push(circle);
    }
    circles
}
