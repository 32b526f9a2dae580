//! One way to build a gRPC client: `app.client::<AuthClient>()` on the test
//! server's channel, `AuthClient::on(channel)` on any other (a spawned
//! `ochre`, a load generator's worker).

use ochre_sdk::v1::{
    api_key_service_client::ApiKeyServiceClient, auth_service_client::AuthServiceClient,
    budget_service_client::BudgetServiceClient,
    conversation_service_client::ConversationServiceClient,
    customer_service_client::CustomerServiceClient, export_service_client::ExportServiceClient,
    integration_service_client::IntegrationServiceClient,
    member_service_client::MemberServiceClient, org_service_client::OrgServiceClient,
    survey_service_client::SurveyServiceClient, system_service_client::SystemServiceClient,
    webhook_service_client::WebhookServiceClient,
};
use tonic::transport::Channel;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;

use crate::TestApp;

pub type ApiKeyClient = ApiKeyServiceClient<Channel>;
pub type AuthClient = AuthServiceClient<Channel>;
pub type BudgetClient = BudgetServiceClient<Channel>;
pub type ConversationClient = ConversationServiceClient<Channel>;
pub type CustomerClient = CustomerServiceClient<Channel>;
pub type ExportClient = ExportServiceClient<Channel>;
pub type HealthClient = tonic_health::pb::health_client::HealthClient<Channel>;
pub type IntegrationClient = IntegrationServiceClient<Channel>;
pub type MemberClient = MemberServiceClient<Channel>;
pub type OrgClient = OrgServiceClient<Channel>;
pub type ReflectionClient = ServerReflectionClient<Channel>;
pub type SurveyClient = SurveyServiceClient<Channel>;
pub type SystemClient = SystemServiceClient<Channel>;
pub type WebhookClient = WebhookServiceClient<Channel>;

/// A gRPC client made on a channel.
pub trait GrpcClient: Sized {
    fn on(channel: Channel) -> Self;
}

macro_rules! grpc_clients {
    ($($client:ty),* $(,)?) => {$(
        impl GrpcClient for $client {
            fn on(channel: Channel) -> Self {
                <$client>::new(channel)
            }
        }
    )*};
}

grpc_clients!(
    ApiKeyClient,
    AuthClient,
    BudgetClient,
    ConversationClient,
    CustomerClient,
    ExportClient,
    HealthClient,
    IntegrationClient,
    MemberClient,
    OrgClient,
    ReflectionClient,
    SurveyClient,
    SystemClient,
    WebhookClient,
);

impl TestApp {
    /// A client of any service of this server, on its channel.
    pub fn client<C: GrpcClient>(&self) -> C {
        C::on(self.channel.clone())
    }

    /// A client on a new connection from the loopback address `from` (any
    /// of 127.0.0.0/8), so the server sees that client address.
    pub async fn client_from<C: GrpcClient>(&self, from: std::net::IpAddr) -> C {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("endpoint")
            .local_address(Some(from))
            .connect()
            .await
            .expect("connect from a loopback address");
        C::on(channel)
    }
}
