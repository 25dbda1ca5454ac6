//! Connections to one PostgreSQL database, each on a thread of its own (`postgres` blocks on a
//! runtime of its own, which must not run inside the caller's), as many as `connections`.
//!
//! A call waits at most `wait` for one of them, in a bounded queue. A connection found broken
//! is dropped and made again on next use, a few times with a pause between tries, so a pool
//! outlives a database restart: calls fail meanwhile with [`StoreError::Unavailable`], and
//! reads are tried once more on a new connection. Used by the key store and by the Parsec.1
//! state, each with its own prepared statements ([`Prepared`]).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, NoTls, Transaction};
use zeroize::Zeroizing;

use crate::StoreError;

/// How to reach the database.
#[derive(Clone)]
pub struct PostgresOptions {
    /// A `postgres://` or `postgresql://` URL; a Unix socket is named by its folder in the
    /// `host` parameter (`postgresql://parsec@localhost/parsec?host=/run/postgresql`).
    pub url: String,
    /// The password, when the URL has none (read from the file the config names).
    pub password: Option<Zeroizing<String>>,
    /// Connections to keep, each on a thread: the most store calls served at once.
    pub connections: usize,
    /// How long a call waits for a free connection, and a connection attempt may take.
    pub wait: Duration,
}

/// Advisory lock keys (one namespace of two 32-bit keys, ours by its first half: "PRSC").
pub(super) const LOCK_SPACE: i32 = 0x5052_5343;
/// Taken while a schema is brought forward.
pub(super) const LOCK_SCHEMA: i32 = -1;

/// Statements taking more than this are cancelled by the server.
const STATEMENT_TIMEOUT_MS: u32 = 10_000;
/// A call whose connection has started on it waits this long for the answer before it gives up
/// (the server may be stopped, not gone: nothing on the socket says so).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection idle longer than this is checked before a write.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Tries to connect before a call fails, with these pauses between them.
const CONNECT_PAUSES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

/// A connection with the statements its user prepared on it.
pub(super) trait Prepared: Sized + Send + 'static {
    /// Prepares the statements on a new connection.
    fn prepare(client: Client) -> Result<Self, StoreError>;
    fn client(&mut self) -> &mut Client;
}

/// Connection threads taking calls from one queue.
pub(super) struct Pool<C> {
    jobs: Mutex<SyncSender<Job<C>>>,
    wait: Duration,
    place: String,
}

/// A call handed to a connection thread. `state` says whether a thread took it or the caller
/// gave up waiting first: exactly one of the two happens.
struct Job<C> {
    run: Box<Work<C>>,
    state: Arc<AtomicU8>,
}
type Work<C> = dyn FnOnce(&mut Link<C>) + Send;
const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

/// One connection thread's connection, made when first needed and again when found broken.
struct Link<C> {
    config: Arc<postgres::Config>,
    conn: Option<C>,
    /// When the connection last answered.
    used: Instant,
}

impl<C: Prepared> Pool<C> {
    /// Connects, runs `setup` on the first connection (schema, checks), and starts the
    /// connection threads.
    pub fn open(
        options: &PostgresOptions,
        setup: impl FnOnce(&mut Client) -> Result<(), StoreError> + Send,
    ) -> Result<Pool<C>, StoreError> {
        let (config, place) = parse(options)?;
        let config = Arc::new(config);
        let first = on_own_thread(|| {
            let mut client = connect_once(&config)?;
            setup(&mut client)?;
            Ok(Link {
                config: config.clone(),
                conn: Some(C::prepare(client)?),
                used: Instant::now(),
            })
        })
        .map_err(|e| in_place(e, &place))?;
        let connections = options.connections.max(1);
        let mut links = vec![first];
        links.extend((1..connections).map(|_| Link {
            config: config.clone(),
            conn: None,
            used: Instant::now(),
        }));
        // Calls beyond the threads queue here, a bounded number; a caller gives up after `wait`.
        let (tx, rx) = mpsc::sync_channel::<Job<C>>(connections * 64);
        let rx = Arc::new(Mutex::new(rx));
        for link in links {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name("parsec-postgres".into())
                .spawn(move || serve(link, &rx))
                .map_err(|e| StoreError::Io(format!("cannot start a connection thread: {e}")))?;
        }
        Ok(Pool {
            jobs: Mutex::new(tx),
            wait: options.wait,
            place,
        })
    }

