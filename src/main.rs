use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use deploy::cli::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // Help and --version are successes; every usage error exits 1 (spec section 5).
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    deploy::logging::init(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(deploy::commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = deploy::redact::scrub(&e.to_string());
            let mut err = std::io::stderr().lock();
            for line in msg.lines() {
                let _ = writeln!(err, "error: {line}");
            }
            ExitCode::from(1)
        }
    }
}
