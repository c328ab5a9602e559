//! Policy tests: files of expected decisions, checked against an engine.
//!
//! # Format
//!
//! CSV without a header; `#` starts a comment line. Each line:
//!
//! `subject, roles, dataset, tier, org, action, expected`
//!
//! - `subject`: a token's `sub`, or `-` for an anonymous caller;
//! - `roles`: roles separated by `;` (empty for none); `publisher:<org>` and
//!   `reviewer:<org>` name organisation roles;
//! - `dataset`, `tier`, `org`: the dataset slug, its tier and its organisation;
//! - `action`: one of the policy actions;
//! - `expected`: `allow` or `deny`.

use std::path::{Path, PathBuf};

use super::{Engine, principal_identities};

/// One expected decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub file: PathBuf,
    pub line: usize,
    pub subject: Option<String>,
    pub roles: Vec<String>,
    pub dataset: String,
    pub tier: String,
    pub org: String,
    pub action: String,
    pub allow: bool,
}

/// Reads every `*.csv` file of `dir` (sorted by name).
pub fn read_dir(dir: &Path) -> Result<Vec<Case>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no .csv policy tests in {}", dir.display()));
    }
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        cases.extend(parse(&file, &text)?);
    }
    Ok(cases)
}

/// Parses one file's text.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{} line {}", file.display(), i + 1);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [subject, roles, dataset, tier, org, action, expected] = fields.as_slice() else {
            return Err(format!(
                "{}: expected 7 fields (subject, roles, dataset, tier, org, action, expected), found {}",
                at(),
                fields.len()
            ));
        };
        let allow = match *expected {
            "allow" => true,
            "deny" => false,
            other => {
                return Err(format!(
                    "{}: expected is 'allow' or 'deny', not '{other}'",
                    at()
                ));
            }
        };
        cases.push(Case {
            file: file.to_path_buf(),
            line: i + 1,
            subject: (*subject != "-").then(|| subject.to_string()),
            roles: roles
                .split(';')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect(),
            dataset: dataset.to_string(),
            tier: tier.to_string(),
            org: org.to_string(),
            action: action.to_string(),
            allow,
        });
    }
    Ok(cases)
}

/// The organisations the cases name, for building their rules.
pub fn orgs(cases: &[Case]) -> Vec<String> {
    let mut orgs: Vec<String> = cases.iter().map(|c| c.org.clone()).collect();
    orgs.sort();
    orgs.dedup();
    orgs
}

/// Runs `cases` against `engine`; returns one message per case that failed.
pub fn run(engine: &Engine, cases: &[Case]) -> Vec<String> {
    cases
        .iter()
        .filter_map(|c| {
            let roles: Vec<&str> = c.roles.iter().map(String::as_str).collect();
            let ids = principal_identities(c.subject.as_deref(), &roles);
            let groups = [format!("tier:{}", c.tier), format!("org:{}", c.org)];
            let d = engine.decide(&ids, &format!("dataset:{}", c.dataset), &groups, &c.action);
            (d.allowed != c.allow).then(|| {
                format!(
                    "{} line {}: {} {} on {} expected {}, got {} ({})",
                    c.file.display(),
                    c.line,
                    c.subject.as_deref().unwrap_or("anonymous"),
                    c.action,
                    c.dataset,
                    if c.allow { "allow" } else { "deny" },
                    if d.allowed { "allow" } else { "deny" },
                    d.rule.unwrap_or(d.reason)
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_mistakes_name_their_line() {
        let f = Path::new("t.csv");
        let cases = parse(f, "# c\n-, , flights, open, bts, data:query, allow\nbob, a;b , x, restricted, bts, catalog:read, deny\n").unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].subject, None);
        assert_eq!(cases[1].roles, ["a", "b"]);
        assert!(!cases[1].allow);
        let e = parse(f, "\n-, , x, open, bts, data:query\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("7 fields"), "{e}");
        let e = parse(f, "-, , x, open, bts, data:query, maybe\n").unwrap_err();
        assert!(e.contains("'maybe'"), "{e}");
    }
}
