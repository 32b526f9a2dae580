//! `ochre.v1.ConversationService`: conversations and messages.

use ochre_sdk::v1::{
    AddMessageRequest, AddMessageResponse, Channel, Conversation, ConversationStatus,
    CreateConversationRequest, CreateConversationResponse, GetConversationRequest,
    GetConversationResponse, ListConversationsRequest, ListConversationsResponse,
    ListMessagesRequest, ListMessagesResponse, Message, MessageKind, UpdateConversationRequest,
    UpdateConversationResponse, conversation_service_server::ConversationService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::{parse_id, ts, ts_opt},
    pager::{ListKind, page_size},
    request_ids::{self, fresh_or_replay},
    validate,
};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::{
    db::store::conversations::{self as store, ConversationRow, MessageRow},
    db::store::guard as guard_store,
    db::store::request_ids::About,
    error::ApiError,
    gate::{Actor, principal},
    rpc::state::AppState,
};

/// The handler of `ConversationService`.
#[derive(Debug, Clone)]
pub struct ConversationApi {
    state: AppState,
}

impl ConversationApi {
    pub fn new(state: AppState) -> Self {
        ConversationApi { state }
    }
}

fn channel(v: i32) -> Result<&'static str, ApiError> {
    match Channel::try_from(v) {
        Ok(Channel::Email) => Ok("email"),
        Ok(Channel::Chat) => Ok("chat"),
        Ok(Channel::Slack) => Ok("slack"),
        _ => Err(ApiError::invalid_field(
            "channel",
            "channel must be EMAIL, CHAT or SLACK",
        )),
    }
}

fn status(v: i32) -> Result<&'static str, ApiError> {
    match ConversationStatus::try_from(v) {
        Ok(ConversationStatus::Open) => Ok("open"),
        Ok(ConversationStatus::Pending) => Ok("pending"),
        Ok(ConversationStatus::Closed) => Ok("closed"),
        _ => Err(ApiError::invalid_field(
            "status",
            "status must be OPEN, PENDING or CLOSED",
        )),
    }
}

fn kind(v: i32) -> Result<&'static str, ApiError> {
    match MessageKind::try_from(v) {
        Ok(MessageKind::InboundEmail) => Ok("inbound_email"),
        Ok(MessageKind::InboundChat) => Ok("inbound_chat"),
        Ok(MessageKind::OutboundReply) => Ok("outbound_reply"),
        Ok(MessageKind::InternalNote) => Ok("internal_note"),
        Ok(MessageKind::AiDraft) => Ok("ai_draft"),
        _ => Err(ApiError::invalid_field(
            "kind",
            "kind must be a known message kind",
        )),
    }
}

fn conversation(c: &ConversationRow) -> Conversation {
    let channel = match c.channel.as_str() {
        "email" => Channel::Email,
        "chat" => Channel::Chat,
        "slack" => Channel::Slack,
        _ => Channel::Unspecified,
    };
    let status = match c.status.as_str() {
        "open" => ConversationStatus::Open,
        "pending" => ConversationStatus::Pending,
        "closed" => ConversationStatus::Closed,
        _ => ConversationStatus::Unspecified,
    };
    Conversation {
        id: c.id.to_string(),
        customer_id: c.customer_id.to_string(),
        channel: channel as i32,
        subject: c.subject.clone(),
        status: status as i32,
        assignee_user_id: c.assignee_id.map(|a| a.to_string()).unwrap_or_default(),
        created_at: Some(ts(c.created_at)),
        updated_at: Some(ts(c.updated_at)),
        last_message_at: ts_opt(c.last_message_at),
    }
}

