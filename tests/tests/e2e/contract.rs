//! The contract gate: every RPC declares an access rule, the generated table
//! matches the descriptors, and a contract without a rule is refused with the
//! RPC named.

use ochre_sdk::{
    access::{ACCESS_RULES, Rule, access_for, rule_for},
    contract::{DeclaredRule, audit},
    v1::Role,
};
use prost_reflect::DescriptorPool;

fn shipped_pool() -> DescriptorPool {
    DescriptorPool::decode(ochre_sdk::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

/// Compiles `extra` next to a copy of the real `access.proto` with protox.
fn compile_with(extra: &str) -> DescriptorPool {
    let dir = tempfile::tempdir().expect("tempdir");
    let v1 = dir.path().join("ochre/v1");
    std::fs::create_dir_all(&v1).expect("mkdir");
    let access = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../proto/ochre/v1/access.proto"
    );
    std::fs::copy(access, v1.join("access.proto")).expect("copy access.proto");
    std::fs::write(v1.join("extra.proto"), extra).expect("write extra.proto");
    let mut compiler = protox::Compiler::new([dir.path()]).expect("compiler");
    compiler.include_imports(true);
    compiler
        .open_file("ochre/v1/extra.proto")
        .expect("compile extra.proto");
    compiler.descriptor_pool()
}

const HEADER: &str = "syntax = \"proto3\";\npackage ochre.v1;\nimport \"ochre/v1/access.proto\";\n\
                      message Ping {}\n";

#[test]
fn every_rpc_of_the_shipped_contract_declares_a_rule() {
    let rules = audit(&shipped_pool()).expect("the shipped contract passes the audit");
    assert!(!rules.is_empty());
}

#[test]
fn the_generated_access_table_matches_the_descriptors_exactly() {
    let rules = audit(&shipped_pool()).expect("audit");
    let generated: Vec<&str> = ACCESS_RULES.iter().map(|m| m.method).collect();
    let declared: Vec<&str> = rules.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(generated, declared, "the table must list every RPC, sorted");
    for declared in &rules {
        let rule = rule_for(&declared.path).expect("every RPC has a rule");
        match (&declared.rule, rule) {
            (DeclaredRule::Public, Rule::Public) => {}
            (DeclaredRule::Authenticated, Rule::Authenticated) => {}
            (DeclaredRule::Roles(names), Rule::Roles(roles)) => {
                let generated: Vec<&str> = roles.iter().map(|r| r.as_str_name()).collect();
                assert_eq!(names, &generated, "roles of {}", declared.path);
            }
            (d, g) => panic!("{}: declared {d:?}, generated {g:?}", declared.path),
        }
        let entry = access_for(&declared.path).expect("every RPC has an entry");
        assert_eq!(
            entry.owners_while_pending_deletion, declared.owners_while_pending_deletion,
            "pending-deletion flag of {}",
            declared.path
        );
        assert_eq!(
            entry.rate.as_str_name(),
            declared.rate,
            "rate class of {}",
            declared.path
        );
    }
}

#[test]
fn a_method_without_an_access_rule_fails_the_audit_and_is_named() {
    let pool = compile_with(&format!(
        "{HEADER}service AuditProbeService {{\n\
           rpc Covered(Ping) returns (Ping) {{ option (ochre.v1.access) = {{public: true, rate: RATE_CLASS_PUBLIC}}; }}\n\
           rpc Forgotten(Ping) returns (Ping);\n\
         }}\n"
    ));
    let violations = audit(&pool).expect_err("a missing rule must fail the audit");
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].path, "/ochre.v1.AuditProbeService/Forgotten");
    assert!(
        violations[0].problem.contains("no access rule"),
        "{}",
        violations[0]
    );
}

#[test]
fn every_missing_rule_is_reported_not_only_the_first() {
    let pool = compile_with(&format!(
        "{HEADER}service AuditProbeService {{\n\
           rpc A(Ping) returns (Ping);\n\
           rpc B(Ping) returns (Ping);\n\
         }}\n"
    ));
    let violations = audit(&pool).expect_err("missing rules");
    let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/ochre.v1.AuditProbeService/A",
            "/ochre.v1.AuditProbeService/B"
        ]
    );
}

#[test]
fn an_empty_or_mixed_rule_is_refused() {
    for (rule, expected) in [
        ("{}", "names no role"),
        ("{public: true, roles: [ROLE_OWNER]}", "exactly one"),
        ("{public: true, authenticated: true}", "exactly one"),
        ("{roles: [ROLE_UNSPECIFIED]}", "not a valid role"),
        ("{roles: [ROLE_ADMIN, ROLE_ADMIN]}", "listed twice"),
        ("{roles: [ROLE_ADMIN]}", "no rate class"),
        ("{public: true}", "no rate class"),
        ("{public: true, rate: RATE_CLASS_READ}", "does not fit"),
        (
            "{roles: [ROLE_ADMIN], rate: RATE_CLASS_SIGN_IN}",
            "does not fit",
        ),
        (
            "{authenticated: true, rate: RATE_CLASS_PUBLIC}",
            "does not fit",
        ),
    ] {
        let pool = compile_with(&format!(
            "{HEADER}service AuditProbeService {{\n\
               rpc Bad(Ping) returns (Ping) {{ option (ochre.v1.access) = {rule}; }}\n\
             }}\n"
        ));
        let violations = audit(&pool).expect_err(rule);
        assert!(
            violations[0].problem.contains(expected),
            "{rule}: {}",
            violations[0]
        );
    }
}

