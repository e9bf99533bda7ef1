//! The layer rules of `docs/ARCHITECTURE.md`, checked on the source: a module imports
//! only from its own layer or the layers below it, so nothing below `state` imports a
//! feature, background work or the assembly.
//!
//! The table of layers lives here ([`LAYERS`]); a new top-level module must be added to
//! it (the test fails on an unknown one). Code inside `#[cfg(test)]` items is not
//! checked: tests may reach anywhere.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Layers from the bottom up, with the top-level modules (`src/<name>.rs` or
/// `src/<name>/`) of each. Keep in step with the table in `docs/ARCHITECTURE.md`.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundations",
        &["domain", "time", "serde_util", "crypto", "extract"],
    ),
    ("data", &["entities"]),
    ("configuration", &["settings", "telemetry"]),
    (
        "infrastructure",
        &[
            "db",
            "secret_key",
            "storage",
            "queue",
            "security",
            "mail",
            "metrics",
            "error",
            "http",
            "ocr_status",
        ],
    ),
    ("state", &["state"]),
    (
        "features",
        &[
            "auth",
            "account_export",
            "documents",
            "folders",
            "topics",
            "shares",
            "links",
            "admin",
            "classify",
            "audit",
            "webhooks",
            "intake",
            "notifications",
            "saved_views",
            "refile",
        ],
    ),
    (
        "background",
        &["jobs", "fsck", "health", "transfer", "ingest"],
    ),
    (
        "assembly",
        &[
            "routes", "openapi", "assets", "startup", "cli", "lib", "main",
        ],
    ),
];

fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, modules))| modules.contains(&module))
        .map(|(i, (name, _))| (i, *name))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file relative to `src/`: `security/mod.rs` → `[security]`,
/// `settings/values.rs` → `[settings, values]`, `lib.rs` → `[]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    let crate_root = parts.is_empty() && matches!(stem, "lib" | "main");
    if stem != "mod" && !crate_root {
        parts.push(stem.to_owned());
    }
    parts
}

/// The source with comments, string and character literals blanked out, so only code
/// is searched (doc links and messages may name any module).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) {
            // Raw string r"…" / r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            j += 1;
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = j + close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && (b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\')) {
            // A character literal ('x', '\n', '\''), not a lifetime.
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// `code` without the items marked `#[cfg(test)]` (a `mod tests { … }`, a test helper).
fn without_test_items(code: &str) -> String {
    let b = code.as_bytes();
    let mut out = String::with_capacity(code.len());
    let mut rest = 0;
    while let Some(found) = code[rest..].find("#[cfg(test)]") {
        let start = rest + found;
        out.push_str(&code[rest..start]);
        // Skip to the end of the item: its first `;` or its matching `}`.
        let mut i = start + "#[cfg(test)]".len();
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        rest = i.min(code.len());
    }
    out.push_str(&code[rest..]);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules `code` (of the file at `module`) names: `crate::x`, `$crate::x`,
/// `docuvault::x`, `crate::{x, y::z}` and `super::` paths that leave the file's module.
fn referenced_modules(code: &str, module: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for root in ["crate::", "docuvault::"] {
        let mut from = 0;
        while let Some(pos) = code[from..].find(root) {
            let at = from + pos;
            from = at + root.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            let after = &code[from..];
            if let Some(group) = after.strip_prefix('{') {
                // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level entry.
                let mut depth = 0usize;
                let mut expect = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => expect = true,
                        c if expect && depth == 0 && is_ident(c) => {
                            found.insert(ident_at(&group[i..]).to_owned());
                            expect = false;
                        }
                        c if !c.is_whitespace() => expect = false,
                        _ => {}
                    }
                }
            } else {
                let name = ident_at(after);
                if !name.is_empty() {
                    found.insert(name.to_owned());
                }
            }
        }
    }
    // `super::super::x` from `[a, b, c]` is `a::x`; from a top-level file, `super::x`
    // names the crate's `x`. Inline modules (`mod prelude { … }`) add a level each.
    let inline = inline_module_depths(code);
    let mut from = 0;
    while let Some(pos) = code[from..].find("super::") {
        let at = from + pos;
        let depth = module.len() + inline.get(at).copied().unwrap_or(0);
        let before = code[..at].chars().next_back();
        let mut rest = &code[at..];
        from = at + "super::".len();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        if ups >= depth {
            let name = ident_at(rest);
            if !name.is_empty() {
                found.insert(name.to_owned());
            }
        }
    }
    found
}

