//! Rows streamed in batches by a producer task of their own (exports, full reads).

use crate::error::Result;

/// Batches of rows read ahead of their consumer by a task of their own: a
/// [`futures_core::Stream`] and, for plain loops, [`Batches::next`]. A failure is the last item.
#[derive(Debug)]
pub struct Batches<T>(tokio::sync::mpsc::Receiver<Result<Vec<T>>>);

/// Where a producer of [`Batches`] puts them.
#[derive(Debug, Clone)]
pub struct Sink<T>(tokio::sync::mpsc::Sender<Result<Vec<T>>>);

/// Batches read ahead of the consumer.
const BATCHES_IN_FLIGHT: usize = 2;

impl<T: Send + 'static> Batches<T> {
    /// Runs `producer` in a task of its own and streams what it puts into its sink; an error
    /// it returns becomes the last item.
    pub fn spawn<F, Fut>(producer: F) -> Self
    where
        F: FnOnce(Sink<T>) -> Fut,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel(BATCHES_IN_FLIGHT);
        let sink = Sink(tx.clone());
        let work = producer(sink);
        tokio::spawn(async move {
            if let Err(error) = work.await {
                // The reader may be gone (the client left); nothing else to tell then.
                let _ = tx.send(Err(error)).await;
            }
        });
        Self(rx)
    }

    /// The next batch; `None` after the last.
    pub async fn next(&mut self) -> Option<Result<Vec<T>>> {
        self.0.recv().await
    }
}

impl<T> futures_core::Stream for Batches<T> {
    type Item = Result<Vec<T>>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

impl<T> Sink<T> {
    /// Sends a batch from async code; false when the reader is gone (stop reading).
    pub async fn send(&self, batch: Vec<T>) -> bool {
        self.0.send(Ok(batch)).await.is_ok()
    }

    /// Sends a batch from a blocking thread; false when the reader is gone.
    pub fn send_blocking(&self, batch: Vec<T>) -> bool {
        self.0.blocking_send(Ok(batch)).is_ok()
    }
}
