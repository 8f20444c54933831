//! Blocking `Read`/`Write` ends for the CAR code (which is synchronous) joined to QUIC streams
//! by async pump tasks over bounded channels.
//!
//! Unlike `tokio_util::io::SyncIoBridge`, the blocking side never polls the QUIC stream itself:
//! when the async side goes away (connection lost, node shut down, runtime stopping) the channel
//! closes and the blocking side sees an error at once instead of waiting on a stream nobody
//! drives any more. Backpressure: the channels hold a few chunks; a full channel blocks the
//! blocking thread, never an async one.

use bytes::Bytes;
use iroh::endpoint::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const CHUNK: usize = 64 << 10;
const CHUNKS_IN_FLIGHT: usize = 8;

/// The blocking reading end. Ends cleanly only on the stream's own end.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
    done: bool,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the stream was dropped before its end",
                    ));
                }
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Reads `input` (at most `limit` bytes) in a task, for a blocking reader.
pub(crate) fn reader(input: RecvStream, limit: u64) -> (ChannelReader, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let pump = tokio::spawn(async move {
        let mut input = input.take(limit);
        loop {
            let mut buf = vec![0u8; CHUNK];
            match read_some(&mut input, &mut buf).await {
                Ok(0) => {
                    let _ = tx.send(Ok(Bytes::new())).await;
                    return;
                }
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    (
        ChannelReader {
            rx,
            current: Bytes::new(),
            done: false,
        },
        pump,
    )
}

async fn read_some<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    r.read(buf).await
}

/// The blocking writing end; `flush` hands buffered bytes to the pump.
pub(crate) struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the peer stream is gone"))
    }
}

/// Writes what a blocking writer produces to `output` in a task. The task gives the stream back
/// once the writer is dropped, unfinished: the caller finishes it on success or resets it.
pub(crate) fn writer(mut output: SendStream) -> (ChannelWriter, JoinHandle<std::io::Result<SendStream>>) {
    let (tx, mut rx) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let pump = tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            output.write_all(&chunk).await.map_err(std::io::Error::other)?;
        }
        Ok(output)
    });
    (
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        },
        pump,
    )
}
