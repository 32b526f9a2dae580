//! `ochre.v1.CustomerService`: customer profiles.

use ochre_sdk::v1::{
    Customer, CustomerErasureReceipt, EraseCustomerRequest, EraseCustomerResponse,
    FindCustomerByEmailRequest, FindCustomerByEmailResponse, GetCustomerRequest,
    GetCustomerResponse, HubSpotContext, ListCustomersRequest, ListCustomersResponse,
    StripeContext, UpsertCustomerRequest, UpsertCustomerResponse,
    customer_service_server::CustomerService,
};
use serde_json::{Value as Json, json};
use tonic::{Request, Response, Status};

use super::{
    convert::{parse_id, ts},
    pager::{ListKind, page_size},
    request_ids::{self, fresh_or_replay},
    validate,
};
use crate::ids::CustomerId;
use crate::{
    db::store::customers::{self, CustomerInput, CustomerRow},
    db::store::erasures::{self, ErasureRow},
    db::store::request_ids::About,
    error::ApiError,
    gate::principal,
    rpc::state::AppState,
    rpc::validate::normalize_email,
};

/// The handler of `CustomerService`.
#[derive(Debug, Clone)]
pub struct CustomerApi {
    state: AppState,
}

impl CustomerApi {
    pub fn new(state: AppState) -> Self {
        CustomerApi { state }
    }
}

fn text(v: &Json, k: &str) -> String {
    v.get(k)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn short(field: &str, value: &str) -> Result<String, ApiError> {
    if value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field.to_owned(),
            format!("{field} must be at most 200 printable characters"),
        ));
    }
    Ok(value.to_owned())
}

fn stripe_json(s: &StripeContext) -> Result<Json, ApiError> {
    Ok(json!({
        "customer_id": short("stripe.customer_id", &s.customer_id)?, "plan": short("stripe.plan", &s.plan)?,
        "mrr_cents": s.mrr_cents, "currency": short("stripe.currency", &s.currency)?,
        "subscription_status": short("stripe.subscription_status", &s.subscription_status)?,
    }))
}

fn hubspot_json(h: &HubSpotContext) -> Result<Json, ApiError> {
    Ok(json!({
        "contact_id": short("hubspot.contact_id", &h.contact_id)?,
        "lifecycle_stage": short("hubspot.lifecycle_stage", &h.lifecycle_stage)?,
        "lead_status": short("hubspot.lead_status", &h.lead_status)?,
        "company": short("hubspot.company", &h.company)?, "deal_stage": short("hubspot.deal_stage", &h.deal_stage)?,
    }))
}

fn message(c: &CustomerRow) -> Customer {
    Customer {
        id: c.id.to_string(),
        email: c.email.clone(),
        name: c.name.clone(),
        phone: c.phone.clone(),
        custom_fields: validate::custom_fields_from(&c.custom_fields),
        stripe: c.stripe.as_ref().map(|s| StripeContext {
            customer_id: text(s, "customer_id"),
            plan: text(s, "plan"),
            mrr_cents: s
                .get("mrr_cents")
                .and_then(Json::as_i64)
                .unwrap_or_default(),
            currency: text(s, "currency"),
            subscription_status: text(s, "subscription_status"),
        }),
        hubspot: c.hubspot.as_ref().map(|h| HubSpotContext {
            contact_id: text(h, "contact_id"),
            lifecycle_stage: text(h, "lifecycle_stage"),
            lead_status: text(h, "lead_status"),
            company: text(h, "company"),
            deal_stage: text(h, "deal_stage"),
        }),
        created_at: Some(ts(c.created_at)),
        updated_at: Some(ts(c.updated_at)),
        ai_blocked_until: c.ai_blocked_until.map(ts),
    }
}

fn email(raw: &str) -> Result<String, ApiError> {
    normalize_email(raw)
        .ok_or_else(|| ApiError::invalid_field("email", "email is not a valid address"))
}

