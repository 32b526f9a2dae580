//! The generated code of the TypeScript package `@ochre/client` against the
//! real server over gRPC-web, in Node: `node --test clients/ts/test/` (the
//! package in a real browser: `browser_ts`).

use std::{path::Path, process::Command};

#[tokio::test]
async fn the_generated_typescript_client_calls_the_server_over_grpc_web() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("clients/ts/dist/gen/ochre/v1/system_pb.js")
            .exists()
            && root.join("node_modules/@connectrpc/connect-web").exists(),
        "the TypeScript package is not built: run `make build-ts` (make test does)"
    );
    // A survey for the customer-facing calls (public, from the browser).
    let scene = crate::surveys::scene().await;
    let survey_token = scene.send().await.token;
    let app = &scene.app;
    let url = format!("http://{}", app.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "clients/ts/test/"])
            .current_dir(root)
            .env("OCHRE_TEST_URL", url)
            .env("OCHRE_TEST_SURVEY_TOKEN", survey_token)
            .output()
            .expect("run node")
    })
    .await
    .expect("node task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("# pass 6"),
        "expected 6 passing node tests:\n{stdout}"
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
}
