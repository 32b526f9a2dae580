//! `ochre export --org ID --out FILE`: the operator's archive, read as the
//! owner role, has the same format and tables as ExportWorkspace's, and an
//! existing file is refused unless `--force`.

use ochre_tests::{ochre_against, prelude::*};

use super::{export, unzip};

/// Runs `ochre export --org <org> --out <out> <extra>` against the test
/// database: success, stdout, stderr.
async fn ochre_export(
    app: &TestApp,
    org: &str,
    out: &std::path::Path,
    extra: &[&str],
) -> (bool, String, String) {
    let output = ochre_against(app)
        .args(["export", "--org", org, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .await
        .expect("run ochre export");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

#[tokio::test]
async fn ochre_export_writes_the_same_archive_format_and_refuses_an_existing_file() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("cli-marker@example.com").await;
    api.conversation(&customer.id, "CLI subject").await;
    let other = signup_and_login(&app, &unique_email()).await;
    let other_org = create_org(&app, &other, "Elsewhere").await;
    Caller::user(&app, &other, &other_org)
        .customer("cli-other@example.com")
        .await;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("acme.zip");
    let (ok, stdout, stderr) = ochre_export(&app, &org, &out, &[]).await;
    assert!(ok, "ochre export failed: {stderr}");
    assert!(
        stdout.starts_with(&format!("ochre export: org {org}")),
        "{stdout}"
    );
    let archive = unzip(&std::fs::read(&out).unwrap());
    archive.assert_consistent(&org);
    let text = String::from_utf8(archive.all_bytes()).unwrap();
    assert!(text.contains("cli-marker@example.com"));
    assert!(!text.contains("cli-other@example.com"));
    assert!(!text.contains(&other_org));

    // The same tables, in the same order, as the RPC's archive.
    let rpc = unzip(&export(&app, &owner.access_token, &org, "").await.unwrap());
    let names = |a: &super::Archive| -> Vec<serde_json::Value> {
        a.manifest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["table"].clone())
            .collect()
    };
    assert_eq!(names(&archive), names(&rpc));
    assert_eq!(archive.rows("customers"), rpc.rows("customers"));

    // An existing file is refused and left as it was; --force replaces it.
    std::fs::write(&out, b"keep me").unwrap();
    let (ok, _, stderr) = ochre_export(&app, &org, &out, &[]).await;
    assert!(!ok);
    assert!(stderr.contains("exists"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let (ok, _, stderr) = ochre_export(&app, &org, &out, &["--force"]).await;
    assert!(ok, "{stderr}");
    unzip(&std::fs::read(&out).unwrap()).assert_consistent(&org);

    // An unknown org is an error and writes nothing.
    let missing = dir.path().join("none.zip");
    let (ok, _, stderr) =
        ochre_export(&app, &uuid::Uuid::new_v4().to_string(), &missing, &[]).await;
    assert!(!ok && stderr.contains("no org"), "{stderr}");
    assert!(!missing.exists());
}
