//! The fuzz's callers: an org with a member of each role and an API key of
//! each role, a victim member and key, another org, rows of both (their
//! ids and emails feed the generators), and a check that the cast still
//! works after an RPC that may have changed it.

use ochre_sdk::v1::{CreateInvitationRequest, ListMembersResponse};
use ochre_tests::{
    fuzz::Known,
    matrix::{CallerKind, call_raw},
    prelude::*,
};
use prost::Message as _;

/// The callers of one org and what the generators should know.
pub struct Cast {
    pub org: String,
    members: Vec<(Role, Session)>,
    keys: Vec<(Role, String)>,
    pub known: Known,
}

impl Cast {
    pub async fn assemble(app: &TestApp) -> Cast {
        let owner = signup_and_login(app, &unique_email()).await;
        let org = create_org(app, &owner, "Fuzz target").await;
        let mut members = vec![(Role::Owner, owner.clone())];
        for role in [Role::Admin, Role::Agent, Role::LightAgent] {
            members.push((role, add_member(app, &owner, &org, role).await));
        }
        let victim = add_member(app, &owner, &org, Role::Agent).await;
        let mut keys = Vec::new();
        let mut ids = vec![org.clone(), victim.user_id.clone()];
        for role in [Role::Admin, Role::Agent, Role::LightAgent, Role::Agent] {
            let key = create_api_key(app, &owner, &org, role)
                .await
                .expect("a key");
            ids.push(key.api_key.expect("key metadata").id);
            keys.push((role, key.secret));
        }
        keys.pop(); // The last one is the victim: its id is known, it calls nothing.
        let api = Caller::user(app, &owner, &org);
        let customer = api.customer(&unique_email()).await;
        let conversation = api.conversation(&customer.id, "Fuzz").await;
        let invite = CreateInvitationRequest {
            email: unique_email(),
            role: Role::Agent.into(),
            ..Default::default()
        };
        let invitation = app
            .client::<MemberClient>()
            .create_invitation(with_auth(invite, &owner.access_token, Some(&org)))
            .await
            .expect("an invitation")
            .into_inner()
            .invitation
            .expect("the invitation")
            .id;
        let outsider = signup_and_login(app, &unique_email()).await;
        let other_org = create_org(app, &outsider, "Fuzz other").await;
        let theirs = Caller::user(app, &outsider, &other_org);
        let their_customer = theirs.customer(&unique_email()).await;
        let their_conversation = theirs.conversation(&their_customer.id, "Theirs").await;
        ids.extend(members.iter().map(|(_, s)| s.user_id.clone()));
        ids.extend([
            customer.id.clone(),
            conversation.id,
            invitation,
            other_org,
            outsider.user_id.clone(),
            their_customer.id.clone(),
            their_conversation.id,
        ]);
        let mut emails: Vec<String> = members.iter().map(|(_, s)| s.email.clone()).collect();
        emails.extend([customer.email, their_customer.email, outsider.email]);
        Cast {
            org,
            members,
            keys,
            known: Known { ids, emails },
        }
    }

    /// The member callers and their tokens.
    pub fn members(&self) -> impl Iterator<Item = (CallerKind, &str)> {
        self.members
            .iter()
            .map(|(r, s)| (CallerKind::Member(*r), s.access_token.as_str()))
    }

    /// The API key callers and their secrets.
    pub fn keys(&self) -> impl Iterator<Item = (CallerKind, &str)> {
        self.keys
            .iter()
            .map(|(r, k)| (CallerKind::ApiKey(*r), k.as_str()))
    }

    /// The API key callers (`keys`) or the member callers, with their
    /// credentials.
    pub fn callers(&self, keys: bool) -> Vec<(CallerKind, String)> {
        if keys {
            self.keys().map(|(k, t)| (k, t.to_owned())).collect()
        } else {
            self.members().map(|(k, t)| (k, t.to_owned())).collect()
        }
    }

    /// What no longer works as cast: a caller refused, a role changed.
    pub async fn broken(&self, app: &TestApp) -> Option<String> {
        const LIST: &str = "/ochre.v1.MemberService/ListMembers";
        for (caller, token) in self.members().chain(self.keys()) {
            let (code, message, body) = call_raw(app, LIST, Vec::new(), token, &self.org).await;
            if code != Code::Ok {
                return Some(format!("{}: {code:?} {message}", caller.label()));
            }
            if caller == CallerKind::Member(Role::Owner) {
                let listed = ListMembersResponse::decode(body.as_slice()).expect("members");
                for (role, session) in &self.members {
                    let now = listed.members.iter().find(|m| m.user_id == session.user_id);
                    if now.map(|m| m.role) != Some(i32::from(*role)) {
                        return Some(format!("{role:?} is now {now:?}"));
                    }
                }
            }
        }
        None
    }
}
