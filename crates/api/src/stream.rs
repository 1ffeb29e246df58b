//! Streaming bodies between blocking work and the HTTP connection, in bounded chunks, so
//! exports, downloads and uploads hold a few chunks in memory, never a whole file.

use axum::body::{Body, Bytes};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;

/// Chunks in flight between a blocking writer and the connection.
const CHANNEL_CHUNKS: usize = 4;

/// A body produced by `write` on a blocking thread, sent on as it is written (64 KiB
/// chunks). An error ends the body early (the client sees a truncated transfer) and is
/// logged.
pub fn body_from_writer(
    what: &'static str,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<(), String> + Send + 'static,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(64 << 10, ChannelWriter(tx.clone()));
        let result = write(&mut out)
            .and_then(|_| std::io::Write::flush(&mut out).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!(error = %e, what, "streamed answer ended early");
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) });
    Body::from_stream(stream)
}

/// A `Write` that sends what it is given to a channel.
struct ChannelWriter(tokio::sync::mpsc::Sender<std::io::Result<Bytes>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A request body as a blocking `Read` of at most `limit` bytes: the connection is read on
/// the async side and handed over in chunks. Reading past `limit` fails with
/// `InvalidData` ("larger than the limit").
pub fn reader_from_body(body: Body, limit: usize) -> BodyReader {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHANNEL_CHUNKS);
    let too_large = Arc::new(AtomicBool::new(false));
    let flag = too_large.clone();
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut total = 0usize;
        while let Some(chunk) = stream.next().await {
            let item = match chunk {
                Ok(b) => {
                    total = total.saturating_add(b.len());
                    if total > limit {
                        flag.store(true, Ordering::Relaxed);
                        Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("the body is larger than the limit of {limit} bytes"),
                        ))
                    } else {
                        Ok(b)
                    }
                }
                Err(e) => Err(std::io::Error::other(e)),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    BodyReader { rx, current: Bytes::new(), too_large }
}

/// See [`reader_from_body`].
pub struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
    too_large: Arc<AtomicBool>,
}

impl BodyReader {
    /// Set once the body went past the limit (to tell a 413 from other read errors).
    pub fn too_large(&self) -> Arc<AtomicBool> {
        self.too_large.clone()
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
