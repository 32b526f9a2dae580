//! `ochre.v1.ExportService`: the org's data as one ZIP archive, read in
//! one REPEATABLE READ snapshot as the app role under RLS, streamed in
//! chunks. See `crate::exports` for the registry and the archive.

use std::pin::Pin;

use ochre_sdk::v1::{
    ExportWorkspaceRequest, ExportWorkspaceResponse, export_service_server::ExportService,
};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{convert::ts, identity::reauth::current_code};
use crate::{
    db::{
        DbError,
        store::{
            audit::{self, AuditTarget},
            users,
        },
    },
    error::{ApiError, Reason},
    exports::{
        archive::{self, CHUNK_BYTES, ExportError},
        read,
    },
    gate::principal,
    rpc::state::AppState,
};

/// The handler of `ExportService`.
#[derive(Debug, Clone)]
pub struct ExportApi {
    state: AppState,
}

impl ExportApi {
    pub fn new(state: AppState) -> Self {
        ExportApi { state }
    }
}

fn export_error(e: ExportError) -> ApiError {
    match e {
        ExportError::Db(e) => ApiError::from(DbError(e)),
        ExportError::TooLarge => ApiError::ResourceExhausted(
            Reason::ExportTooLarge,
            "the workspace is too large to export in one archive: ask the operator (ochre export)"
                .into(),
        ),
        ExportError::Zip(_) | ExportError::Io(_) => ApiError::Corrupt("export archive"),
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<ExportWorkspaceResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ExportService for ExportApi {
    type ExportWorkspaceStream = ChunkStream;

    async fn export_workspace(
        &self,
        request: Request<ExportWorkspaceRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let p = principal(&request)?;
        let (org, _) = p.require_org()?;
        let db = &self.state.db;
        // A signed-in caller with TOTP enabled proves a current code first
        // (the gate's transaction; the spent step is committed).
        if p.user_id().is_some() {
            let tx = p.tenant(db).await?;
            let me = users::me(&tx)
                .await?
                .ok_or_else(ApiError::unauthenticated)?;
            match current_code(&self.state, &me, &request.get_ref().totp_code).await {
                Ok(Some(step)) => {
                    users::set_totp_last_step(&tx, step).await?;
                    tx.commit().await?;
                }
                Ok(None) => tx.finish_read().await?,
                Err(e) => {
                    tx.finish_read().await?;
                    return Err(e.into());
                }
            }
        }
        let tx = p.snapshot(db).await?;
        let snapshot = read::snapshot(tx.conn(), org).await.map_err(export_error)?;
        tx.finish_read().await?;
        let bytes = archive::build(&snapshot).map_err(export_error)?;
        let digest = archive::sha256(&bytes);

        let tx = p.tenant(db).await?;
        audit::record(
            &tx,
            "workspace.exported",
            AuditTarget::org(),
            serde_json::json!({ "tables": snapshot.counts() }),
            &p.audit(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(%org, bytes = bytes.len(), "workspace exported");

        let total = bytes.len() as u64;
        let time = ts(snapshot.time);
        let chunks: Vec<Result<ExportWorkspaceResponse, Status>> = bytes
            .chunks(CHUNK_BYTES)
            .enumerate()
            .map(|(i, data)| {
                let first = i == 0;
                Ok(ExportWorkspaceResponse {
                    data: data.to_vec(),
                    total_size: if first { total } else { 0 },
                    archive_sha256: if first { digest.clone() } else { Vec::new() },
                    snapshot_time: first.then_some(time),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}
