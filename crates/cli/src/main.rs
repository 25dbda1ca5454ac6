//! `parsec-tool`: upstream parsec-tool's commands, flags, output and exit codes (0.7.0 and its
//! main branch since), on our client library, so locally over the Unix socket and remotely over
//! Parsec.1 (`PARSEC_SERVICE_ENDPOINT=http://…`, trusting `PARSEC1_SERVICE_KEY`). Beyond
//! upstream: `list-keys --pattern`, `import-key`, `create-certificate`, `verify`, `--json`,
//! `completions`, and `parsec1` (Universa service contracts: Parsec 1.2 and 1.3).

mod args;
mod keys;
mod output;
mod parsec1;
mod x509;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use parsec_rs_client::{Auth, Client, ProviderId};

use args::{Command, ParsecToolApp};
use output::Log;

/// The application name under Direct authentication: upstream parsec-tool's, so that both
/// tools see the same keys.
const APP_NAME: &str = "parsec-tool";

fn main() -> ExitCode {
    let app = match ParsecToolApp::try_parse() {
        Ok(app) => app,
        Err(e) => {
            let _ = e.print();
            // Upstream 0.7.0 (clap 2) exits 1 on a usage error, 0 for help and version.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let log = Log::from_env();
    if let Command::Completions { shell } = &app.command {
        args::print_completions(*shell);
        return ExitCode::SUCCESS;
    }
    if let Command::Parsec1(command) = &app.command {
        return match parsec1::run(command, app.json, &log) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                log.error(&format!("Subcommand failed: {e}"));
                ExitCode::from(1)
            }
        };
    }
    let client = match make_client(&app) {
        Ok(c) => c,
        Err(e) => {
            log.error(&format!("Error spinning up the client: {e}"));
            return ExitCode::from(1);
        }
    };
    match keys::run(&app, &client, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Service errors carry their hint in their text.
            log.error(&format!("Subcommand failed: {e}"));
            ExitCode::from(1)
        }
    }
}

fn make_client(app: &ParsecToolApp) -> Result<Client, parsec_rs_client::Error> {
    let mut builder = Client::builder().app_name(APP_NAME);
    if !app.command.needs_identity() {
        builder = builder.auth(Auth::None);
    }
    if let Some(id) = app.provider {
        let provider = ProviderId::from_u8(id).ok_or_else(|| {
            parsec_rs_client::Error::InvalidInput(
                "The provider ID entered does not map with an existing provider".into(),
            )
        })?;
        builder = builder.provider(provider);
    }
    if let Some(path) = &app.auth_token_file {
        builder = builder.token_source(std::sync::Arc::new(
            parsec_rs_client::tokens::TokenFile::new(path),
        ));
        // The environment's SPIFFE source stays available beside the file.
        for source in parsec_rs_client::tokens::from_env() {
            if source.auth_type() != parsec_rs_client::AuthType::Jwt {
                builder = builder.token_source(source);
            }
        }
    }
    if let Some(seconds) = app.timeout {
        builder = builder.timeout((seconds != 0).then(|| Duration::from_secs(seconds.into())));
    }
    builder.build()
}
