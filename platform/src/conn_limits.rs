//! What a client may hold of a server by connecting: a connection before
//! its first request ([`serve_while_asked`]: 10 s) and while idle (60 to
//! 120 s), and a descriptor of the process ([`ConnectionSlots`]).
//!
//! Every service of a process (`up` runs them all) shares one table of file
//! descriptors with what the services open themselves: store objects, the
//! registry, logs, connections to Redis, S3 or KMS. Out of descriptors, a
//! write to the store fails as surely as an accept, so the listeners stop
//! accepting short of the limit ([`ConnectionSlots`]), as nginx's
//! `worker_connections` do; the kernel's backlog holds what comes next.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Descriptors kept from the public listeners: at least this many, and an
/// eighth of the limit above that.
const RESERVED_MIN: usize = 256;

/// Slots of the operators' listeners (the admin API, metrics), taken from
/// the reserve: a flood of a public port leaves them reachable.
const OPERATOR_SLOTS: usize = 64;
const _: () = assert!(OPERATOR_SLOTS <= RESERVED_MIN / 4, "the operators' slots leave most of the reserve");

/// How often, at most, running out of slots is said in the log: under a
/// flood it happens at every connection that closes.
const WARN_EVERY_SECS: u64 = 10;

/// Connections the listeners of a process may hold together; a permit per
/// connection, held until it closes.
#[derive(Clone)]
pub struct ConnectionSlots {
    permits: Arc<Semaphore>,
    /// When running out was last said in the log (Unix seconds).
    warned_at: Arc<AtomicU64>,
}

impl ConnectionSlots {
    pub fn new(slots: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(slots)), warned_at: Arc::default() }
    }

    /// The process's own for its public listeners: the open-file limit
    /// (soft) less the reserve.
    pub fn process() -> Self {
        static SLOTS: OnceLock<ConnectionSlots> = OnceLock::new();
        SLOTS.get_or_init(|| Self::new(slots_for(open_file_limit()))).clone()
    }

    /// The process's own for the operators' listeners (the admin API and
    /// metrics), apart from the public ones'.
    pub fn operators() -> Self {
        static SLOTS: OnceLock<ConnectionSlots> = OnceLock::new();
        SLOTS.get_or_init(|| Self::new(OPERATOR_SLOTS)).clone()
    }

    /// A slot, at once or once a connection closes (counted, and said in
    /// the log at most every [`WARN_EVERY_SECS`]).
    pub async fn acquire(&self, service: &'static str) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Some(permit);
        }
        metrics::counter!("cartorio_connection_slots_exhausted_total", "service" => service).increment(1);
        let now = u64::try_from(crate::clock::unix_seconds()).unwrap_or(0);
        let last = self.warned_at.load(Ordering::Relaxed);
        if now >= last + WARN_EVERY_SECS
            && self.warned_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(
                service,
                "every connection slot is taken (the open-file limit less a reserve): not accepting until one closes"
            );
        }
        self.permits.clone().acquire_owned().await.ok()
    }
}

/// The soft limit on open files, as the kernel reports it (no call into
/// libc needed); 1024, the usual default, if unreadable.
fn open_file_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .map_or(1024, |soft| soft.parse().unwrap_or(usize::MAX))
}

/// Slots for an open-file limit of `limit`.
fn slots_for(limit: usize) -> usize {
    let reserve = RESERVED_MIN.max(limit / 8);
    limit.saturating_sub(reserve).clamp(64, Semaphore::MAX_PERMITS)
}

/// What a connection's client has asked, for [`serve_while_asked`]:
/// whether a request began, how many are in flight, and whether bytes
/// moved or a request ended since the last look. A flag, not a clock: it
/// is set at every read and write, where reading a clock cost OCSP GET 3%
/// of its throughput (measured over HTTP/1.1 and HTTP/2).
#[derive(Default)]
pub struct Activity {
    started: AtomicBool,
    in_flight: AtomicUsize,
    moved: AtomicBool,
}