/// For each byte of `code`, how many inline modules (`mod name { … }`) enclose it.
fn inline_module_depths(code: &str) -> Vec<usize> {
    let mut depths = vec![0; code.len() + 1];
    // Brace depths at which the open inline modules started.
    let mut open: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let at_word = i == 0 || !code[..i].chars().next_back().is_some_and(is_ident);
        if at_word && let Some(after) = rest.strip_prefix("mod ") {
            let name = ident_at(after.trim_start());
            let tail = after.trim_start()[name.len()..].trim_start();
            if !name.is_empty() && tail.starts_with('{') {
                open.push(braces);
            }
        }
        match rest.as_bytes()[0] {
            b'{' => braces += 1,
            b'}' => {
                braces = braces.saturating_sub(1);
                if open.last() == Some(&braces) {
                    open.pop();
                }
            }
            _ => {}
        }
        let width = rest.chars().next().map_or(1, char::len_utf8);
        for d in &mut depths[i..i + width] {
            *d = open.len();
        }
        i += width;
    }
    depths
}

/// Layer violations in the source tree `src`: `(importer, imported, file)`.
fn violations(src: &Path) -> (Vec<String>, BTreeSet<String>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    assert!(!files.is_empty(), "no sources under {}", src.display());
    let mut problems = Vec::new();
    let mut unknown = BTreeSet::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let module = module_path(rel);
        let top = module
            .first()
            .cloned()
            .unwrap_or_else(|| rel.to_string_lossy().trim_end_matches(".rs").to_owned());
        let Some((from_layer, from_name)) = layer_of(&top) else {
            unknown.insert(top);
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable source");
        let code = without_test_items(&code_only(&text));
        for target in referenced_modules(&code, &module) {
            if target == top {
                continue;
            }
            let Some((to_layer, to_name)) = layer_of(&target) else {
                // Not a module of ours (a macro's helper, a crate-root item).
                continue;
            };
            if to_layer > from_layer {
                problems.push(format!(
                    "{} ({top}, {from_name}) imports {target} ({to_name})",
                    rel.display()
                ));
            }
        }
    }
    (problems, unknown)
}

#[test]
fn imports_run_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (problems, unknown) = violations(&src);
    assert!(
        unknown.is_empty(),
        "top-level modules missing from LAYERS in tests/it/architecture.rs: {unknown:?}"
    );
    assert!(
        problems.is_empty(),
        "a layer imports from a layer above it (see docs/ARCHITECTURE.md):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checker_sees_imports_and_ignores_tests_comments_and_strings() {
    let module = vec!["settings".to_owned()];
    let code = without_test_items(&code_only(
        r#"
        use crate::{auth::extract::AdminUser, domain::{Email, Handle}, jobs};
        use crate::state::AppState;
        /// See [`crate::documents`].
        fn f() { let _ = "crate::topics"; let _ = '"'; crate::folders::x(); }
        // crate::shares
        #[cfg(test)]
        mod tests { use crate::admin; fn g() { if true { } } }
        fn h() -> &'static str { crate::time::now(); "" }
        "#,
    ));
    let found = referenced_modules(&code, &module);
    let expected: BTreeSet<String> = ["auth", "domain", "jobs", "state", "folders", "time"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(found, expected);

    let nested = vec!["settings".to_owned(), "values".to_owned()];
    let found = referenced_modules("use super::list; use super::super::auth;", &nested);
    assert_eq!(found, ["auth".to_owned()].into_iter().collect());
    let entities = vec!["entities".to_owned()];
    let found = referenced_modules(
        "pub mod prelude { pub use super::documents::Entity; }\nuse super::http;",
        &entities,
    );
    assert_eq!(found, ["http".to_owned()].into_iter().collect());
    assert_eq!(
        module_path(Path::new("security/mod.rs")),
        ["security".to_owned()]
    );
    assert_eq!(module_path(Path::new("lib.rs")), Vec::<String>::new());
    assert_eq!(module_path(Path::new("http.rs")), ["http".to_owned()]);
}

#[test]
fn integration_tests_are_one_binary() {
    // Every `tests/*.rs` file is a separate test binary that links the whole crate again;
    // integration tests are modules of `tests/it/main.rs` instead.
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut stray: Vec<String> = std::fs::read_dir(&tests)
        .expect("tests/ is readable")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "rs"))
        .map(|path| path.display().to_string())
        .collect();
    stray.sort();
    assert!(
        stray.is_empty(),
        "make these modules of tests/it/main.rs: {stray:?}"
    );
    let main = std::fs::read_to_string(tests.join("it/main.rs")).expect("tests/it/main.rs");
    for entry in std::fs::read_dir(tests.join("it")).expect("tests/it is readable") {
        let path = entry.expect("entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs") && stem != "main" {
            assert!(
                main.contains(&format!("mod {stem};")),
                "tests/it/{stem}.rs is not a module of tests/it/main.rs, so it never runs"
            );
        }
    }
}
