//! The code conventions of `docs/ARCHITECTURE.md`, checked on the source so a new feature
//! cannot quietly break them: no status spelling in a query, no tuple rows, one pagination
//! helper, no feature importing the router, and no feature reading another feature's tables.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `src/` file as (path relative to `src/`, code before its first `#[cfg(test)]`).
fn code() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("source is readable");
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
            let rel = path
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, code)
        })
        .collect()
}

/// Lines of `code` without `//` comments.
fn lines(code: &str) -> impl Iterator<Item = (usize, &str)> {
    code.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("")))
}

/// True when `needle` occurs in `line` not as the tail of a longer identifier
/// (`members::table` is not mentioned by `group_members::table`).
fn mentions(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(i, _)| {
        !line[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

const SPELLED_COLUMNS: [&str; 6] = [
    "status",
    "kind",
    "unit",
    "role",
    "state",
    "cost_sharing_key",
];

#[test]
fn no_status_or_kind_spelling_is_written_in_a_query() {
    let mut found = Vec::new();
    for (file, code) in code() {
        for (n, line) in lines(&code) {
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            for col in SPELLED_COLUMNS {
                for op in ["eq", "ne", "eq_any", "ne_all"] {
                    for quote in ["(\"", "([\"", "(&[\"", "(vec![\""] {
                        if compact.contains(&format!("::{col}.{op}{quote}")) {
                            found.push(format!("{file}:{n}: {}", line.trim()));
                        }
                    }
                }
                // Raw SQL comparing a spelled column with a literal.
                let lower = line.to_lowercase();
                if lower.contains(&format!("{col} = '")) || lower.contains(&format!("{col} in ('"))
                {
                    found.push(format!("{file}:{n}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "spellings in queries (compare with the enum instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn rows_are_structs_not_tuples() {
    let mut found = Vec::new();
    for (file, code) in code() {
        for (n, line) in lines(&code) {
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            let tuple_alias = compact.starts_with("type") && compact.contains("Row=(");
            if tuple_alias || compact.contains(".load::<(") || compact.contains("Vec<(DbUuid") {
                found.push(format!("{file}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "tuple rows (use an XRow struct):\n{}",
        found.join("\n")
    );
}

#[test]
fn keyset_pagination_is_written_once() {
    let offenders: Vec<String> = code()
        .into_iter()
        .filter(|(file, code)| file != "pagination.rs" && code.contains("page.after"))
        .map(|(file, _)| file)
        .collect();
    assert!(
        offenders.is_empty(),
        "pagination written by hand in {offenders:?}: use pagination::keyset"
    );
}

#[test]
fn features_do_not_import_the_router_or_the_server() {
    let allowed = ["lib.rs", "cli.rs", "server.rs", "router.rs"];
    let offenders: Vec<String> = code()
        .into_iter()
        .filter(|(file, code)| {
            !allowed.contains(&file.as_str())
                && (code.contains("crate::router") || code.contains("crate::server"))
        })
        .map(|(file, _)| file)
        .collect();
    assert!(
        offenders.is_empty(),
        "{offenders:?} import the router or the server"
    );
}

#[test]
fn features_reach_only_their_own_tables() {
    // Which folder (or file) owns which tables. `db/` is the backend seam (outbox locking).
    let owners: [(&str, &[&str]); 10] = [
        ("audit/", &["audit_events", "audit_chain"]),
        ("members/", &["members"]),
        ("suppliers/", &["suppliers"]),
        ("groups/", &["groups", "group_members"]),
        ("auth/", &["api_tokens"]),
        ("campaigns/", &["campaigns"]),
        ("needs/", &["needs"]),
        ("notifications/", &["outbox"]),
        ("idempotency/", &["idempotency_records"]),
        ("db/", &["outbox"]),
    ];
    let all: Vec<&str> = owners.iter().flat_map(|(_, t)| t.iter().copied()).collect();
    let mut found = Vec::new();
    for (file, code) in code() {
        let own: &[&str] = owners
            .iter()
            .find(|(prefix, _)| file.starts_with(prefix))
            .map_or(&[], |(_, tables)| tables);
        for (n, line) in lines(&code) {
            for table in &all {
                if own.contains(table) {
                    continue;
                }
                let used = line.contains("schema::*")
                    || mentions(line, &format!("{table}::table"))
                    || line.contains(&format!("schema::{table}"))
                    || (line.contains("crate::schema::{")
                        && line.split(['{', ',', '}', ' ']).any(|w| w == *table));
                if used && file != "schema.rs" {
                    found.push(format!("{file}:{n}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "another feature's tables (call its store instead):\n{}",
        found.join("\n")
    );
}
