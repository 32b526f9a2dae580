//! A lean GetConversation caller for the open loop: raw HTTP/2 (the `h2`
//! crate, no tower stack, no channel buffer task) with the gRPC frame
//! written by hand. The generator shares the 2 cores with what it
//! measures: the tonic client costs it 80-130 µs of CPU a call, h2load
//! about 35. Every answer is still checked: its `grpc-status`, and for a
//! success that it is the conversation asked for.

use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use ochre_sdk::v1::{GetConversationRequest, GetConversationResponse};
use prost::Message as _;
use tonic::Code;

use super::load::Target;

/// One HTTP/2 connection's request handle (cheap to clone).
pub type Raw = h2::client::SendRequest<Bytes>;

/// `n` HTTP/2 connections to the server on `port`.
pub async fn connect(port: u16, n: usize) -> anyhow::Result<Vec<Raw>> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .context("connect to ochre")?;
        tcp.set_nodelay(true)?;
        let (send, connection) = h2::client::handshake(tcp)
            .await
            .context("HTTP/2 handshake")?;
        tokio::spawn(async move {
            let _closed = connection.await;
        });
        all.push(send);
    }
    Ok(all)
}

/// One GetConversation of `id`: its gRPC code, and whether a successful
/// answer was the wrong one (a broken exchange counts as UNAVAILABLE).
pub async fn get(raw: &Raw, t: &Target, id: &str) -> (Code, bool) {
    exchange(raw.clone(), t, id)
        .await
        .unwrap_or((Code::Unavailable, false))
}

async fn exchange(raw: Raw, t: &Target, id: &str) -> anyhow::Result<(Code, bool)> {
    let mut raw = raw.ready().await?;
    let request = http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1/ochre.v1.ConversationService/GetConversation")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {}", t.token))
        .header("x-ochre-org", t.org.as_str())
        .body(())?;
    let (answer, mut send) = raw.send_request(request, false)?;
    let message = GetConversationRequest {
        conversation_id: id.to_owned(),
    }
    .encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.extend_from_slice(&[0]);
    frame.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    frame.extend_from_slice(&message);
    send.send_data(frame.freeze(), true)?;
    let (head, mut body) = answer.await?.into_parts();
    // A trailers-only answer (a refusal) has its status in the headers.
    if let Some(status) = head.headers.get("grpc-status") {
        return Ok((code(status), false));
    }
    let mut data = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await?;
    let status = trailers
        .as_ref()
        .and_then(|t| t.get("grpc-status"))
        .map_or(Code::Unknown, code);
    if status != Code::Ok {
        return Ok((status, false));
    }
    let wrong = match data.get(5..).map(GetConversationResponse::decode) {
        Some(Ok(answer)) => answer.conversation.is_none_or(|c| c.id != id),
        _ => true,
    };
    Ok((Code::Ok, wrong))
}

fn code(value: &http::HeaderValue) -> Code {
    value
        .to_str()
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .map_or(Code::Unknown, Code::from)
}
