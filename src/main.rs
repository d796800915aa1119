use clap::{Parser, Subcommand};
use maintenance::classify::llm::LlmClient;
use maintenance::config::Config;
use maintenance::startup::{self, Application};
use maintenance::{accounts, cli_classify, db::Db, legacy_import, telemetry};
use std::io::BufRead;
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
    /// Apply database migrations and exit.
    Migrate,
    /// Classify descriptions: JSON lines `{"text": ...}` or plain lines on stdin, JSON lines on stdout.
    Classify {
        /// Ask the configured LLM, falling back to the offline classifier.
        #[arg(long)]
        llm: bool,
        /// Measure accuracy on a labelled JSONL file (`text`, `category`, `priority`) instead.
        #[arg(long, value_name = "FILE")]
        eval: Option<std::path::PathBuf>,
    },
    /// Set an account's password, read as one line from standard input.
    SetPassword {
        /// The account's email, e.g. admin@localhost.
        email: String,
    },
    /// Import the original (Python) system's maintenance.db into the database DATABASE_URL
    /// names (created if missing). The old file is only read. Running it again imports only
    /// what is new.
    ImportLegacy {
        /// The original system's maintenance.db.
        path: std::path::PathBuf,
        /// Report what would be imported, and write nothing (not even the new database).
        #[arg(long)]
        dry_run: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = load_env_file(cli.env_file.as_deref()) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    telemetry::init("info");
    if let Some(Command::Classify { llm, eval }) = &cli.command {
        return match classify(*llm, eval.as_deref()).await {
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
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::SetPassword { email } => set_password(config, &email).await,
        Command::ImportLegacy { path, dry_run } => import_legacy(config, path, dry_run).await,
        Command::Classify { .. } => Ok(()),
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

async fn serve(config: Config) -> Result<(), String> {
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(config: Config) -> Result<(), String> {
    let path = config.database_path.clone();
    tokio::task::spawn_blocking(move || Db::open(&path, 1))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    tracing::info!(path = %config.database_path.display(), "database is up to date");
    Ok(())
}

async fn classify(llm: bool, eval: Option<&std::path::Path>) -> Result<(), String> {
    if let Some(path) = eval {
        let report = cli_classify::evaluate(path)?;
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
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    let (state, _) = startup::prepare_state(config)
        .await
        .map_err(|e| e.to_string())?;
    let user = accounts::find_by_email(&state.db, email)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account with the email {email}"))?;
    accounts::set_password(&state.db, &state.passwords, user.id, password)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(email, "password changed");
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