    /// Where the database is, for messages: host and database, never the password.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Runs `work` on a connection thread. `retry`: the work only reads, and is run once more
    /// on a new connection when the first breaks.
    pub fn call<T: Send + 'static>(
        &self,
        retry: bool,
        work: impl Fn(&mut C) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply_tx, reply_rx) = mpsc::sync_channel::<Result<T, StoreError>>(1);
        let state = Arc::new(AtomicU8::new(QUEUED));
        let job = Job {
            state: state.clone(),
            run: Box::new(move |link: &mut Link<C>| {
                let mut result = link.run(&work, !retry);
                if retry && matches!(result, Err(StoreError::Unavailable(_))) {
                    result = link.run(&work, false);
                }
                let _ = reply_tx.send(result);
            }),
        };
        {
            let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            match jobs.try_send(job) {
                Ok(()) => {}
                Err(mpsc::TrySendError::Full(_)) => {
                    return Err(StoreError::Unavailable(format!(
                        "{}: too many store calls waiting",
                        self.place
                    )))
                }
                Err(mpsc::TrySendError::Disconnected(_)) => {
                    return Err(StoreError::Unavailable(format!(
                        "{}: no connection thread left",
                        self.place
                    )))
                }
            }
        }
        match reply_rx.recv_timeout(self.wait) {
            Ok(result) => return result,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(StoreError::Database(format!(
                    "{}: the call failed unexpectedly",
                    self.place
                )))
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if state
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return Err(StoreError::Unavailable(format!(
                "{}: no connection free within {} ms",
                self.place,
                self.wait.as_millis()
            )));
        }
        // A connection thread has the call: its outcome is the answer, whenever it comes.
        reply_rx.recv_timeout(ANSWER_TIMEOUT).unwrap_or_else(|_| {
            let why = format!(
                "{}: no answer within {} s",
                self.place,
                ANSWER_TIMEOUT.as_secs()
            );
            Err(if retry {
                StoreError::Unavailable(why)
            } else {
                StoreError::OutcomeUnknown(why)
            })
        })
    }
}

/// Runs `work` with a connection of its own, outside the pool (a check before the pool exists).
pub(super) fn with_connection<T: Send>(
    options: &PostgresOptions,
    work: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send,
) -> Result<T, StoreError> {
    let (config, place) = parse(options)?;
    on_own_thread(|| work(&mut connect_once(&config)?)).map_err(|e| in_place(e, &place))
}

/// Runs `work` on a thread with no async runtime (the `postgres` client starts its own).
fn on_own_thread<T: Send>(
    work: impl FnOnce() -> Result<T, StoreError> + Send,
) -> Result<T, StoreError> {
    std::thread::scope(|s| {
        s.spawn(work)
            .join()
            .unwrap_or_else(|_| Err(StoreError::Database("connection thread panicked".into())))
    })
}

/// A connection thread: takes calls until the pool is dropped.
fn serve<C>(mut link: Link<C>, jobs: &Mutex<Receiver<Job<C>>>) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|e| e.into_inner());
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if job
            .state
            .compare_exchange(QUEUED, TAKEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // A panic (a row not as expected) fails that call only: its caller sees the reply
            // channel close, the connection is dropped, and the thread goes on.
            let run = std::panic::AssertUnwindSafe(|| (job.run)(&mut link));
            if std::panic::catch_unwind(run).is_err() {
                link.conn = None;
            }
        }
    }
}