#[test]
fn a_roles_rule_keeps_its_roles_in_declaration_order() {
    let pool = compile_with(&format!(
        "{HEADER}service AuditProbeService {{\n\
           rpc Write(Ping) returns (Ping) {{\n\
             option (ochre.v1.access) = {{roles: [ROLE_OWNER, ROLE_ADMIN, ROLE_AGENT], rate: RATE_CLASS_WRITE}};\n\
           }}\n\
         }}\n"
    ));
    let rules = audit(&pool).expect("valid rule");
    assert_eq!(
        rules[0].rule,
        DeclaredRule::Roles(vec![
            "ROLE_OWNER".into(),
            "ROLE_ADMIN".into(),
            "ROLE_AGENT".into()
        ])
    );
}

#[test]
fn a_roles_rule_allows_only_the_roles_it_names() {
    let rule = Rule::Roles(&[Role::Owner, Role::Admin]);
    assert!(rule.allows_role(Role::Owner));
    assert!(rule.allows_role(Role::Admin));
    assert!(!rule.allows_role(Role::Agent));
    assert!(!rule.allows_role(Role::LightAgent));
}

#[test]
fn an_unknown_path_has_no_rule() {
    assert_eq!(rule_for("/ochre.v1.SystemService/Nope"), None);
    assert_eq!(rule_for(""), None);
}

/// One line per RPC: its path and who may call it.
fn rendered_access_table() -> String {
    let mut out = String::new();
    for m in ACCESS_RULES {
        let who = match m.rule {
            Rule::Public => "public".to_owned(),
            Rule::Authenticated => "authenticated".to_owned(),
            Rule::Roles(roles) => roles
                .iter()
                .map(|r| match r {
                    Role::Owner => "owner",
                    Role::Admin => "admin",
                    Role::Agent => "agent",
                    Role::LightAgent => "light_agent",
                    Role::Unspecified => "unspecified",
                })
                .collect::<Vec<_>>()
                .join(","),
        };
        let pending = if m.owners_while_pending_deletion {
            " +owners_while_pending_deletion"
        } else {
            ""
        };
        let rate = m
            .rate
            .as_str_name()
            .trim_start_matches("RATE_CLASS_")
            .to_ascii_lowercase();
        out.push_str(&format!("{} {who}{pending} rate={rate}\n", m.method));
    }
    out
}

/// The committed table of every RPC's access rule (`proto/access_rules.txt`).
/// The role matrix derives its expectations from the generated table, so a
/// loosened rule in the proto would go unnoticed there: this comparison makes
/// every rule change a deliberate, reviewed edit of the committed file.
#[test]
fn the_access_rules_match_the_committed_table_line_for_line() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/access_rules.txt");
    let committed = std::fs::read_to_string(path).expect("proto/access_rules.txt");
    let committed: Vec<&str> = committed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let rendered = rendered_access_table();
    let rendered: Vec<&str> = rendered.lines().collect();
    let only_committed: Vec<_> = committed.iter().filter(|l| !rendered.contains(l)).collect();
    let only_contract: Vec<_> = rendered.iter().filter(|l| !committed.contains(l)).collect();
    assert!(
        only_committed.is_empty() && only_contract.is_empty(),
        "the contract's access rules differ from proto/access_rules.txt \
         (edit the file deliberately when a rule changes):\n\
         only in the file: {only_committed:#?}\nonly in the contract: {only_contract:#?}"
    );
}

#[test]
fn the_committed_table_catches_a_loosened_rule() {
    // GetIntegrationToken given to agents (a mutation the role matrix alone
    // does not notice): its line would no longer match.
    let loosened = rendered_access_table().replace(
        "/ochre.v1.IntegrationService/GetIntegrationToken owner,admin rate=privileged\n",
        "/ochre.v1.IntegrationService/GetIntegrationToken owner,admin,agent rate=privileged\n",
    );
    assert_ne!(
        loosened,
        rendered_access_table(),
        "the rule is in the table"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/access_rules.txt");
    let committed = std::fs::read_to_string(path).expect("proto/access_rules.txt");
    assert!(committed.contains(
        "/ochre.v1.IntegrationService/GetIntegrationToken owner,admin rate=privileged\n"
    ));
    assert!(!committed.contains("GetIntegrationToken owner,admin,agent"));
}