fn message(m: &MessageRow) -> Message {
    let kind = match m.kind.as_str() {
        "inbound_email" => MessageKind::InboundEmail,
        "inbound_chat" => MessageKind::InboundChat,
        "outbound_reply" => MessageKind::OutboundReply,
        "internal_note" => MessageKind::InternalNote,
        "ai_draft" => MessageKind::AiDraft,
        _ => MessageKind::Unspecified,
    };
    Message {
        id: m.id.to_string(),
        conversation_id: m.conversation_id.to_string(),
        kind: kind as i32,
        body: m.body.clone(),
        author_user_id: m.author_user_id.map(|a| a.to_string()).unwrap_or_default(),
        mention_user_ids: m.mentions.clone(),
        attachments: validate::attachments_from(&m.attachments),
        internal: matches!(kind, MessageKind::InternalNote | MessageKind::AiDraft),
        ai_draft: kind == MessageKind::AiDraft,
        created_at: Some(ts(m.created_at)),
        guard: m.guard_verdict.as_deref().and_then(|v| {
            super::guard::screening(
                v,
                &m.guard_categories,
                m.guard_rules_version.as_deref().unwrap_or_default(),
            )
        }),
    }
}

fn not_member() -> ApiError {
    ApiError::invalid_field("assignee_user_id", "assignee must be a member of this org")
}

