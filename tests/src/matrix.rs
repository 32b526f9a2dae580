//! The role matrix, generated from `ochre_sdk::access::ACCESS_RULES`: every
//! RPC of the contract × a fixed cast of callers, each cell holding what the
//! access gate must answer. A new RPC adds a row without editing anything.
//!
//! Every call carries an empty protobuf body (sent with [`RawCodec`]), so a
//! call the gate lets through reaches a handler that refuses the empty
//! request on its own (INVALID_ARGUMENT, NOT_FOUND, ...) or answers OK; only
//! the gate answers UNAUTHENTICATED or PERMISSION_DENIED.

use ochre_sdk::{
    access::{ACCESS_RULES, Rule},
    v1::Role,
};
use prost::bytes::{Buf as _, BufMut as _};
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// A gRPC codec for raw message bytes: sends them as they are and hands the
/// reply back undecoded.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

/// Encoder half of [`RawCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

/// Decoder half of [`RawCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// Who makes a call. Users send the target org in `x-ochre-org` unless the
/// caller says otherwise; the org header is sent on `Roles` rules only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// No `authorization` header.
    Anonymous,
    /// `Bearer ochre_at_v1.xxx.yyy`: the right shape, nothing valid inside.
    Malformed,
    /// The owner's real access token with its signature altered.
    Tampered,
    /// An access token of the owner's live session, correctly signed but
    /// issued 16 minutes ago (expired).
    Expired,
    /// An access token of a session that logged out.
    RevokedSession,
    /// A member of the target org with this role.
    Member(Role),
    /// The owner, without `x-ochre-org`.
    OwnerWithoutOrg,
    /// The owner, naming an org that does not exist.
    OwnerUnknownOrg,
    /// The owner of another org, naming the target org.
    OtherOrgMember,
    /// An API key of the target org with this role.
    ApiKey(Role),
    /// The admin API key without `x-ochre-org` (it acts in its own org).
    ApiKeyWithoutOrg,
    /// The admin API key naming the other org.
    ApiKeyOtherOrg,
    /// A revoked admin API key of the target org.
    RevokedApiKey,
}

/// The cast, in table column order.
pub const CALLERS: &[CallerKind] = &[
    CallerKind::Anonymous,
    CallerKind::Malformed,
    CallerKind::Tampered,
    CallerKind::Expired,
    CallerKind::RevokedSession,
    CallerKind::Member(Role::Owner),
    CallerKind::Member(Role::Admin),
    CallerKind::Member(Role::Agent),
    CallerKind::Member(Role::LightAgent),
    CallerKind::OwnerWithoutOrg,
    CallerKind::OwnerUnknownOrg,
    CallerKind::OtherOrgMember,
    CallerKind::ApiKey(Role::Admin),
    CallerKind::ApiKey(Role::Agent),
    CallerKind::ApiKey(Role::LightAgent),
    CallerKind::ApiKeyWithoutOrg,
    CallerKind::ApiKeyOtherOrg,
    CallerKind::RevokedApiKey,
];

impl CallerKind {
    /// A short column label.
    pub fn label(self) -> &'static str {
        match self {
            CallerKind::Anonymous => "anon",
            CallerKind::Malformed => "malformed",
            CallerKind::Tampered => "tampered",
            CallerKind::Expired => "expired",
            CallerKind::RevokedSession => "loggedout",
            CallerKind::Member(Role::Owner) => "owner",
            CallerKind::Member(Role::Admin) => "admin",
            CallerKind::Member(Role::Agent) => "agent",
            CallerKind::Member(Role::LightAgent) => "light",
            CallerKind::Member(Role::Unspecified) => "unspec",
            CallerKind::OwnerWithoutOrg => "no-org",
            CallerKind::OwnerUnknownOrg => "unk-org",
            CallerKind::OtherOrgMember => "outsider",
            CallerKind::ApiKey(Role::Owner) => "k:owner",
            CallerKind::ApiKey(Role::Admin) => "k:admin",
            CallerKind::ApiKey(Role::Agent) => "k:agent",
            CallerKind::ApiKey(Role::LightAgent) => "k:light",
            CallerKind::ApiKey(Role::Unspecified) => "k:unspec",
            CallerKind::ApiKeyWithoutOrg => "k:no-org",
            CallerKind::ApiKeyOtherOrg => "k:other",
            CallerKind::RevokedApiKey => "k:revoked",
        }
    }

    /// Whether the caller presents a credential that is not (or no longer)
    /// valid, or none at all.
    pub fn lacks_valid_credential(self) -> bool {
        matches!(
            self,
            CallerKind::Anonymous
                | CallerKind::Malformed
                | CallerKind::Tampered
                | CallerKind::Expired
                | CallerKind::RevokedSession
                | CallerKind::RevokedApiKey
        )
    }

    /// Whether the caller is a valid API key.
    pub fn is_api_key(self) -> bool {
        matches!(
            self,
            CallerKind::ApiKey(_) | CallerKind::ApiKeyWithoutOrg | CallerKind::ApiKeyOtherOrg
        )
    }
}

