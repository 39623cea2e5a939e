//! Logs go to stderr, through the secret scrubber.

use std::io::Write;

use tracing_subscriber::EnvFilter;

struct Scrubbed;

impl Write for Scrubbed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::redact::scrub(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `RUST_LOG` wins; else `-v` shows deploy's debug lines, `-vv` the SDK's too.
pub fn init(verbose: u8) {
    let default = match verbose {
        // aws_config's warnings (IMDS probes when no region is set, profile-file notes) repeat
        // what deploy's own error says in one line; -v shows them.
        0 => "warn,aws_config=error",
        1 => "warn,deploy=debug",
        _ => "info,deploy=trace,aws_smithy_runtime=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Scrubbed)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
