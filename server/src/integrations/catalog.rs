//! The provider catalog returned by the API: each provider's least-privilege
//! scopes, what they allow and what they forbid (from Ochre's published
//! integration permissions), and the secret fields the vault keeps for it.

use ochre_sdk::v1::{Provider, ProviderKind, ProviderScope};

/// One provider of the catalog.
#[derive(Debug)]
pub struct ProviderSpec {
    pub id: &'static str,
    pub display_name: &'static str,
    pub oauth: bool,
    pub scopes: &'static [(&'static str, &'static str)],
    pub can: &'static [&'static str],
    pub cannot: &'static [&'static str],
    pub secret_fields: &'static [&'static str],
}

/// The fields that hold a webhook signing secret. Re-pasting one keeps the
/// old value as `<field>` + [`PREVIOUS_SUFFIX`] for 24 hours.
pub const SIGNING_FIELDS: &[&str] = &["webhook_signing_secret", "signing_secret", "app_secret"];

/// The suffix of a retired signing secret's field.
/// The largest secret value accepted (pasted or returned by a provider).
pub const MAX_SECRET_BYTES: usize = 8192;

pub const PREVIOUS_SUFFIX: &str = ".previous";

const OAUTH_FIELDS: &[&str] = &["access_token", "refresh_token", "webhook_signing_secret"];