fn receipt(r: &ErasureRow) -> CustomerErasureReceipt {
    let n = |k: &str| r.counts.get(k).and_then(Json::as_i64).unwrap_or_default();
    CustomerErasureReceipt {
        id: r.id.to_string(),
        customer_id: r.customer_id.to_string(),
        erased_at: Some(ts(r.erased_at)),
        customers: n("customers"),
        conversations: n("conversations"),
        messages: n("messages"),
        internal_notes: n("internal_notes"),
        ai_drafts: n("ai_drafts"),
        attachments: n("attachments"),
        surveys: n("surveys"),
        survey_responses: n("survey_responses"),
        redacted_messages: n("redacted_messages"),
        redacted_subjects: n("redacted_subjects"),
        redacted_survey_comments: n("redacted_survey_comments"),
        redacted_custom_fields: n("redacted_custom_fields"),
    }
}

#[tonic::async_trait]
impl CustomerService for CustomerApi {
    async fn upsert_customer(
        &self,
        request: Request<UpsertCustomerRequest>,
    ) -> Result<Response<UpsertCustomerResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let input = CustomerInput {
            email: email(&req.email)?,
            name: validate::name(&req.name)?,
            phone: validate::phone(&req.phone)?,
            custom_fields: validate::custom_fields(&req.custom_fields)?,
            stripe: req.stripe.as_ref().map(stripe_json).transpose()?,
            hubspot: req.hubspot.as_ref().map(hubspot_json).transpose()?,
        };
        let (org, _) = p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let ticket = fresh_or_replay!(
            request_ids::start(&self.state, &tx, &p, req, org).await?,
            tx
        );
        let (row, created) = customers::upsert(&tx, CustomerId::generate(), input).await?;
        let answer = UpsertCustomerResponse {
            customer: Some(message(&row)),
            created,
        };
        let about = About {
            customer: Some(row.id),
            ..About::default()
        };
        ticket.keep(&self.state, &tx, &answer, about).await?;
        tx.commit().await?;
        Ok(Response::new(answer))
    }

    async fn get_customer(
        &self,
        request: Request<GetCustomerRequest>,
    ) -> Result<Response<GetCustomerResponse>, Status> {
        let p = principal(&request)?;
        let id = parse_id("customer_id", &request.get_ref().customer_id)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let row = customers::get(&tx, id)
            .await?
            .ok_or(ApiError::not_found())?;
        tx.finish_read().await?;
        Ok(Response::new(GetCustomerResponse {
            customer: Some(message(&row)),
        }))
    }

    async fn list_customers(
        &self,
        request: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        let p = principal(&request)?;
        let size = page_size(request.get_ref().page_size)?;
        let (org, _) = p.require_org()?;
        let after =
            self.state
                .pager
                .resume(&request.get_ref().page_token, ListKind::Customers, org, "")?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let mut rows = customers::list(&tx, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token =
            self.state
                .pager
                .finish(&mut rows, size, false, ListKind::Customers, org, "", |r| {
                    r.id
                });
        Ok(Response::new(ListCustomersResponse {
            customers: rows.iter().map(message).collect(),
            next_page_token,
        }))
    }

    async fn find_customer_by_email(
        &self,
        request: Request<FindCustomerByEmailRequest>,
    ) -> Result<Response<FindCustomerByEmailResponse>, Status> {
        let p = principal(&request)?;
        let email = email(&request.get_ref().email)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let row = customers::by_email(&tx, &email)
            .await?
            .ok_or(ApiError::not_found())?;
        tx.finish_read().await?;
        Ok(Response::new(FindCustomerByEmailResponse {
            customer: Some(message(&row)),
        }))
    }

    async fn erase_customer(
        &self,
        request: Request<EraseCustomerRequest>,
    ) -> Result<Response<EraseCustomerResponse>, Status> {
        let p = principal(&request)?;
        let id: CustomerId = parse_id("customer_id", &request.get_ref().customer_id)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let row = erasures::erase_customer(&tx, id, &p.audit())
            .await?
            .ok_or(ApiError::not_found())?;
        tx.commit().await?;
        Ok(Response::new(EraseCustomerResponse {
            receipt: Some(receipt(&row)),
        }))
    }
}
