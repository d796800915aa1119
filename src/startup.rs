//! Builds the application from a Config: database, keys, accounts, HTTP server.
//! The only place that knows every module.

use crate::accounts;
use crate::api;
use crate::auth::{AuthLimits, AuthRateLimiter, Passwords, TokenKeys, secret};
use crate::body_deadline::body_deadline;
use crate::classify::llm::LlmClient;
use crate::config::{Config, MetricsEndpoint, Secret};
use crate::connections::{ClientStream, ConnectionLimit, refuse};
use crate::db::server_lock::{Holder, ServerLock};
use crate::db::{Db, OpenError, OpenMode};
use crate::errors::AppError;
use crate::events::Events;
use crate::links::PhotoLinks;
use crate::queue::{self, ClassifyQueue, QueueSettings, QueueWorkers};
use crate::realtime;
use crate::state::{AccountChanges, AppState};
use crate::submission_limit::SubmissionLimiter;
use crate::telemetry;
use crate::web as pages;
use actix_cors::Cors;
use actix_http::{HttpService, KeepAlive, Protocol, error::DispatchError};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::rt::net::TcpStream;
use actix_web::{App, web};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] OpenError),
    #[error(transparent)]
    InUse(#[from] crate::db::server_lock::LockError),
    #[error("cannot read or create the signing key file {path}: {source}")]
    SecretKey {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("start-up failed: {0}")]
    Setup(#[from] AppError),
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    workers: Option<QueueWorkers>,
    events: Events,
    db: Db,
    shutdown: watch::Sender<bool>,
    shutdown_grace: Duration,
    banner: Banner,
    signals: StopSignals,
    /// The `METRICS_ADDR` listener, when there is one.
    metrics_server: Option<ServerHandle>,
    /// Held until the database is closed.
    lock: ServerLock,
}

/// What an operator needs on start-up: where to open the pages and, on the run that created
/// it, the default super admin's password (shown here and nowhere else, never in a log).
pub struct Banner {
    /// The address a browser on this machine opens, e.g. `http://127.0.0.1:8000/`.
    pub url: String,
    /// Bound to `0.0.0.0` or `::`: reachable on every interface, not only on `url`.
    pub every_interface: bool,
    /// `PUBLIC_URL`, when set.
    pub public_url: Option<String>,
    /// The account created on this run, with its password.
    pub created_admin: Option<(String, Secret)>,
}

impl Banner {
    fn new(bound: SocketAddr, public_url: Option<String>) -> Banner {
        let every_interface = bound.ip().is_unspecified();
        let host = match bound.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Banner {
            url: format!("http://{}/", SocketAddr::new(host, bound.port())),
            every_interface,
            public_url,
            created_admin: None,
        }
    }

    /// The block printed on its own lines to stderr once the server is listening.
    pub fn render(&self) -> String {
        let mut text = format!("\n  maintenance is running: open {}\n", self.url);
        if self.every_interface {
            text.push_str(
                "  (listening on every interface: other machines reach it at this machine's address)\n",
            );
        }
        if let Some(public) = &self.public_url {
            text.push_str(&format!("  public address (PUBLIC_URL): {public}/\n"));
        }
        if let Some((email, password)) = &self.created_admin {
            text.push_str(&format!(
                "\n  A super admin account was created; its password is shown only this once:\n\
                 \x20     email     {email}\n\
                 \x20     password  {password}\n\
                 \x20 Change it with\n\
                 \x20     maintenance set-password {email}\n\
                 \x20 (from a checkout of the source: cargo run --release -- set-password {email})\n",
                password = password.expose(),
            ));
        }
        text.push('\n');
        text
    }
}

/// Stops a running [`Application`] as SIGTERM does: sockets told "going away", HTTP drained.
#[derive(Clone)]
pub struct StopHandle {
    server: ServerHandle,
    shutdown: watch::Sender<bool>,
}

impl StopHandle {
    pub async fn stop(&self) {
        let _ = self.shutdown.send(true);
        self.server.stop(true).await;
    }
}

impl Application {
    /// Opens and migrates the database, prepares keys and accounts, and binds the listener.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        // Before the database is opened: a second server on it, or a restore, is refused before
        // it migrates, creates or writes anything.
        let lock = ServerLock::acquire(&config.database_path, Holder::Serve)?;
        let (mut state, shutdown) = match prepare_state(config).await {
            Ok(prepared) => prepared,
            Err(e) => {
                // A file refused as not ours (the original system's) keeps nothing beside it.
                lock.discard();
                return Err(e);
            }
        };
        // Bound before the default super admin is created: a port already in use must not
        // cost the only showing of its password.
        let address = format!("{}:{}", state.config.host, state.config.port);
        let listen_error = |source| StartupError::Listen {
            address: address.clone(),
            source,
        };
        let listener =
            TcpListener::bind((state.config.host, state.config.port)).map_err(listen_error)?;
        let bound = listener.local_addr().map_err(listen_error)?;
        let port = bound.port();
        let metrics_listener = bind_metrics(&state.config)?;
        let mut banner = Banner::new(bound, state.config.public_url.clone());
        let created = accounts::ensure_super_admin(
            &state.db,
            &state.passwords,
            state.config.super_admin.as_ref(),
        )
        .await?;
        banner.created_admin =
            created.map(|password| (accounts::DEFAULT_SUPER_ADMIN_EMAIL.to_owned(), password));
        let workers = start_queue(&mut state).await?;
        let retention = Duration::from_secs(state.config.live.retention_days * 24 * 3600);
        tokio::spawn(realtime::prune_events(
            state.db.clone(),
            retention,
            state.shutdown.clone(),
        ));
        tokio::spawn(crate::auth::sessions::prune_expired(
            state.db.clone(),
            state.shutdown.clone(),
        ));
        let shutdown_grace =
            Duration::from_secs(state.config.llm.as_ref().map_or(0, |l| l.timeout_secs) + 5);
        let events = state.events.clone();
        let db = state.db.clone();
        let metrics_server = start_metrics(&state, metrics_listener)?;
        let server = http_server(state, listener).map_err(listen_error)?;
        // Before "listening": a supervisor (or test) that stops the server as soon as it reads
        // that line must get a clean stop, not the default action of the signal.
        let signals = StopSignals::install();
        // `.ci/run`, the binary tests and the benchmarks read the port from this line.
        tracing::info!(address = %format!("{}:{port}", address.rsplit_once(':').map_or("", |(h, _)| h)), "listening");
        Ok(Application {
            port,
            server,
            workers,
            events,
            db,
            shutdown,
            shutdown_grace,
            banner,
            signals,
            metrics_server,
            lock,
        })
    }

    /// The start-up banner: the URL to open and, on the run that created it, the default
    /// super admin's password.
    pub fn banner(&self) -> &Banner {
        &self.banner
    }

    /// The port actually bound (useful when the configured port is 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere (tests, supervisors).
    pub fn handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            shutdown: self.shutdown.clone(),
        }
    }

    /// The application's events, for observers such as tests.
    pub fn events(&self) -> Events {
        self.events.clone()
    }

    /// Serves until SIGINT/SIGTERM, then stops gracefully: live sockets are closed with
    /// "going away", HTTP drains, the classification workers finish their jobs or leave
    /// them for the next start, and the write-ahead log is checkpointed into the database
    /// file, which then holds every committed change on its own.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stop = self.handle();
        let signals = self.signals;
        tokio::spawn(async move {
            signals.wait().await;
            tracing::info!("shutting down");
            stop.stop().await;
        });
        let served = self.server.await;
        let _ = self.shutdown.send(true);
        if let Some(metrics) = self.metrics_server {
            metrics.stop(true).await;
        }
        if let Some(workers) = self.workers {
            workers.shutdown(self.shutdown_grace).await;
        }
        match self.db.close().await {
            Ok(()) => tracing::info!("database checkpointed and closed"),
            Err(e) => tracing::warn!(error = %e, "database not fully checkpointed"),
        }
        drop(self.lock);
        served
    }
}

