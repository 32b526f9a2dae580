//! What most end-to-end tests use, in one import: `use ochre_tests::prelude::*;`.
//! A module imports anything else it needs by name.

pub use ochre_sdk::v1::Role;
pub use tonic::Code;

pub use crate::{
    AppOptions, TestApp,
    caller::{
        Credential, become_caller, begin_as, forge_settings, org_of, seed_session_sql, verify,
    },
    checks::Checks,
    clients::{
        ApiKeyClient, AuthClient, BudgetClient, ConversationClient, CustomerClient, ExportClient,
        GrpcClient, HealthClient, IntegrationClient, MemberClient, OrgClient, ReflectionClient,
        SurveyClient, SystemClient, WebhookClient,
    },
    clock::unix_now,
    identity::{
        Session, add_member, code_of, create_api_key, create_org, signup_and_login, unique_email,
        with_auth,
    },
    random_key, random_secret, spawn_app, spawn_app_with,
    support::Caller,
};
