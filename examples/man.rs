//! Writes the man pages (deploy.1 and one per command, deploy-plan.1, ...) from the same clap
//! definitions the binary parses with: `make man` (or `cargo run --example man -- DIR`).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/man".into()),
    );
    std::fs::create_dir_all(&dir)?;
    clap_mangen::generate_to(deploy::cli::command(), &dir)?;
    println!("{}", dir.join("deploy.1").display());
    Ok(())
}
