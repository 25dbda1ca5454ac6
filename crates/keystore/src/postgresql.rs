//! The shared store: one PostgreSQL database that several service nodes use at once.
//!
//! The guarantees are the SQLite store's: a create is one transaction (the quota counts and the
//! insert-if-absent, serialised against other creates by an advisory lock), durable when it
//! returns; material is sealed under the master key with the record's identity as associated
//! data; the schema carries its version and is brought forward by numbered migrations, under a
//! lock so that nodes starting together apply each once. Every node must use the same master
//! key: the database keeps a value sealed under it, and a node whose key does not open that
//! value is refused at start-up, before it could seal a record that the others cannot read.
//!
//! Connections live on threads of their own (`postgres` blocks on a runtime of its own, which
//! must not run inside the caller's), as many as `connections`. A call waits at most `wait` for
//! one of them. A connection found broken is dropped and made again on next use, a few times
//! with a pause between tries, so the store outlives a database restart: calls fail meanwhile
//! with [`StoreError::Unavailable`], and reads are tried once more on a new connection.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls, Statement};
use zeroize::Zeroizing;

use crate::sealing::Accept;
use crate::{KeyId, KeyRecord, KeyStore, Listed, MasterKey, Probe, Quota, QuotaScope, StoreError};

/// How to reach the database.
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

/// Versions of the schema, each the statements that make it from the one before.
const MIGRATIONS: &[&str] = &["
CREATE TABLE parsec_keys (
    auth       SMALLINT NOT NULL,
    app        TEXT     NOT NULL,
    name       TEXT     NOT NULL,
    provider   SMALLINT NOT NULL,
    attributes BYTEA    NOT NULL,
    material   BYTEA    NOT NULL,
    serial     BIGINT   GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (auth, app, name)
);
"];

/// Advisory lock keys (one namespace of two 32-bit keys, ours by its first half: "PRSC").
const LOCK_SPACE: i32 = 0x5052_5343;
const LOCK_SCHEMA: i32 = -1;

/// Statements taking more than this are cancelled by the server.
const STATEMENT_TIMEOUT_MS: u32 = 10_000;
/// A call whose connection has started on it waits this long for the answer before it gives up
/// (the server may be stopped, not gone: nothing on the socket says so).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection idle longer than this is checked before a write.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Tries to connect before a call fails, with these pauses between them.
const CONNECT_PAUSES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

/// The record sealed under the master key to check that every node uses the same one.
fn check_id() -> KeyId {
    KeyId {
        auth: 0,
        app: String::new(),
        name: "parsec master key check".to_string(),
    }
}
const CHECK_PLAINTEXT: &[u8] = b"parsec master key check v1";

/// A key store in a PostgreSQL database.
pub struct PostgresStore {
    jobs: Mutex<SyncSender<Job>>,
    wait: Duration,
    master: Arc<MasterKey>,
    place: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresStore({})", self.place)
    }
}

/// The prepared statements of one connection.
struct Conn {
    client: Client,
    get: Statement,
    version: Statement,
    insert: Statement,
    delete: Statement,
    list: Statement,
    clients: Statement,
    delete_client: Statement,
}

/// A call handed to a connection thread. `state` says whether a thread took it or the caller
/// gave up waiting first: exactly one of the two happens.
struct Job {
    run: Box<dyn FnOnce(&mut Link) + Send>,
    state: Arc<AtomicU8>,
}
const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

/// One connection thread's connection, made when first needed and again when found broken.
struct Link {
    config: Arc<postgres::Config>,
    conn: Option<Conn>,
    /// When the connection last answered.
    used: std::time::Instant,
}

