//! `ochre.v1.SystemService`: public facts about the server and its contract.

use ochre_sdk::{
    access::ACCESS_RULES,
    v1::{
        GetServerInfoRequest, GetServerInfoResponse, ListAccessRulesRequest,
        ListAccessRulesResponse, MethodAccessRule, system_service_server::SystemService,
    },
};
use tonic::{Request, Response, Status};

/// The handler of `SystemService`.
#[derive(Debug, Default, Clone)]
pub struct SystemApi;

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
        _request: Request<ListAccessRulesRequest>,
    ) -> Result<Response<ListAccessRulesResponse>, Status> {
        let rules = ACCESS_RULES
            .iter()
            .map(|m| MethodAccessRule {
                method: m.method.to_owned(),
                rule: Some(m.to_message()),
            })
            .collect();
        Ok(Response::new(ListAccessRulesResponse { rules }))
    }
}
