//! The admin listener of a test server: plain HTTP GETs and the Prometheus
//! text of `/metrics`, parsed into samples.

use crate::TestApp;

/// What the admin listener answered.
#[derive(Debug, Clone)]
pub struct AdminAnswer {
    pub status: u16,
    pub text: String,
}

/// `GET path` on the admin listener at `addr`, with `bearer` when given.
pub async fn admin_get(
    addr: std::net::SocketAddr,
    path: &str,
    bearer: Option<&str>,
) -> AdminAnswer {
    let client = reqwest::Client::new();
    let mut request = client.get(format!("http://{addr}{path}"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path} on the admin port: {e:?}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    AdminAnswer { status, text }
}

impl TestApp {
    /// The admin listener's address (panics when it is off).
    pub fn admin(&self) -> std::net::SocketAddr {
        self.admin_addr.expect("the admin listener is on")
    }

    /// The Prometheus text of the admin `/metrics` (panics unless 200).
    pub async fn metrics(&self) -> String {
        let answer = admin_get(self.admin(), "/metrics", None).await;
        assert_eq!(answer.status, 200, "GET /metrics: {}", answer.text);
        answer.text
    }
}

/// The value of the sample `name{labels}` where every `(label, value)` of
/// `labels` matches (other labels may be present); 0 when absent. Sums when
/// several series match.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((m, r)) => (m, r.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}