/// SIGTERM and SIGINT, caught from the moment they are installed.
struct StopSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => Some((term, int)),
                _ => {
                    tracing::warn!(
                        "cannot catch SIGTERM/SIGINT: a signal stops the server at once"
                    );
                    None
                }
            };
            StopSignals { streams }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        match self.streams {
            Some((mut term, mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Opens the database and everything the handlers share; also returns the sender that
/// tells long-lived tasks the server is shutting down.
pub async fn prepare_state(
    config: Config,
) -> Result<(AppState, watch::Sender<bool>), StartupError> {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        database = %crate::db::absolute(&config.database_path).display(),
        "starting"
    );
    // Every setting (secrets masked), for when something is not as expected: RUST_LOG=debug.
    tracing::debug!(?config, "configuration");
    let pool_size = (std::thread::available_parallelism().map_or(2, |n| n.get()) as u32 * 4).max(8);
    let path = config.database_path.clone();
    let db =
        tokio::task::spawn_blocking(move || Db::open(&path, pool_size, OpenMode::CreateIfMissing))
            .await
            .map_err(AppError::internal)??;
    let secret = match &config.secret_key {
        Some(secret) => secret.clone(),
        None => {
            let path = config.secret_key_path();
            secret::load_or_create(&path).map_err(|source| StartupError::SecretKey {
                path: path.display().to_string(),
                source,
            })?
        }
    };
    let cost = config.bcrypt_cost;
    let passwords = tokio::task::spawn_blocking(move || Passwords::new(cost))
        .await
        .map_err(AppError::internal)??;
    let (stop, shutdown) = watch::channel(false);
    let state = AppState {
        db,
        queue: ClassifyQueue::disabled(),
        llm: None,
        submission_limiter: SubmissionLimiter::new(config.submission_rate_per_minute),
        events: Events::new(config.live.buffer),
        account_changes: AccountChanges::default(),
        mailer: crate::mail::Mailer::new(config.smtp.as_ref()).map_err(AppError::internal)?,
        shutdown,
        tokens: TokenKeys::new(&secret, config.access_token_expire_minutes),
        photo_links: PhotoLinks::new(&secret, config.image_url_ttl_minutes),
        passwords,
        auth_limiter: AuthRateLimiter::new(
            AuthLimits {
                logins_per_address: config.login_rate_per_minute,
                registrations_per_address: config.register_rate_per_minute,
                attempts_per_address: config.auth_rate_per_minute,
                failures_per_account: config.login_failures_per_account,
            },
            config.trusted_proxies.clone(),
        ),
        config: Arc::new(config),
    };
    Ok((state, stop))
}

/// Starts the LLM refinement queue when an LLM is configured; without one, finishes the jobs
/// a previous run left so no request stays pending.
async fn start_queue(state: &mut AppState) -> Result<Option<QueueWorkers>, StartupError> {
    let Some(llm) = &state.config.llm else {
        tracing::info!(
            "no GROQ_API_KEY or LLM_API_KEY: the offline classifier decides every request"
        );
        queue::settle_without_llm(&state.db, &state.events).await?;
        tokio::spawn(queue::settle_while_serving(
            state.db.clone(),
            state.events.clone(),
            Duration::from_millis(state.config.queue_sweep_ms),
            state.shutdown.clone(),
        ));
        return Ok(None);
    };
    let client = LlmClient::from_config(llm).map_err(AppError::internal)?;
    let queue_settings = QueueSettings {
        capacity: state.config.queue_capacity,
        workers: llm.concurrency,
        batch: llm.batch,
        sweep_interval: Duration::from_millis(state.config.queue_sweep_ms),
    };
    tracing::info!(model = %llm.model, base_url = %llm.base_url, "LLM refinement on");
    let (queue, workers) = queue::start(
        state.db.clone(),
        client.clone(),
        state.events.clone(),
        queue_settings,
    )
    .await?;
    state.queue = queue;
    state.llm = Some(client);
    Ok(Some(workers))
}

/// The `METRICS_ADDR` listener, bound with the main one (before the default super admin is
/// created, like it): an address in use stops start-up before anything is created.
fn bind_metrics(config: &Config) -> Result<Option<TcpListener>, StartupError> {
    let MetricsEndpoint::Own(addr) = config.metrics else {
        return Ok(None);
    };
    TcpListener::bind(addr)
        .map(Some)
        .map_err(|source| StartupError::Listen {
            address: format!("{addr} (METRICS_ADDR)"),
            source,
        })
}

/// Installs the metrics recorder unless `METRICS=off`, and on the `METRICS_ADDR` listener
/// starts the server that serves `/metrics` alone.
fn start_metrics(
    state: &AppState,
    listener: Option<TcpListener>,
) -> Result<Option<ServerHandle>, StartupError> {
    if state.config.metrics == MetricsEndpoint::Off {
        return Ok(None);
    }
    if let Some(handle) = telemetry::metrics::install() {
        tokio::spawn(telemetry::metrics::keep_up(handle, state.shutdown.clone()));
    }
    let Some(listener) = listener else {
        return Ok(None);
    };
    let bound = listener.local_addr();
    let listen_error = |source| StartupError::Listen {
        address: format!(
            "{} (METRICS_ADDR)",
            bound.as_ref().map_or("?".to_owned(), |a| a.to_string())
        ),
        source,
    };
    let data = web::Data::new(state.clone());
    let server = actix_web::HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(telemetry::metrics::own_listener_routes)
            .default_service(web::to(pages::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .map_err(listen_error)?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    if let Ok(bound) = bound {
        tracing::info!(address = %bound, "metrics listening");
    }
    Ok(Some(handle))
}

fn http_server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let workers = match state.config.http_workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let limit = ConnectionLimit::new(
        state.config.max_connections_per_address,
        state.config.trusted_proxies.clone(),
    );
    let local = listener.local_addr()?;
    let slow = Duration::from_millis(state.config.slow_request_ms);
    let data = web::Data::new(state);
    // Built from actix-server and actix-http directly (what HttpServer does inside) so that
    // each connection passes the per-address cap and gets the ClientStream wrapper.
    let builder = Server::build();
    let shutdown_signal = builder.graceful_shutdown_signal();
    let server = builder
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(10)
        .listen("http", listener, move || {
            let data = data.clone();
            let app = move || {
                let origins = &data.config.allowed_origins;
                App::new()
                    .app_data(data.clone())
                    .configure(api::extractor_config)
                    .configure(api::routes)
                    .configure(pages::routes)
                    .default_service(web::to(pages::not_found))
                    .wrap(from_fn(pages::error_pages))
                    .wrap(from_fn(body_deadline))
                    .wrap(ErrorHandlers::new().default_handler(api::json_error_body))
                    .wrap(Condition::new(!origins.is_empty(), cors(origins)))
                    .wrap(security_headers())
                    .wrap(from_fn(move |req, next| {
                        telemetry::requests::observe(slow, req, next)
                    }))
            };
            let signal = shutdown_signal.clone();
            let http = HttpService::build()
                .keep_alive(KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(local)
                .graceful_shutdown_signal(move || {
                    let signal = signal.clone();
                    async move { signal.notified().await }
                })
                // No request reaches the app without a Host header, so the default host
                // in AppConfig is never used to build URLs.
                .finish(map_config(
                    app().into_factory().map_err(|e| e.error_response()),
                    |_| AppConfig::default(),
                ));
            let limit = limit.clone();
            fn_service(move |io: TcpStream| {
                let admitted = admit(&limit, io);
                async move { admitted }
            })
            .and_then(http)
        })?
        .run();
    Ok(server)
}

/// A connection from an address under its cap, ready for actix-http; others are told
/// why and closed.
fn admit(
    limit: &ConnectionLimit,
    io: TcpStream,
) -> Result<(ClientStream, Protocol, Option<SocketAddr>), DispatchError> {
    let peer = io.peer_addr().ok();
    let slot = match peer {
        Some(peer) => limit.admit(peer.ip()),
        None => None,
    };
    let Some(slot) = slot else {
        tracing::warn!(peer = ?peer.map(|p| p.ip()), "connection refused: too many open connections from this address");
        refuse(&io);
        return Err(DispatchError::Io(std::io::Error::other(
            "too many open connections from this address",
        )));
    };
    let _ = io.set_nodelay(true);
    Ok((ClientStream::new(io, slot), Protocol::Http1, peer))
}

/// Headers on every response: no inline scripts, no framing, no sniffing, no referrer leaks,
/// and no caching of pages and JSON (they show one account's data) unless a handler says
/// otherwise (static files, photos): DefaultHeaders leaves a header a handler set alone.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CACHE_CONTROL, "no-store"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        ))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            "X-Total-Count",
            "X-Total-Count-Exact",
            "Link",
            "Idempotent-Replayed",
        ])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        cors = cors.allow_any_origin().send_wildcard();
    } else {
        for origin in origins {
            cors = cors.allowed_origin(origin);
        }
        cors = cors.supports_credentials();
    }
    cors
}