#[tonic::async_trait]
impl ConversationService for ConversationApi {
    async fn create_conversation(
        &self,
        request: Request<CreateConversationRequest>,
    ) -> Result<Response<CreateConversationResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let customer = parse_id("customer_id", &req.customer_id)?;
        let channel = channel(req.channel)?;
        let subject = validate::subject(&req.subject)?;
        let (org, _) = p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let ticket = fresh_or_replay!(
            request_ids::start(&self.state, &tx, &p, req, org).await?,
            tx
        );
        let row =
            store::create(&tx, ConversationId::generate(), customer, channel, &subject).await?;
        let answer = CreateConversationResponse {
            conversation: Some(conversation(&row)),
        };
        let about = About {
            customer: Some(customer),
            conversation: Some(row.id),
        };
        ticket.keep(&self.state, &tx, &answer, about).await?;
        tx.commit().await?;
        Ok(Response::new(answer))
    }

    async fn get_conversation(
        &self,
        request: Request<GetConversationRequest>,
    ) -> Result<Response<GetConversationResponse>, Status> {
        let p = principal(&request)?;
        // One round trip (see `Principal::read_one`).
        let row = p
            .read_one(&self.state.db, async |tx| {
                let id = parse_id("conversation_id", &request.get_ref().conversation_id)?;
                store::get(tx, id).await?.ok_or(ApiError::not_found())
            })
            .await?;
        Ok(Response::new(GetConversationResponse {
            conversation: Some(conversation(&row)),
        }))
    }

    async fn list_conversations(
        &self,
        request: Request<ListConversationsRequest>,
    ) -> Result<Response<ListConversationsResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let status = match req.status {
            0 => None,
            s => Some(status(s)?),
        };
        let assignee = match req.assignee_user_id.as_str() {
            "" => None,
            a => Some(parse_id("assignee_user_id", a)?),
        };
        let (org, _) = p.require_org()?;
        let filter = format!(
            "status={};assignee={}",
            status.unwrap_or(""),
            req.assignee_user_id
        );
        let after =
            self.state
                .pager
                .resume(&req.page_token, ListKind::Conversations, org, &filter)?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let mut rows = store::list(&tx, status, assignee, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = self.state.pager.finish(
            &mut rows,
            size,
            false,
            ListKind::Conversations,
            org,
            &filter,
            |r| r.id,
        );
        Ok(Response::new(ListConversationsResponse {
            conversations: rows.iter().map(conversation).collect(),
            next_page_token,
        }))
    }

    async fn update_conversation(
        &self,
        request: Request<UpdateConversationRequest>,
    ) -> Result<Response<UpdateConversationResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let id = parse_id("conversation_id", &req.conversation_id)?;
        let new_status = req.status.map(status).transpose()?;
        let assignee = match req.assignee_user_id.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(a) => Some(Some(UserId::from_uuid(
                Uuid::parse_str(a).map_err(|_| not_member())?,
            ))),
        };
        if new_status.is_none() && assignee.is_none() {
            return Err(ApiError::invalid_field(
                "status",
                "nothing to update: set status and/or assignee_user_id",
            )
            .into());
        }
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        if let Some(Some(user)) = assignee
            && store::count_members(&tx, &[user]).await? != 1
        {
            return Err(not_member().into());
        }
        let row = store::update(&tx, id, new_status, assignee)
            .await?
            .ok_or(ApiError::not_found())?;
        tx.commit().await?;
        Ok(Response::new(UpdateConversationResponse {
            conversation: Some(conversation(&row)),
        }))
    }

    async fn add_message(
        &self,
        request: Request<AddMessageRequest>,
    ) -> Result<Response<AddMessageResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let id = parse_id("conversation_id", &req.conversation_id)?;
        let kind = kind(req.kind)?;
        validate::body(&req.body)?;
        if req.mention_user_ids.len() > validate::MAX_MENTIONS {
            return Err(ApiError::invalid_field("mention_user_ids", "at most 50 mentions").into());
        }
        let mut mentions = Vec::with_capacity(req.mention_user_ids.len());
        for m in &req.mention_user_ids {
            let user = Uuid::parse_str(m).map(UserId::from_uuid).map_err(|_| {
                ApiError::invalid_field("mention_user_ids", "mentions must be members of this org")
            })?;
            if !mentions.contains(&user) {
                mentions.push(user);
            }
        }
        let attachments = validate::attachments(&req.attachments)?;
        let (org, _) = p.require_org()?;
        let (user, key) = match p.actor() {
            Actor::User { user_id, .. } => (Some(user_id), None),
            Actor::ApiKey { key_id } => (None, Some(key_id)),
        };
        // Inbound messages are screened when stored; a flag is recorded
        // against the customer by the database (messages_guard_flag).
        let screening = matches!(kind, "inbound_email" | "inbound_chat")
            .then(|| self.state.guard.screen(&req.body));
        let tx = p.tenant(&self.state.db).await?;
        let ticket = fresh_or_replay!(
            request_ids::start(&self.state, &tx, &p, req, org).await?,
            tx
        );
        if screening.as_ref().is_some_and(|s| s.verdict.is_flagged()) {
            guard_store::set_request_context(&tx, &p.audit()).await?;
        }
        if !mentions.is_empty() && store::count_members(&tx, &mentions).await? != mentions.len() {
            return Err(ApiError::invalid_field(
                "mention_user_ids",
                "mentions must be members of this org",
            )
            .into());
        }
        let row = store::add_message(
            &tx,
            MessageId::generate(),
            id,
            kind,
            &req.body,
            user,
            key,
            &mentions,
            attachments,
            screening.as_ref(),
        )
        .await?
        .ok_or(ApiError::not_found())?;
        let answer = AddMessageResponse {
            message: Some(message(&row)),
        };
        let about = About {
            conversation: Some(id),
            ..About::default()
        };
        ticket.keep(&self.state, &tx, &answer, about).await?;
        tx.commit().await?;
        Ok(Response::new(answer))
    }

    async fn list_messages(
        &self,
        request: Request<ListMessagesRequest>,
    ) -> Result<Response<ListMessagesResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let id: ConversationId = parse_id("conversation_id", &req.conversation_id)?;
        let size = page_size(req.page_size)?;
        let (org, _) = p.require_org()?;
        let filter = id.to_string();
        let after = self
            .state
            .pager
            .resume(&req.page_token, ListKind::Messages, org, &filter)?;
        let tx = p.tenant(&self.state.db).await?;
        if store::get(&tx, id).await?.is_none() {
            return Err(ApiError::not_found().into());
        }
        let mut rows = store::messages(&tx, id, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = self.state.pager.finish(
            &mut rows,
            size,
            false,
            ListKind::Messages,
            org,
            &filter,
            |r| r.id,
        );
        Ok(Response::new(ListMessagesResponse {
            messages: rows.iter().map(message).collect(),
            next_page_token,
        }))
    }
}
