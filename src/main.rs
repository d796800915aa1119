use clap::{Parser, Subcommand};
use maintenance::auth::Passwords;
use maintenance::classify::llm::LlmClient;
use maintenance::config::Config;
use maintenance::db::requests::Reclassify;
use maintenance::db::{self, Db, OpenError, OpenMode};
use maintenance::ids::Timestamp;
use maintenance::startup::Application;
use maintenance::taxonomy::Role;
use maintenance::{accounts, cli_classify, commands, legacy_import, seed, telemetry};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

/// Building-maintenance requests: report, classify, triage, resolve.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Read settings from this file instead of `./.env` (variables already set win).
    #[arg(long, global = true, value_name = "PATH")]
    env_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Loads `.env` from the working directory only, or the file named by `--env-file`.
/// Never from a parent directory: a file planted higher up must not set the signing key.
fn load_env_file(path: Option<&std::path::Path>) -> Result<(), String> {
    match path {
        Some(path) => dotenvy::from_path(path)
            .map_err(|e| format!("cannot read --env-file {}: {e}", path.display())),
        None => match dotenvy::from_path(".env") {
            Err(e) if e.not_found() => Ok(()),
            other => other.map_err(|e| format!("cannot read ./.env: {e}")),
        },
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply database migrations to the existing database and exit.
    Migrate {
        /// Create a new, empty database when there is none at DATABASE_URL.
        #[arg(long)]
        create: bool,
    },
    /// Classify descriptions from stdin, one JSON line each on stdout.
    ///
    /// Input lines are JSON `{"text": ...}` or plain text. Blank lines are skipped; a line that
    /// cannot be classified gets `{"line", "error"}`.
    Classify {
        /// Ask the configured LLM, falling back to the offline classifier.
        #[arg(long)]
        llm: bool,
        /// Measure accuracy on labelled JSONL files (`text`, `category`, `priority`) instead,
        /// taken together.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        eval: Vec<std::path::PathBuf>,
    },
    /// Set an account's password, read from standard input.
    ///
    /// The password is one line. The database must exist: run it where the server runs, or
    /// name the file with DATABASE_URL.
    SetPassword {
        /// The account's email, e.g. admin@localhost.
        email: String,
    },
    /// Import the original (Python) system's maintenance.db.
    ///
    /// It goes into the database DATABASE_URL names (created if missing). The old file is
    /// only read. Running it again imports only what is new.
    ImportLegacy {
        /// The original system's maintenance.db.
        path: std::path::PathBuf,
        /// Report what would be imported, and write nothing (not even the new database).
        #[arg(long)]
        dry_run: bool,
    },
    /// Create a new demo database with N generated requests.
    ///
    /// Demo accounts and Korean requests of every category, priority and status, with
    /// history and recent events. The same options give the same database. An existing PATH
    /// is refused.
    SeedDemo {
        /// How many requests to make.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
        requests: u64,
        /// The requests spread over this many days before --until.
        #[arg(long, default_value_t = 730, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// The demo's "now" (RFC 3339, e.g. 2026-06-01T09:00:00Z); the current time if unset.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// The new database file.
        path: std::path::PathBuf,
    },
    /// Back up the database, its photos and key, while the server runs.
    ///
    /// SQLite's online backup copies the database DATABASE_URL names to PATH, and the copy's
    /// integrity is checked; the photos and the signing key go beside it. An existing PATH is
    /// refused.
    Backup {
        /// The new backup file, e.g. /var/backups/maintenance/2026-12-01.db.
        path: std::path::PathBuf,
    },
    /// Restore a backup made by `backup`, with its photos.
    ///
    /// It replaces the database DATABASE_URL names, which is kept beside it. Refused while a
    /// server runs on that database.
    Restore {
        /// The backup file.
        path: std::path::PathBuf,
    },
    /// Create an admin or super admin account.
    ///
    /// The password is prompted for without echo on a terminal, or read as one line from
    /// standard input.
    CreateAdmin {
        /// The account's email, e.g. manager@example.com.
        email: String,
        #[arg(long, value_enum, default_value_t = StaffRole::Admin)]
        role: StaffRole,
    },
    /// Classify requests again; manual classifications are never touched.
    ///
    /// It queues jobs that the server running on the database answers; with no server and no
    /// LLM, it applies the offline classifier itself.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["all", "unclassified", "since"])))]
    Reclassify {
        /// Every request.
        #[arg(long)]
        all: bool,
        /// Requests without a classification, or whose classification failed.
        #[arg(long)]
        unclassified: bool,
        /// Requests created from this day (YYYY-MM-DD, from 00:00 UTC) or time (RFC 3339) on.
        #[arg(long, value_name = "DATE", value_parser = parse_since)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Check the installation; exit status 0 when everything holds.
    ///
    /// Configuration, the database's integrity and migrations, free disk space, the LLM (one
    /// small call when a key is set) and, with --serving, the server answering.
    Check {
        /// Do not call the LLM.
        #[arg(long)]
        no_llm: bool,
        /// Skip the database's quick_check, which reads the whole file (for frequent health checks).
        #[arg(long)]
        no_integrity: bool,
        /// Also require the server at HOST:PORT to answer /health (a container's health check).
        #[arg(long)]
        serving: bool,
    },
}

/// The roles `create-admin` gives.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StaffRole {
    Admin,
    #[value(name = "super_admin", alias = "super-admin")]
    SuperAdmin,
}

fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    parse_time(text).map_err(|_| "expected a day such as 2026-11-01 or an RFC 3339 time".to_owned())
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| format!("not an RFC 3339 time such as 2026-06-01T09:00:00Z: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = load_env_file(cli.env_file.as_deref()) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let log_format = match telemetry::LogFormat::from_env() {
        Ok(format) => format,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(telemetry::DEFAULT_FILTER, log_format);
    if let Some(Command::Classify { llm, eval }) = &cli.command {
        return match classify(*llm, eval).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate { create } => migrate(config, create).await,
        Command::SetPassword { email } => set_password(config, &email).await,
        Command::ImportLegacy { path, dry_run } => import_legacy(config, path, dry_run).await,
        Command::SeedDemo {
            requests,
            days,
            until,
            path,
        } => {
            let options = seed::Options {
                path,
                requests,
                days,
                until: until.unwrap_or_else(chrono::Utc::now),
                bcrypt_cost: config.bcrypt_cost,
            };
            seed_demo(options).await
        }
        Command::Classify { .. } => Ok(()),
        Command::Backup { path } => commands::backup(&config, &path).await.map(print_out),
        Command::Restore { path } => commands::restore(&config, &path).await.map(print_out),
        Command::CreateAdmin { email, role } => {
            let role = match role {
                StaffRole::Admin => Role::Admin,
                StaffRole::SuperAdmin => Role::SuperAdmin,
            };
            let config = &config;
            with_database(config, &format!("create-admin {email}"), |db| async move {
                commands::create_admin(&db, config, &email, role).await
            })
            .await
        }
        Command::Reclassify {
            all: _,
            unclassified,
            since,
        } => {
            let which = match (unclassified, since) {
                (true, _) => Reclassify::Unclassified,
                (_, Some(since)) => Reclassify::Since(Timestamp(since)),
                _ => Reclassify::All,
            };
            let config = &config;
            with_database(config, "reclassify", |db| async move {
                commands::reclassify(&db, config, which).await
            })
            .await
        }
        Command::Check {
            no_llm,
            no_integrity,
            serving,
        } => {
            let options = commands::CheckOptions {
                llm: !no_llm,
                integrity: !no_integrity,
                serving,
            };
            let (report, all_hold) = commands::check(&config, options).await;
            print!("{report}");
            if all_hold {
                Ok(())
            } else {
                return ExitCode::FAILURE;
            }
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // Said once, on its own line: the log has nothing to add to it.
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_out(text: String) {
    print!("{text}");
}

/// Runs a command on the existing database, closes it (every write committed and
/// checkpointed), then prints what the command said.
async fn with_database<F, Fut>(config: &Config, command: &str, run: F) -> Result<(), String>
where
    F: FnOnce(Db) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let db = open_database(config, command, false).await?;
    let outcome = run(db.clone()).await;
    let closed = db.close().await;
    // What went wrong in the command is the error; a close that failed after it is logged.
    match (outcome, closed) {
        (Err(e), closed) => {
            if let Err(close) = closed {
                tracing::warn!(error = %close, "the database did not close cleanly");
            }
            Err(e)
        }
        (Ok(_), Err(close)) => Err(close.to_string()),
        (Ok(said), Ok(())) => {
            print_out(said);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    // One write, so no log line lands inside the block.
    let _ = std::io::stderr()
        .lock()
        .write_all(app.banner().render().as_bytes());
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the database for a command other than `serve`: an existing file, or a new one only
/// when `create` says so. A missing file is explained with the path looked at and how to
/// name the right one.
async fn open_database(config: &Config, command: &str, create: bool) -> Result<Db, String> {
    let path = config.database_path.clone();
    let mode = if create {
        OpenMode::CreateIfMissing
    } else {
        OpenMode::Existing
    };
    let opened = tokio::task::spawn_blocking(move || Db::open(&path, 2, mode))
        .await
        .map_err(|e| e.to_string())?;
    opened.map_err(|e| match e {
        OpenError::Missing { path } => missing_database(&path, command),
        other => other.to_string(),
    })
}

/// Why `command` stopped on a database path where no file exists, and what to run instead.
fn missing_database(path: &Path, command: &str) -> String {
    let named = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => format!("DATABASE_URL={url} names it"),
        _ => "DATABASE_URL is unset, so it is maintenance.db in the working directory".to_owned(),
    };
    let create = if command == "migrate" {
        "\n  To create a new, empty database there instead, add --create: maintenance migrate --create"
    } else {
        "\n  (The server creates its database on its first start; a command never starts a new one.)"
    };
    format!(
        "there is no database at {path} ({named}); nothing was created.\n  \
         Run the command from the directory that holds the server's database, or name the file:\n    \
         DATABASE_URL=/path/to/maintenance.db maintenance {command}{create}",
        path = db::shell_word(path),
    )
}

async fn migrate(config: Config, create: bool) -> Result<(), String> {
    let db = open_database(&config, "migrate", create).await?;
    db.close().await.map_err(|e| e.to_string())?;
    tracing::info!(
        path = %db::absolute(&config.database_path).display(),
        "database is up to date"
    );
    Ok(())
}

async fn classify(llm: bool, eval: &[std::path::PathBuf]) -> Result<(), String> {
    if !eval.is_empty() {
        let report = cli_classify::evaluate(eval)?;
        print!("{}", report.render());
        return Ok(());
    }
    let stdin = std::io::stdin().lock();
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    if !llm {
        return cli_classify::run_lines(stdin, stdout, cli_classify::offline_batch, 256)
            .map_err(|e| e.to_string());
    }
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let settings = config.llm.ok_or(
        "--llm needs GROQ_API_KEY or LLM_API_KEY (and optionally LLM_BASE_URL, LLM_MODEL)",
    )?;
    let client = LlmClient::from_config(&settings).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Handle::current();
    // The line loop is synchronous; each batch blocks this thread on one LLM call.
    tokio::task::block_in_place(|| {
        cli_classify::run_lines(
            stdin,
            stdout,
            |texts| runtime.block_on(cli_classify::llm_batch(&client, texts)),
            settings.batch,
        )
    })
    .map_err(|e| e.to_string())
}

async fn set_password(config: Config, email: &str) -> Result<(), String> {
    // The database first: from the wrong directory, nothing is asked and nothing created.
    let db = open_database(&config, &format!("set-password {email}"), false).await?;
    let shown = db::shell_word(&db::absolute(&config.database_path));
    let user = accounts::find_by_email(&db, email)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account with the email {email} in {shown}"))?;
    let password = commands::read_new_password(email)?;
    let cost = config.bcrypt_cost;
    let passwords = tokio::task::spawn_blocking(move || Passwords::new(cost))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    accounts::set_password(&db, &passwords, user.id, password)
        .await
        .map_err(|e| e.to_string())?;
    db.close().await.map_err(|e| e.to_string())?;
    println!("password changed for {email} in {shown}; every session of the account was ended");
    Ok(())
}

async fn import_legacy(
    config: Config,
    legacy: std::path::PathBuf,
    dry_run: bool,
) -> Result<(), String> {
    let options = legacy_import::Options {
        legacy,
        target: config.database_path.clone(),
        dry_run,
        refine: config.llm.is_some(),
    };
    let summary = tokio::task::spawn_blocking(move || {
        legacy_import::run(&options, &ProgressBar::on_terminal())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    print!("{}", summary.render());
    // A dry run that found the import could not write its target fails as the import would.
    match summary.target_problem {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

async fn seed_demo(options: seed::Options) -> Result<(), String> {
    let summary = tokio::task::spawn_blocking(move || {
        if std::io::stderr().is_terminal() {
            seed::run(&options, &SeedBar::new())
        } else {
            seed::run(&options, &seed::LogProgress::new())
        }
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    print!("{}", summary.render());
    Ok(())
}

/// The seeding's progress bar on a terminal.
struct SeedBar(indicatif::ProgressBar);

impl SeedBar {
    fn new() -> SeedBar {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "seeding [{bar:40}] {pos}/{len} requests, {per_sec}, {eta} left",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        SeedBar(bar)
    }
}

impl seed::Progress for SeedBar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, done: u64) {
        self.0.set_position(done);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// The import's progress on stderr, drawn only when stderr is a terminal.
struct ProgressBar(indicatif::ProgressBar);

impl ProgressBar {
    fn on_terminal() -> ProgressBar {
        use std::io::IsTerminal;
        let target = if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        };
        let bar = indicatif::ProgressBar::with_draw_target(None, target);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len} rows")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        ProgressBar(bar)
    }
}

impl legacy_import::Progress for ProgressBar {
    fn phase(&self, name: &'static str, total: u64) {
        self.0.set_message(name);
        self.0.set_length(total);
        self.0.set_position(0);
    }
    fn advance(&self) {
        self.0.inc(1);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