impl Activity {
    /// A request begins; the activity counts it in flight until the guard
    /// drops (its response is produced, or hyper drops the request).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.started.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    fn touch(&self) {
        self.moved.store(true, Ordering::Relaxed);
    }

    /// Whether nothing is in flight and nothing moved since the last call.
    fn quiet_since_last_look(&self) -> bool {
        let moved = self.moved.swap(false, Ordering::Relaxed);
        !moved && self.in_flight.load(Ordering::Relaxed) == 0
    }
}

/// A connection's transport, noting on its [`Activity`] when bytes move:
/// a response still being sent to a slow reader (a large CRL) is not idle
/// once its handler has returned.
pub struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(io: T, activity: Arc<Activity>) -> Self {
        Self { io, activity }
    }

    fn moved<R>(&self, polled: Poll<std::io::Result<R>>) -> Poll<std::io::Result<R>> {
        if polled.is_ready() {
            self.activity.touch();
        }
        polled
    }
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        self.moved(polled)
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.moved(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.moved(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A request in flight on its connection's [`Activity`].
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// How a connection [`serve_while_asked`] ended.
pub enum Ended<T> {
    /// By its client or its protocol: hyper's result.
    Served(T),
    /// Closed: no request head by the first request's deadline.
    NoRequest,
    /// Closed: nothing in flight and no byte moved for the idle time.
    Idle,
}

/// Serves `conn` while its client asks: it is dropped, which closes it,
/// when no request head has arrived by `first` (from now) or when, with no
/// request in flight, no byte has moved for `idle` (looked at every `idle`:
/// closed between one and two of them after the last). hyper's header-read timeout starts at a
/// request's first byte and its HTTP/1-or-2 detection waits without one,
/// and HTTP/2 has no idle limit of its own: a client that connects and
/// sends nothing, or asks once, would otherwise hold a connection slot for
/// as long as it likes.
pub async fn serve_while_asked<F: Future>(
    conn: F,
    activity: &Activity,
    first: Duration,
    idle: Duration,
) -> Ended<F::Output> {
    let mut conn = std::pin::pin!(conn);
    let since = tokio::time::Instant::now();
    let mut wait = first.min(idle);
    loop {
        tokio::select! {
            served = conn.as_mut() => return Ended::Served(served),
            _ = tokio::time::sleep(wait) => {}
        }
        if !activity.started.load(Ordering::Relaxed) {
            let waited = since.elapsed();
            if waited >= first {
                return Ended::NoRequest;
            }
            wait = (first - waited).min(idle);
            continue;
        }
        if activity.quiet_since_last_look() {
            return Ended::Idle;
        }
        wait = idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Connections, MetricsOnly, serve_with};
    use crate::shutdown::Shutdown;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    const ASK: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    const ASK_SLOWLY: &[u8] = b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n";
    /// More than the kernel's socket buffers take at once (4 MiB each way at
    /// most by default), so the server's writes wait for the reader.
    const BIG: usize = 24 << 20;

    /// `/slow` answers after 600 ms, `/big` with [`BIG`] bytes; anything
    /// else as [`MetricsOnly`].
    #[derive(Clone)]
    struct Slow;

    impl crate::http::Handler for Slow {
        async fn handle(
            &self,
            req: http::Request<crate::http::RequestBody>,
            peer: std::net::SocketAddr,
        ) -> http::Response<crate::http::Body> {
            if req.uri().path() == "/slow" {
                tokio::time::sleep(Duration::from_millis(600)).await;
                return crate::http::response(http::StatusCode::OK, "text/plain", "slow\n");
            }
            if req.uri().path() == "/big" {
                return crate::http::response(
                    http::StatusCode::OK,
                    "application/octet-stream",
                    vec![7u8; BIG],
                );
            }
            MetricsOnly.handle(req, peer).await
        }
    }

    async fn answered(client: &mut TcpStream) -> bool {
        answered_to(client, ASK).await
    }

    async fn answered_to(client: &mut TcpStream, ask: &[u8]) -> bool {
        client.write_all(ask).await.expect("write");
        let mut answer = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut answer)).await;
        matches!(read, Ok(Ok(n)) if answer[..n].starts_with(b"HTTP/1.1 200"))
    }

    async fn server(connections: Connections) -> (std::net::SocketAddr, Shutdown) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = Shutdown::new();
        tokio::spawn(serve_with(listener, connections, Slow, shutdown.clone(), "test"));
        (addr, shutdown)
    }

    async fn closed_within(client: &mut TcpStream, limit: Duration) -> bool {
        let read = tokio::time::timeout(limit, client.read(&mut [0u8; 1])).await;
        matches!(read, Ok(Ok(0)))
    }

    #[test]
    fn slots_leave_a_reserve() {
        assert_eq!(slots_for(1024), 768);
        assert_eq!(slots_for(65536), 57344);
        assert_eq!(slots_for(100), 64);
        assert!(slots_for(open_file_limit()) >= 64);
    }

    /// A connection that sends nothing is closed when its first request's
    /// time is up (hyper alone kept it open); one that asks in time is
    /// served and kept past that time.
    #[tokio::test]
    async fn a_connection_without_a_request_is_closed() {
        let first_request_timeout = Duration::from_millis(300);
        let (addr, shutdown) = server(Connections { first_request_timeout, ..Default::default() }).await;
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        let mut asking = TcpStream::connect(addr).await.expect("connect");
        assert!(answered(&mut asking).await);
        let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut [0u8; 1])).await;
        assert!(matches!(closed, Ok(Ok(0))), "the silent connection is still open: {closed:?}");
        assert!(answered(&mut asking).await, "the connection that asked in time was closed");
        shutdown.trigger();
    }

    /// A connection with nothing in flight for the idle time is closed; a
    /// request that takes longer than that is answered.
    #[tokio::test]
    async fn an_idle_connection_is_closed_and_a_slow_answer_is_not() {
        let idle_timeout = Duration::from_millis(300);
        let (addr, shutdown) = server(Connections { idle_timeout, ..Default::default() }).await;
        let mut client = TcpStream::connect(addr).await.expect("connect");
        assert!(answered(&mut client).await);
        assert!(answered_to(&mut client, ASK_SLOWLY).await, "a 600 ms answer was cut by a 300 ms idle limit");
        assert!(
            closed_within(&mut client, Duration::from_secs(5)).await,
            "the idle connection is still open"
        );
        shutdown.trigger();
    }

    /// A response read slowly, for longer than the idle time, arrives whole:
    /// bytes moving keep its connection (its handler returned long before).
    #[tokio::test]
    async fn a_slow_reader_gets_the_whole_answer() {
        let idle_timeout = Duration::from_millis(300);
        let (addr, shutdown) = server(Connections { idle_timeout, ..Default::default() }).await;
        let mut client = TcpStream::connect(addr).await.expect("connect");
        client.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n").await.expect("write");
        let (mut got, mut chunk, started) = (0usize, vec![0u8; 1 << 20], std::time::Instant::now());
        while got < BIG {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        assert!(got >= BIG, "{got} of {BIG} bytes arrived in {:?}", started.elapsed());
        assert!(started.elapsed() > idle_timeout * 2, "the reader was not slow: the test proves nothing");
        shutdown.trigger();
    }

    /// With every slot taken, the next connection waits in the backlog and
    /// is served once one closes.
    #[tokio::test]
    async fn past_the_slots_connections_wait_for_one_to_close() {
        let (addr, shutdown) =
            server(Connections { slots: ConnectionSlots::new(1), ..Default::default() }).await;
        let mut first = TcpStream::connect(addr).await.expect("connect");
        assert!(answered(&mut first).await);
        let mut second = TcpStream::connect(addr).await.expect("connect (the kernel's backlog)");
        let waiting = tokio::spawn(async move { answered(&mut second).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "a second connection was served with one slot taken");
        drop(first);
        let served = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(matches!(served, Ok(Ok(true))), "the waiting connection was not served: {served:?}");
        shutdown.trigger();
    }
}