/// What a cell of the matrix requires of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The gate refuses with exactly this code.
    Refused(Code),
    /// The gate lets the call through: a handler answers, so the code is
    /// none of the gate's refusals nor UNIMPLEMENTED, INTERNAL or UNKNOWN.
    Admitted,
    /// A public RPC called anonymously: anything but PERMISSION_DENIED,
    /// UNIMPLEMENTED, INTERNAL or UNKNOWN (an empty Login or Refresh may
    /// rightly be UNAUTHENTICATED).
    PublicAnswer,
    /// Not covered by the contract: credentials sent to a public RPC.
    Unchecked,
}

const NEVER_FROM_A_HANDLER: &[Code] = &[Code::Unimplemented, Code::Internal, Code::Unknown];

impl Expect {
    pub fn accepts(self, code: Code) -> bool {
        match self {
            Expect::Refused(want) => code == want,
            Expect::Admitted => {
                !NEVER_FROM_A_HANDLER.contains(&code)
                    && code != Code::Unauthenticated
                    && code != Code::PermissionDenied
            }
            Expect::PublicAnswer => {
                !NEVER_FROM_A_HANDLER.contains(&code) && code != Code::PermissionDenied
            }
            Expect::Unchecked => true,
        }
    }
}

/// What the contract says the gate does for `caller` on an RPC with `rule`.
pub fn expectation(rule: Rule, caller: CallerKind) -> Expect {
    use CallerKind as C;
    let admitted_if = |ok: bool| {
        if ok {
            Expect::Admitted
        } else {
            Expect::Refused(Code::PermissionDenied)
        }
    };
    match rule {
        Rule::Public if caller == C::Anonymous => Expect::PublicAnswer,
        Rule::Public => Expect::Unchecked,
        _ if caller.lacks_valid_credential() => Expect::Refused(Code::Unauthenticated),
        Rule::Authenticated => admitted_if(!caller.is_api_key()),
        Rule::Roles(roles) => match caller {
            C::Member(role) | C::ApiKey(role) => admitted_if(roles.contains(&role)),
            C::ApiKeyWithoutOrg => admitted_if(roles.contains(&Role::Admin)),
            C::OwnerWithoutOrg => Expect::Refused(Code::InvalidArgument),
            _ => Expect::Refused(Code::PermissionDenied),
        },
    }
}

/// RPCs that end the caller's session or account: users call them with a
/// throwaway session of their own account, and they run last.
pub const SESSION_CONSUMING: &[&str] = &[
    "/ochre.v1.AuthService/Logout",
    "/ochre.v1.AuthService/DeleteAccount",
];

/// One cell: an RPC, a caller and what the answer must be.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    pub method: &'static str,
    pub rule: Rule,
    pub caller: CallerKind,
    pub expect: Expect,
}

/// Every RPC of the contract × every caller, session-consuming RPCs last.
pub fn cells() -> Vec<Cell> {
    let mut rules: Vec<_> = ACCESS_RULES.iter().collect();
    rules.sort_by_key(|m| SESSION_CONSUMING.contains(&m.method));
    rules
        .into_iter()
        .flat_map(|m| {
            CALLERS.iter().map(move |&caller| Cell {
                method: m.method,
                rule: m.rule,
                caller,
                expect: expectation(m.rule, caller),
            })
        })
        .collect()
}