impl PostgresStore {
    /// Connects, brings the schema to this version and checks the master key against the
    /// database's (recording it when the database has none yet).
    pub fn open(options: PostgresOptions, master: MasterKey) -> Result<PostgresStore, StoreError> {
        let (config, place) = parse(&options)?;
        let config = Arc::new(config);
        let master = Arc::new(master);
        // The first connection migrates and checks, on a thread of its own (no runtime).
        let first = std::thread::scope(|s| {
            let (config, master) = (config.clone(), master.clone());
            s.spawn(move || -> Result<Link, StoreError> {
                let mut client = connect_once(&config)?;
                prepare_database(&mut client, &master)?;
                Ok(Link {
                    config,
                    conn: Some(Conn::new(client)?),
                    used: std::time::Instant::now(),
                })
            })
            .join()
            .unwrap_or_else(|_| Err(StoreError::Database("connection thread panicked".into())))
        })
        .map_err(|e| in_place(e, &place))?;
        let connections = options.connections.max(1);
        let mut links = vec![first];
        links.extend((1..connections).map(|_| Link {
            config: config.clone(),
            conn: None,
            used: std::time::Instant::now(),
        }));
        // Calls beyond the threads queue here, a bounded number; a caller gives up after `wait`.
        let (tx, rx) = mpsc::sync_channel::<Job>(connections * 64);
        let rx = Arc::new(Mutex::new(rx));
        for link in links {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name("parsec-postgres".into())
                .spawn(move || serve(link, &rx))
                .map_err(|e| StoreError::Io(format!("cannot start a connection thread: {e}")))?;
        }
        Ok(PostgresStore {
            jobs: Mutex::new(tx),
            wait: options.wait,
            master,
            place,
        })
    }