pub static PROVIDERS: &[ProviderSpec] = &[
    ProviderSpec {
        id: "stripe",
        display_name: "Stripe",
        oauth: true,
        scopes: &[(
            "read_only",
            "Read customers, subscriptions, prices, products and invoices (Stripe Connect)",
        )],
        can: &[
            "Read customers, subscriptions, prices, products, invoices",
            "Listen to webhooks for those resources",
        ],
        cannot: &[
            "Create charges",
            "Issue refunds",
            "Cancel subscriptions",
            "Update payment methods",
            "Modify any resource",
        ],
        secret_fields: OAUTH_FIELDS,
    },
    ProviderSpec {
        id: "hubspot",
        display_name: "HubSpot",
        oauth: true,
        scopes: &[
            ("crm.objects.contacts.read", "Read contacts"),
            ("crm.objects.companies.read", "Read companies"),
            ("crm.objects.deals.read", "Read deals"),
        ],
        can: &[
            "Read contact fields",
            "Read deal fields for context",
            "Receive webhook updates when those change",
        ],
        cannot: &[
            "Create or update contacts, companies or deals",
            "Read other object types (engagements, tasks, custom objects)",
            "Access Marketing Hub, Service Hub or CMS data",
        ],
        secret_fields: OAUTH_FIELDS,
    },
    ProviderSpec {
        id: "linear",
        display_name: "Linear",
        oauth: true,
        scopes: &[
            ("read", "Read issues, comments, teams, projects"),
            ("issues:create", "Create issues"),
            ("comments:create", "Comment on issues"),
        ],
        can: &[
            "Read teams, projects and issues",
            "Create issues from conversations",
            "Comment on linked issues",
        ],
        cannot: &[
            "Delete issues or comments",
            "Modify team membership or project settings",
            "Access organization admin features",
        ],
        secret_fields: OAUTH_FIELDS,
    },
    ProviderSpec {
        id: "github",
        display_name: "GitHub",
        oauth: true,
        scopes: &[
            ("issues:write", "Issues (read & write)"),
            ("pull_requests:read", "Pull requests (read)"),
            ("metadata:read", "Metadata (read)"),
        ],
        can: &[
            "Create issues in granted repositories",
            "Comment on those issues",
            "See pull request metadata",
        ],
        cannot: &[
            "Read source code (no contents permission)",
            "Modify, merge or push to pull requests",
            "Access repositories not granted",
            "Manage organization or team settings",
        ],
        secret_fields: OAUTH_FIELDS,
    },
    ProviderSpec {
        id: "slack",
        display_name: "Slack",
        oauth: true,
        scopes: &[
            ("channels:read", "See channels Ochre is added to"),
            ("chat:write", "Post replies in those channels"),
            (
                "chat:write.customize",
                "Post under the workspace's name and logo",
            ),
            ("commands", "Handle the /ochre slash command"),
            ("users:read", "Read user info to attribute messages"),
        ],
        can: &[
            "See channels and Connect channels Ochre is added to",
            "Post replies in those channels",
            "Handle /ochre",
            "Read user info",
        ],
        cannot: &[
            "Post in channels Ochre is not a member of (no chat:write.public)",
            "Read DMs Ochre is not part of",
            "Modify workspace admin settings",
        ],
        secret_fields: &["access_token", "signing_secret"],
    },
    ProviderSpec {
        id: "resend",
        display_name: "Resend",
        oauth: false,
        scopes: &[("sending_access", "Send email from verified domains")],
        can: &["Send email", "Receive delivery webhooks"],
        cannot: &["Manage domains or API keys"],
        secret_fields: &["api_key", "webhook_signing_secret"],
    },
    ProviderSpec {
        id: "meta",
        display_name: "Meta (WhatsApp, Messenger)",
        oauth: true,
        scopes: &[
            (
                "whatsapp_business_messaging",
                "Send and receive WhatsApp messages",
            ),
            ("pages_messaging", "Send and receive Messenger messages"),
        ],
        can: &["Receive and answer customer messages"],
        cannot: &["Manage the business account", "Read page posts"],
        secret_fields: &["access_token", "app_secret"],
    },
    ProviderSpec {
        id: "paddle",
        display_name: "Paddle",
        oauth: false,
        scopes: &[("read", "Read customers, subscriptions and transactions")],
        can: &["Read billing context", "Receive billing webhooks"],
        cannot: &["Create or refund transactions", "Change subscriptions"],
        secret_fields: &["api_key", "webhook_signing_secret"],
    },
    ProviderSpec {
        id: "mercadopago",
        display_name: "Mercado Pago",
        oauth: true,
        scopes: &[("read", "Read payments and customers")],
        can: &["Read billing context", "Receive payment webhooks"],
        cannot: &["Create payments or refunds"],
        secret_fields: &["access_token", "webhook_signing_secret"],
    },
    ProviderSpec {
        id: "openai",
        display_name: "OpenAI (bring your own key)",
        oauth: false,
        scopes: &[("model.request", "Call models for AI drafts")],
        can: &["Generate AI drafts with your key"],
        cannot: &["Manage your OpenAI organization"],
        secret_fields: &["api_key"],
    },
    ProviderSpec {
        id: "anthropic",
        display_name: "Anthropic (bring your own key)",
        oauth: false,
        scopes: &[("messages", "Call models for AI drafts")],
        can: &["Generate AI drafts with your key"],
        cannot: &["Manage your Anthropic workspace"],
        secret_fields: &["api_key"],
    },
];

/// The provider with this id.
pub fn provider(id: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS.iter().find(|p| p.id == id)
}

impl ProviderSpec {
    pub fn message(&self) -> Provider {
        Provider {
            id: self.id.to_owned(),
            display_name: self.display_name.to_owned(),
            kind: if self.oauth {
                ProviderKind::Oauth
            } else {
                ProviderKind::ApiKey
            } as i32,
            scopes: self
                .scopes
                .iter()
                .map(|(name, description)| ProviderScope {
                    name: (*name).to_owned(),
                    description: (*description).to_owned(),
                })
                .collect(),
            can: self.can.iter().map(|s| (*s).to_owned()).collect(),
            cannot: self.cannot.iter().map(|s| (*s).to_owned()).collect(),
            secret_fields: self.secret_fields.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    pub fn scope_names(&self) -> Vec<String> {
        self.scopes.iter().map(|(n, _)| (*n).to_owned()).collect()
    }
}
