use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match deploy::cli::parse() {
        Ok(c) => c,
        Err(e) => {
            let args: Vec<String> = std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            match deploy::cli::terraform_hint(&args).filter(|_| e.use_stderr()) {
                Some(hint) => eprintln!("error: {hint}"),
                None => {
                    let _ = e.print();
                }
            }
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
    let result = runtime.block_on(deploy::commands::run(cli));
    // Dropping the runtime would join its blocking threads (a DNS lookup or a folder hash no one
    // waits for any more): nothing they do matters once the command has returned.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = deploy::redact::scrub(&e.to_string());
            let mut err = std::io::stderr().lock();
            for line in msg.lines() {
                // A hint is not a second error: it says what to do about the first.
                let _ = match line.strip_prefix("hint: ") {
                    Some(hint) => writeln!(err, "hint: {hint}"),
                    None => writeln!(err, "error: {line}"),
                };
            }
            ExitCode::from(e.exit_code())
        }
    }
}