impl<C: Prepared> Link<C> {
    /// The connection, made (again) when there is none; a few tries.
    fn connect(&mut self) -> Result<&mut C, StoreError> {
        if self.conn.as_mut().is_some_and(|c| c.client().is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let mut tries = 0;
            let conn = loop {
                match connect_once(&self.config).and_then(C::prepare) {
                    Ok(conn) => break conn,
                    Err(e)
                        if tries < CONNECT_PAUSES.len()
                            && matches!(e, StoreError::Unavailable(_)) =>
                    {
                        std::thread::sleep(CONNECT_PAUSES[tries]);
                        tries += 1;
                    }
                    Err(e) => return Err(e),
                }
            };
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// Runs `work`, dropping the connection when the call found it broken. Before a write
    /// (`writes`) on a connection idle for a while, the connection is checked first: a server
    /// restarted meanwhile is then noticed before the write, whose outcome would otherwise be
    /// unknown.
    fn run<T>(
        &mut self,
        work: &impl Fn(&mut C) -> Result<T, StoreError>,
        writes: bool,
    ) -> Result<T, StoreError> {
        if writes && self.used.elapsed() > IDLE_CHECK {
            if let Some(conn) = &mut self.conn {
                if conn.client().is_valid(Duration::from_secs(5)).is_err() {
                    self.conn = None;
                }
            }
        }
        let conn = self.connect()?;
        let result = work(conn);
        if matches!(
            result,
            Err(StoreError::Unavailable(_) | StoreError::OutcomeUnknown(_))
        ) {
            self.conn = None;
        } else {
            self.used = Instant::now();
        }
        result
    }
}

/// The settings every connection starts with: a node paused inside a transaction holds its
/// locks at most this long; a statement waits for another's lock at most that long; a commit
/// returns only once durable, whatever the server's default.
pub(super) fn configure(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(&format!(
            "SET statement_timeout = {STATEMENT_TIMEOUT_MS};
             SET lock_timeout = {STATEMENT_TIMEOUT_MS};
             SET idle_in_transaction_session_timeout = {STATEMENT_TIMEOUT_MS};
             SET synchronous_commit = on"
        ))
        .map_err(pg_error)
}

/// Commits `tx`; a commit sent without an answer may have been applied
/// ([`StoreError::OutcomeUnknown`]).
pub(super) fn commit(tx: Transaction<'_>) -> Result<(), StoreError> {
    match tx.commit().map_err(pg_error) {
        Err(StoreError::Unavailable(why)) => Err(StoreError::OutcomeUnknown(why)),
        other => other,
    }
}

/// The config of `options`, and where it points (for messages).
fn parse(options: &PostgresOptions) -> Result<(postgres::Config, String), StoreError> {
    let url = options.url.trim();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Io(
            "the PostgreSQL url must start with postgres:// or postgresql://".into(),
        ));
    }
    // The parser's message may quote the URL, which may hold the password: not repeated.
    let mut config: postgres::Config = url
        .parse()
        .map_err(|_| StoreError::Io("the PostgreSQL url cannot be read".into()))?;
    if config.get_password().is_none() {
        if let Some(password) = &options.password {
            config.password(password.as_bytes());
        }
    }
    config.connect_timeout(options.wait);
    config.application_name("parsec");
    // A database host that vanishes (powered off, cut off) is noticed in seconds, not after the
    // kernel's two hours; a standby (read-only, lagging) is never used.
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(30))
        .target_session_attrs(postgres::config::TargetSessionAttrs::ReadWrite);
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let place = format!(
        "PostgreSQL database {} on {}",
        config.get_dbname().unwrap_or("(default)"),
        if hosts.is_empty() {
            "localhost".to_string()
        } else {
            hosts.join(",")
        }
    );
    Ok((config, place))
}

fn connect_once(config: &postgres::Config) -> Result<Client, StoreError> {
    config.connect(NoTls).map_err(pg_error)
}

/// Prefixes an error's message with the store's place.
pub(super) fn in_place(e: StoreError, place: &str) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{place}: {m}")),
        StoreError::Database(m) => StoreError::Database(format!("{place}: {m}")),
        StoreError::Io(m) => StoreError::Io(format!("{place}: {m}")),
        other => other,
    }
}

/// A database error as the store reports it: the connection's loss as
/// [`StoreError::Unavailable`], a full disk as [`StoreError::Full`], the rest as the server's
/// message.
pub(super) fn pg_error(e: postgres::Error) -> StoreError {
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection failed or closed.
        return StoreError::Unavailable(e.to_string());
    };
    if *code == SqlState::DISK_FULL || *code == SqlState::OUT_OF_MEMORY {
        return StoreError::Full;
    }
    // Class 08 (connection exception), 57P01-57P03 (the server shutting down or starting).
    let class = code.code();
    if class.starts_with("08")
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
    {
        return StoreError::Unavailable(e.to_string());
    }
    let message = e.as_db_error().map_or_else(
        || e.to_string(),
        |db| format!("{} ({})", db.message(), class),
    );
    StoreError::Database(message)
}

/// Brings the schema `track` (its version kept in `parsec_meta` under that name) to
/// `migrations`' last version, inside `tx`, which holds [`LOCK_SCHEMA`].
pub(super) fn migrate(
    tx: &mut Transaction<'_>,
    track: &str,
    what: &str,
    migrations: &[&str],
) -> Result<(), StoreError> {
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS parsec_meta (
            name   TEXT PRIMARY KEY,
            number BIGINT,
            data   BYTEA
        )",
    )
    .map_err(pg_error)?;
    let ours = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    let found: i64 = tx
        .query_opt("SELECT number FROM parsec_meta WHERE name = $1", &[&track])
        .map_err(pg_error)?
        .and_then(|row| row.get::<_, Option<i64>>(0))
        .unwrap_or(0);
    if found > ours {
        return Err(StoreError::Io(format!(
            "the {what} has schema version {found}; this service reads versions up to {ours}"
        )));
    }
    for (i, sql) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(sql).map_err(|e| {
            in_place(
                pg_error(e),
                &format!("{what}: migration to schema version {}", i + 1),
            )
        })?;
    }
    tx.execute(
        "INSERT INTO parsec_meta (name, number) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET number = EXCLUDED.number",
        &[&track, &ours],
    )
    .map_err(pg_error)?;
    Ok(())
}
