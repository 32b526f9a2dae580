//! A partner backend with an org API key: lists the org's conversations.
//!
//! ```sh
//! OCHRE_URL=http://127.0.0.1:50051 OCHRE_API_KEY=ok_... OCHRE_ORG=<org uuid> \
//!   cargo run -p ochre-sdk --example api_key_partner
//! ```
//!
//! Prints one line per conversation (id, status, subject), then
//! `conversations: N`.

#![allow(clippy::print_stdout)]

use ochre_sdk::{client::OchreClient, v1::ListConversationsRequest};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = OchreClient::builder(var("OCHRE_URL")?)
        .api_key(var("OCHRE_API_KEY")?)
        .org(var("OCHRE_ORG")?)
        .build()
        .await?;

    let mut request = ListConversationsRequest {
        page_size: 100,
        ..Default::default()
    };
    let mut count = 0;
    loop {
        // A read: retried on UNAVAILABLE with backoff. Errors carry the
        // server's details (`err.reason()`, `err.retry_after()`, ...).
        let page = client
            .conversations()
            .list_conversations(request.clone())
            .await?;
        for c in &page.conversations {
            println!("{} {:?} {}", c.id, c.status(), c.subject);
        }
        count += page.conversations.len();
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    println!("conversations: {count}");
    Ok(())
}