/// A cell and what the server answered.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub cell: Cell,
    pub code: Code,
    pub message: String,
    /// The answer's decoded `google.rpc` details (empty when OK).
    pub reply: crate::errors::Reply,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.cell.expect.accepts(self.code)
    }
}

fn short(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::InvalidArgument => "invalid",
        Code::NotFound => "notfound",
        Code::AlreadyExists => "exists",
        Code::PermissionDenied => "DENIED",
        Code::Unauthenticated => "UNAUTH",
        Code::FailedPrecondition => "precond",
        Code::ResourceExhausted => "exhaust",
        Code::Unimplemented => "unimpl",
        Code::Internal => "internal",
        _ => "other",
    }
}

/// The outcomes as a table (RPCs × callers); a failed cell is marked `!`
/// and explained below the table, an unchecked (uncalled) one is `-`.
pub fn render(outcomes: &[Outcome]) -> String {
    const WIDTH: usize = 10;
    let mut out = format!("{:<38}", "rpc");
    for caller in CALLERS {
        out.push_str(&format!("{:>WIDTH$}", caller.label()));
    }
    out.push('\n');
    let mut methods: Vec<&str> = outcomes.iter().map(|o| o.cell.method).collect();
    methods.dedup();
    for method in methods {
        out.push_str(&format!("{:<38}", method.trim_start_matches("/ochre.v1.")));
        for o in outcomes.iter().filter(|o| o.cell.method == method) {
            let cell = match (o.cell.expect, o.passed()) {
                (Expect::Unchecked, _) => "-".to_owned(),
                (_, true) => short(o.code).to_owned(),
                (_, false) => format!("!{}", short(o.code)),
            };
            out.push_str(&format!("{cell:>WIDTH$}"));
        }
        out.push('\n');
    }
    for o in outcomes.iter().filter(|o| !o.passed()) {
        out.push_str(&format!(
            "! {} as {}: expected {:?}, got {:?} ({})\n",
            o.cell.method,
            o.cell.caller.label(),
            o.cell.expect,
            o.code,
            o.message
        ));
    }
    out
}

/// Calls `method` with the encoded request `body`, the given bearer token
/// and org header; the answer's code, message and (on OK) encoded response.
pub async fn call_raw(
    app: &crate::TestApp,
    method: &'static str,
    body: Vec<u8>,
    token: &str,
    org: &str,
) -> (Code, String, Vec<u8>) {
    let mut request = tonic::Request::new(body);
    let bearer = format!("Bearer {token}").parse().expect("tokens are ASCII");
    request.metadata_mut().insert("authorization", bearer);
    let org = org.parse().expect("org ids are ASCII");
    request.metadata_mut().insert(ochre_sdk::ORG_HEADER, org);
    let mut grpc = tonic::client::Grpc::new(app.channel.clone());
    grpc.ready().await.expect("channel ready");
    let path = http::uri::PathAndQuery::from_static(method);
    match grpc.unary(request, path, RawCodec).await {
        Ok(response) => (Code::Ok, String::new(), response.into_inner()),
        Err(status) => (status.code(), status.message().to_owned(), Vec::new()),
    }
}

/// Calls `method` with an empty body, the given bearer token and org
/// header; returns the answer's code, message and decoded details.
pub async fn call_empty(
    app: &crate::TestApp,
    method: &'static str,
    token: Option<&str>,
    org: Option<&str>,
) -> (Code, String, crate::errors::Reply) {
    let mut request = tonic::Request::new(Vec::new());
    if let Some(token) = token {
        let bearer = format!("Bearer {token}").parse().expect("tokens are ASCII");
        request.metadata_mut().insert("authorization", bearer);
    }
    if let Some(org) = org {
        let org = org.parse().expect("org ids are ASCII");
        request.metadata_mut().insert(ochre_sdk::ORG_HEADER, org);
    }
    let mut grpc = tonic::client::Grpc::new(app.channel.clone());
    grpc.ready().await.expect("channel ready");
    let path = http::uri::PathAndQuery::from_static(method);
    match grpc.unary(request, path, RawCodec).await {
        Ok(_) => (Code::Ok, String::new(), crate::errors::Reply::default()),
        Err(status) => (
            status.code(),
            status.message().to_owned(),
            crate::errors::Reply::of(&status),
        ),
    }
}
