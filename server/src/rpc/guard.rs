//! `ochre.v1.GuardService`: screening a text with the input guard.

use ochre_sdk::v1::{
    GuardCategory, GuardScreening, GuardSource, GuardVerdict, ScreenTextRequest,
    ScreenTextResponse, guard_service_server::GuardService,
};
use tonic::{Request, Response, Status};

use crate::{
    db::store::guard as store,
    error::ApiError,
    gate::principal,
    guard::{Category, Screening, Verdict},
    rpc::{state::AppState, validate::MAX_BODY_BYTES},
};

/// The handler of `GuardService`.
#[derive(Debug, Clone)]
pub struct GuardApi {
    state: AppState,
}

impl GuardApi {
    pub fn new(state: AppState) -> Self {
        GuardApi { state }
    }
}

fn source(v: i32) -> Result<&'static str, ApiError> {
    match GuardSource::try_from(v) {
        Ok(GuardSource::InboundEmail) => Ok("inbound_email"),
        Ok(GuardSource::Chat) => Ok("chat"),
        Ok(GuardSource::CustomerProfile) => Ok("customer_profile"),
        Ok(GuardSource::AgentPrompt) => Ok("agent_prompt"),
        _ => Err(ApiError::invalid_field(
            "source",
            "source must be INBOUND_EMAIL, CHAT, CUSTOMER_PROFILE or AGENT_PROMPT",
        )),
    }
}

fn text(t: &str) -> Result<(), ApiError> {
    if t.is_empty() {
        return Err(ApiError::required("text"));
    }
    if t.contains('\0') {
        return Err(ApiError::invalid_field(
            "text",
            "text must not contain NUL characters",
        ));
    }
    if t.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid_field(
            "text",
            format!("text is too large ({MAX_BODY_BYTES} bytes at most)"),
        ));
    }
    Ok(())
}

fn category(c: Category) -> GuardCategory {
    match c {
        Category::InstructionOverride => GuardCategory::InstructionOverride,
        Category::RoleplayJailbreak => GuardCategory::RoleplayJailbreak,
        Category::SystemPromptExtraction => GuardCategory::SystemPromptExtraction,
        Category::DataExfiltration => GuardCategory::DataExfiltration,
        Category::EncodedPayload => GuardCategory::EncodedPayload,
    }
}

/// A stored screening (verdict, category names, rule version) as the proto.
pub fn screening(verdict: &str, categories: &[String], version: &str) -> Option<GuardScreening> {
    let verdict = match Verdict::parse(verdict)? {
        Verdict::Allow => GuardVerdict::Allow,
        Verdict::Flag => GuardVerdict::Flag,
        Verdict::Block => GuardVerdict::Block,
    };
    Some(GuardScreening {
        verdict: verdict as i32,
        categories: categories
            .iter()
            .filter_map(|c| Category::parse(c))
            .map(|c| category(c) as i32)
            .collect(),
        rules_version: version.to_owned(),
    })
}

fn to_proto(s: &Screening) -> Option<GuardScreening> {
    let names: Vec<String> = s.categories.iter().map(|c| c.as_str().to_owned()).collect();
    screening(s.verdict.as_str(), &names, &s.rules_version)
}

#[tonic::async_trait]
impl GuardService for GuardApi {
    async fn screen_text(
        &self,
        request: Request<ScreenTextRequest>,
    ) -> Result<Response<ScreenTextResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        text(&req.text)?;
        let source = source(req.source)?;
        p.require_org()?;
        let s = self.state.guard.screen(&req.text);
        if s.verdict.is_flagged() {
            let tx = p.tenant(&self.state.db).await?;
            store::record_screening(&tx, source, &s, &p.audit()).await?;
            tx.commit().await?;
        }
        Ok(Response::new(ScreenTextResponse {
            screening: to_proto(&s),
        }))
    }
}
