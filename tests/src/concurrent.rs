//! Concurrent callers in a test: futures polled together on one task, and a
//! call retried while the server says a retry can fix it.

use tonic::Status;

/// Polls every future on this task until all are done (concurrent callers
/// without spawning), results in order.
pub async fn join_all<T, F: std::future::Future<Output = T>>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<T> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<T>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

/// Runs `call` again while it answers UNAVAILABLE, as a client should (the
/// server says a retry can fix it: a pool with no free connection within
/// its wait, under a test's burst): up to 8 tries, backing off from 50 ms.
pub async fn retry_unavailable<T, Fut>(mut call: impl FnMut() -> Fut) -> Result<T, Status>
where
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    let mut wait = std::time::Duration::from_millis(50);
    for _ in 1..8 {
        match call().await {
            Err(s) if s.code() == tonic::Code::Unavailable => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(1));
            }
            answer => return answer,
        }
    }
    call().await
}
