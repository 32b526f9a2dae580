//! A line diff between the committed snapshot and a database's snapshot,
//! shown in hunks: `-` lines are only in the snapshot, `+` lines only in the
//! database, and each hunk is headed by the object its first change belongs
//! to (the nearest less indented lines above it).

use std::fmt::Write as _;

/// Unchanged lines shown around each change.
const CONTEXT: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Both,
    Snapshot,
    Database,
}

/// The diff of `snapshot` against `database`, empty when they are equal.
pub fn unified_diff(snapshot: &str, database: &str) -> String {
    let old: Vec<&str> = snapshot.lines().collect();
    let new: Vec<&str> = database.lines().collect();
    let ops = line_ops(&old, &new);
    let changed: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].0 != Side::Both).collect();
    let mut out = String::new();
    let mut k = 0;
    while k < changed.len() {
        let first = changed[k];
        let mut last = first;
        while k + 1 < changed.len() && changed[k + 1] <= last + 2 * CONTEXT + 1 {
            k += 1;
            last = changed[k];
        }
        let header = breadcrumb(&ops, first);
        let _ = writeln!(out, "@@ {header}");
        let end = (last + CONTEXT).min(ops.len() - 1);
        for (side, line) in &ops[first.saturating_sub(CONTEXT)..=end] {
            let mark = match side {
                Side::Both => ' ',
                Side::Snapshot => '-',
                Side::Database => '+',
            };
            let _ = writeln!(out, "{mark} {line}");
        }
        k += 1;
    }
    out
}

/// Every line of both texts, in order, marked with the side it is on
/// (a longest common subsequence of lines is kept as `Both`).
fn line_ops<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<(Side, &'a str)> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let a = &old[prefix..old.len() - suffix];
    let b = &new[prefix..new.len() - suffix];
    // lcs[i * w + j]: the length of a longest common subsequence of a[i..] and b[j..].
    let w = b.len() + 1;
    let mut lcs = vec![0u32; (a.len() + 1) * w];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i * w + j] = if a[i] == b[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let mut ops: Vec<(Side, &str)> = old[..prefix].iter().map(|l| (Side::Both, *l)).collect();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((Side::Both, a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
            ops.push((Side::Snapshot, a[i]));
            i += 1;
        } else {
            ops.push((Side::Database, b[j]));
            j += 1;
        }
    }
    ops.extend(old[old.len() - suffix..].iter().map(|l| (Side::Both, *l)));
    ops
}

/// The object line `at` belongs to: the nearest unindented line above it
/// and, for a deeper line, the nearest line indented by two in between
/// (`table orgs > policy orgs_member_read: ...`). Lines of the other side
/// are skipped.
fn breadcrumb(ops: &[(Side, &str)], at: usize) -> String {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let side = ops[at].0;
    let mut level = indent(ops[at].1);
    let mut parts = Vec::new();
    for (s, line) in ops[..at].iter().rev() {
        if line.trim().is_empty() || (*s != Side::Both && *s != side) {
            continue;
        }
        let d = indent(line);
        if d < level && d <= 2 {
            parts.push(line.trim());
            level = d;
            if d == 0 {
                break;
            }
        }
    }
    parts.reverse();
    parts.join(" > ")
}

#[cfg(test)]
mod tests {
    use super::unified_diff;

    const SNAPSHOT: &str = "table a: owner o\n  column id uuid\n  policy p: PERMISSIVE FOR SELECT TO r\n    USING true\n  grant to r: SELECT\n\ntable b: owner o\n";

    #[test]
    fn identical_texts_have_an_empty_diff() {
        assert_eq!(unified_diff(SNAPSHOT, SNAPSHOT), "");
    }

    #[test]
    fn a_changed_line_is_shown_removed_and_added_under_the_object_it_belongs_to() {
        let database = SNAPSHOT.replace("USING true", "USING false");
        let expected = [
            "@@ table a: owner o > policy p: PERMISSIVE FOR SELECT TO r",
            "    column id uuid",
            "    policy p: PERMISSIVE FOR SELECT TO r",
            "-     USING true",
            "+     USING false",
            "    grant to r: SELECT",
            "  ",
            "",
        ];
        assert_eq!(unified_diff(SNAPSHOT, &database), expected.join("\n"));
    }

    #[test]
    fn a_line_only_in_the_database_is_an_addition() {
        let database =
            SNAPSHOT.replace("table b: owner o\n", "table b: owner o\n  column id uuid\n");
        let diff = unified_diff(SNAPSHOT, &database);
        assert!(diff.starts_with("@@ table b: owner o\n"), "{diff}");
        assert!(diff.ends_with("+   column id uuid\n"), "{diff}");
        assert!(!diff.contains("\n- "), "{diff}");
    }
}