    /// How many key records the database holds, without a master key and changing nothing (0
    /// when it has no key table yet). Used before a master key is created: a store that holds
    /// records must never get a new one.
    pub fn count_records(options: &PostgresOptions) -> Result<u64, StoreError> {
        let (config, place) = parse(options)?;
        std::thread::scope(|s| {
            s.spawn(move || -> Result<u64, StoreError> {
                let mut client = connect_once(&config)?;
                let exists: bool = client
                    .query_one("SELECT to_regclass('parsec_keys') IS NOT NULL", &[])
                    .map_err(pg_error)?
                    .get(0);
                if !exists {
                    return Ok(0);
                }
                let n: i64 = client
                    .query_one("SELECT count(*) FROM parsec_keys", &[])
                    .map_err(pg_error)?
                    .get(0);
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .join()
            .unwrap_or_else(|_| Err(StoreError::Database("connection thread panicked".into())))
        })
        .map_err(|e| in_place(e, &place))
    }

    /// Where the store is, for messages: host and database, never the password.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Runs `work` on a connection thread. `retry`: the work only reads, and is run once more
    /// on a new connection when the first breaks.
    fn call<T: Send + 'static>(
        &self,
        retry: bool,
        work: impl Fn(&mut Conn, &MasterKey) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply_tx, reply_rx) = mpsc::sync_channel::<Result<T, StoreError>>(1);
        let state = Arc::new(AtomicU8::new(QUEUED));
        let master = self.master.clone();
        let job = Job {
            state: state.clone(),
            run: Box::new(move |link: &mut Link| {
                let mut result = link.run(&work, &master, !retry);
                if retry && matches!(result, Err(StoreError::Unavailable(_))) {
                    result = link.run(&work, &master, false);
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

/// A connection thread: takes calls until the store is dropped.
fn serve(mut link: Link, jobs: &Mutex<Receiver<Job>>) {
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

impl Link {
    /// The connection, made (again) when there is none; a few tries.
    fn connect(&mut self) -> Result<&mut Conn, StoreError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let mut tries = 0;
            let conn = loop {
                match connect_once(&self.config).and_then(Conn::new) {
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
        work: &impl Fn(&mut Conn, &MasterKey) -> Result<T, StoreError>,
        master: &MasterKey,
        writes: bool,
    ) -> Result<T, StoreError> {
        if writes && self.used.elapsed() > IDLE_CHECK {
            if let Some(conn) = &mut self.conn {
                if conn.client.is_valid(Duration::from_secs(5)).is_err() {
                    self.conn = None;
                }
            }
        }
        let conn = self.connect()?;
        let result = work(conn, master);
        if matches!(
            result,
            Err(StoreError::Unavailable(_) | StoreError::OutcomeUnknown(_))
        ) {
            self.conn = None;
        } else {
            self.used = std::time::Instant::now();
        }
        result
    }
}

impl Conn {
    fn new(mut client: Client) -> Result<Conn, StoreError> {
        // A node paused inside a transaction holds its locks at most this long; a create waits
        // for another's lock at most that long; a commit returns only once durable, whatever
        // the server's default.
        client
            .batch_execute(&format!(
                "SET statement_timeout = {STATEMENT_TIMEOUT_MS};
                 SET lock_timeout = {STATEMENT_TIMEOUT_MS};
                 SET idle_in_transaction_session_timeout = {STATEMENT_TIMEOUT_MS};
                 SET synchronous_commit = on"
            ))
            .map_err(pg_error)?;
        let mut prepare = |sql: &str| client.prepare(sql).map_err(pg_error);
        Ok(Conn {
            get: prepare(
                "SELECT provider, attributes, material, serial FROM parsec_keys
                 WHERE auth = $1 AND app = $2 AND name = $3",
            )?,
            version: prepare(
                "SELECT serial FROM parsec_keys WHERE auth = $1 AND app = $2 AND name = $3",
            )?,
            insert: prepare(
                "INSERT INTO parsec_keys (auth, app, name, provider, attributes, material)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )?,
            delete: prepare("DELETE FROM parsec_keys WHERE auth = $1 AND app = $2 AND name = $3")?,
            // Byte order, as SQLite's: the database's collation may sort otherwise.
            list: prepare(
                "SELECT name, provider, attributes FROM parsec_keys
                 WHERE auth = $1 AND app = $2 ORDER BY name COLLATE \"C\"",
            )?,
            clients: prepare(
                "SELECT DISTINCT app COLLATE \"C\" FROM parsec_keys WHERE auth = $1
                 ORDER BY 1",
            )?,
            delete_client: prepare("DELETE FROM parsec_keys WHERE auth = $1 AND app = $2")?,
            client,
        })
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
fn in_place(e: StoreError, place: &str) -> StoreError {
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
fn pg_error(e: postgres::Error) -> StoreError {
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

/// Brings the schema to [`MIGRATIONS`]'s last version and checks (or records) the master key,
/// in one transaction under a lock that other nodes starting take too.
fn prepare_database(client: &mut Client, master: &MasterKey) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(pg_error)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&LOCK_SPACE, &LOCK_SCHEMA],
    )
    .map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS parsec_meta (
            name   TEXT PRIMARY KEY,
            number BIGINT,
            data   BYTEA
        )",
    )
    .map_err(pg_error)?;
    let ours = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let found: i64 = tx
        .query_opt(
            "SELECT number FROM parsec_meta WHERE name = 'schema_version'",
            &[],
        )
        .map_err(pg_error)?
        .and_then(|row| row.get::<_, Option<i64>>(0))
        .unwrap_or(0);
    if found > ours {
        return Err(StoreError::Io(format!(
            "the key store has schema version {found}; this service reads versions up to {ours}"
        )));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(sql).map_err(|e| {
            in_place(
                pg_error(e),
                &format!("migration to schema version {}", i + 1),
            )
        })?;
    }
    tx.execute(
        "INSERT INTO parsec_meta (name, number) VALUES ('schema_version', $1)
         ON CONFLICT (name) DO UPDATE SET number = EXCLUDED.number",
        &[&ours],
    )
    .map_err(pg_error)?;
    let check: Option<Vec<u8>> = tx
        .query_opt(
            "SELECT data FROM parsec_meta WHERE name = 'master_key_check'",
            &[],
        )
        .map_err(pg_error)?
        .and_then(|row| row.get(0));
    match check {
        Some(sealed) => {
            let opened = master.open(&check_id(), 0, &[], &sealed, Accept::Current);
            if !opened.is_ok_and(|p| p.as_slice() == CHECK_PLAINTEXT) {
                return Err(StoreError::Io(
                    "this node's master key is not the one the database's keys are sealed \
                     with: every node must use the same master key file"
                        .into(),
                ));
            }
        }
        None => {
            let sealed = master.seal(&check_id(), 0, &[], CHECK_PLAINTEXT)?;
            tx.execute(
                "INSERT INTO parsec_meta (name, data) VALUES ('master_key_check', $1)",
                &[&sealed],
            )
            .map_err(pg_error)?;
        }
    }
    tx.commit().map_err(pg_error)
}

/// Whether PostgreSQL's text can hold the identity: it cannot hold NUL, so no record named
/// with one exists (the service refuses such names at creation).
fn storable(id: &KeyId) -> bool {
    !id.app.contains('\0') && !id.name.contains('\0')
}

fn small(n: u8) -> i16 {
    i16::from(n)
}

fn byte(n: i16) -> Result<u8, StoreError> {
    u8::try_from(n).map_err(|_| StoreError::Corrupt)
}

impl KeyStore for PostgresStore {
    fn create_within(
        &self,
        id: &KeyId,
        record: &KeyRecord,
        quota: Quota,
    ) -> Result<(), StoreError> {
        if !storable(id) {
            return Err(StoreError::Database(
                "a name with a NUL character cannot be stored".into(),
            ));
        }
        // The attributes are bound to the material: a record whose usage or algorithms were
        // changed in the database does not open.
        let sealed = self
            .master
            .seal(id, record.provider, &record.attributes, &record.material)?;
        let id = id.clone();
        let provider = record.provider;
        let attributes = record.attributes.clone();
        self.call(false, move |conn, _| {
            let mut tx = conn.client.transaction().map_err(pg_error)?;
            // Creates that count the same keys take turns: the counts and the insert then see
            // and make one state. Every counted create locks its kind (there are few kinds, and
            // that covers a count of one application too); the lock is the transaction's.
            if quota.per_app.is_some() || quota.per_auth.is_some() {
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1, $2)",
                    &[&LOCK_SPACE, &i32::from(id.auth)],
                )
                .map_err(pg_error)?;
            }
            let checks = [
                (quota.per_app, QuotaScope::Application),
                (quota.per_auth, QuotaScope::AuthKind),
            ];
            for (limit, who) in checks {
                let Some(limit) = limit else { continue };
                let held: i64 = match who {
                    QuotaScope::Application => tx.query_one(
                        "SELECT count(*) FROM parsec_keys WHERE auth = $1 AND app = $2",
                        &[&small(id.auth), &id.app],
                    ),
                    QuotaScope::AuthKind => tx.query_one(
                        "SELECT count(*) FROM parsec_keys WHERE auth = $1",
                        &[&small(id.auth)],
                    ),
                }
                .map_err(pg_error)?
                .get(0);
                if u64::try_from(held).unwrap_or(0) >= limit {
                    return Err(StoreError::QuotaExceeded { who, limit });
                }
            }
            let inserted = tx
                .execute(
                    &conn.insert,
                    &[
                        &small(id.auth),
                        &id.app,
                        &id.name,
                        &small(provider),
                        &attributes,
                        &sealed,
                    ],
                )
                .map_err(pg_error)?;
            if inserted != 1 {
                return Err(StoreError::AlreadyExists);
            }
            match tx.commit().map_err(pg_error) {
                // The commit was sent and no answer came: it may have been applied.
                Err(StoreError::Unavailable(why)) => Err(StoreError::OutcomeUnknown(why)),
                other => other,
            }
        })
    }

    fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self.get_versioned(id)?.map(|(record, _)| record))
    }

    fn get_versioned(&self, id: &KeyId) -> Result<Option<(KeyRecord, u64)>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        let key = id.clone();
        let row = self.call(true, move |conn, _| {
            let Some(r) = conn
                .client
                .query_opt(&conn.get, &[&small(key.auth), &key.app, &key.name])
                .map_err(pg_error)?
            else {
                return Ok(None);
            };
            let serial: i64 = r.get(3);
            Ok(Some((
                byte(r.get(0))?,
                r.get::<_, Vec<u8>>(1),
                r.get::<_, Vec<u8>>(2),
                serial as u64,
            )))
        })?;
        let Some((provider, attributes, sealed, version)) = row else {
            return Ok(None);
        };
        let material = self
            .master
            .open(id, provider, &attributes, &sealed, Accept::Current)?;
        let record = KeyRecord {
            provider,
            attributes,
            material,
        };
        Ok(Some((record, version)))
    }

    fn shared(&self) -> bool {
        true
    }

    fn version(&self, id: &KeyId) -> Result<Option<u64>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        let key = id.clone();
        self.call(true, move |conn, _| {
            Ok(conn
                .client
                .query_opt(&conn.version, &[&small(key.auth), &key.app, &key.name])
                .map_err(pg_error)?
                .map(|r| r.get::<_, i64>(0) as u64))
        })
    }

    fn delete(&self, id: &KeyId) -> Result<bool, StoreError> {
        if !storable(id) {
            return Ok(false);
        }
        let id = id.clone();
        self.call(false, move |conn, _| {
            let n = conn
                .client
                .execute(&conn.delete, &[&small(id.auth), &id.app, &id.name])
                .map_err(pg_error)?;
            Ok(n == 1)
        })
    }

    fn list(&self, auth: u8, app: &str) -> Result<Vec<Listed>, StoreError> {
        if app.contains('\0') {
            return Ok(Vec::new());
        }
        let app = app.to_string();
        self.call(true, move |conn, _| {
            conn.client
                .query(&conn.list, &[&small(auth), &app])
                .map_err(pg_error)?
                .iter()
                .map(|r| {
                    Ok(Listed {
                        name: r.get(0),
                        provider: byte(r.get(1))?,
                        attributes: r.get(2),
                    })
                })
                .collect()
        })
    }

    fn list_clients(&self, auth: u8) -> Result<Vec<String>, StoreError> {
        self.call(true, move |conn, _| {
            Ok(conn
                .client
                .query(&conn.clients, &[&small(auth)])
                .map_err(pg_error)?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn delete_client(&self, auth: u8, app: &str) -> Result<usize, StoreError> {
        if app.contains('\0') {
            return Ok(0);
        }
        let app = app.to_string();
        self.call(false, move |conn, _| {
            let n = conn
                .client
                .execute(&conn.delete_client, &[&small(auth), &app])
                .map_err(pg_error)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn probe(&self, sample: usize) -> Result<Probe, StoreError> {
        let limit = i64::try_from(sample).unwrap_or(i64::MAX);
        let opened = self.call(true, move |conn, master| open_each(conn, master, limit))?;
        Ok(Probe {
            sampled: opened.len(),
            opened: opened.iter().filter(|ok| **ok).count(),
        })
    }

    fn check_integrity(&self) -> Result<usize, StoreError> {
        let opened = self.call(true, move |conn, master| open_each(conn, master, i64::MAX))?;
        if opened.iter().all(|ok| *ok) {
            Ok(opened.len())
        } else {
            Err(StoreError::Corrupt)
        }
    }
}

/// Tries to unseal up to `limit` records: whether each opened.
fn open_each(conn: &mut Conn, master: &MasterKey, limit: i64) -> Result<Vec<bool>, StoreError> {
    let rows = conn
        .client
        .query(
            "SELECT auth, app, name, provider, material, attributes FROM parsec_keys LIMIT $1",
            &[&limit],
        )
        .map_err(pg_error)?;
    rows.iter()
        .map(|r| {
            let id = KeyId {
                auth: byte(r.get(0))?,
                app: r.get(1),
                name: r.get(2),
            };
            let sealed: Vec<u8> = r.get(4);
            let attributes: Vec<u8> = r.get(5);
            Ok(master
                .open(&id, byte(r.get(3))?, &attributes, &sealed, Accept::Current)
                .is_ok())
        })
        .collect()
}
