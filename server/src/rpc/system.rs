//! `ochre.v1.SystemService`: public facts about the server and its contract.

use ochre_sdk::{
    access::ACCESS_RULES,
    v1::{
        GetServerInfoRequest, GetServerInfoResponse, ListAccessRulesRequest,
        ListAccessRulesResponse, MethodAccessRule, system_service_server::SystemService,
    },
};
use tonic::{Request, Response, Status};

use super::pager::{ListKind, Pager, page_size_of};

/// The handler of `SystemService`.
#[derive(Debug, Clone)]
pub struct SystemApi {
    pager: Pager,
}

impl SystemApi {
    pub fn new(pager: Pager) -> Self {
        SystemApi { pager }
    }
}

#[tonic::async_trait]
impl SystemService for SystemApi {
    async fn get_server_info(
        &self,
        _request: Request<GetServerInfoRequest>,
    ) -> Result<Response<GetServerInfoResponse>, Status> {
        Ok(Response::new(GetServerInfoResponse {
            name: "ochre".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            api_version: "ochre.v1".to_owned(),
        }))
    }

    async fn list_access_rules(
        &self,
        request: Request<ListAccessRulesRequest>,
    ) -> Result<Response<ListAccessRulesResponse>, Status> {
        let req = request.get_ref();
        let kind = ListKind::AccessRules;
        let size = page_size_of(req.page_size, kind.default_page())?;
        let (page, next_page_token) =
            self.pager
                .page_of(ACCESS_RULES, &req.page_token, kind, size)?;
        let rules = page
            .iter()
            .map(|m| MethodAccessRule {
                method: m.method.to_owned(),
                rule: Some(m.to_message()),
            })
            .collect();
        Ok(Response::new(ListAccessRulesResponse {
            rules,
            next_page_token,
        }))
    }
}
