//! A run against an account: the lock, the read of live state, the public-IP lookup and the
//! hashing of the functions' folders, sequenced here (not by the commands), then planning and
//! executing over what was read.
//!
//! A [`Session`] runs on a [`Backend`]: [`AwsBackend`] in the binary, the fake provider in tests,
//! so that the `ops` over a session are tested without AWS or its emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use super::execute::{Report, execute_until};
use crate::aws::{AwsOptions, Clients};
use crate::error::{Error, Result};
use crate::plan::build::{Input, Planned, plan};
use crate::progress::Progress;
use crate::provider::aws::AwsProvider;
use crate::provider::{Live, Provider, Scope};
use crate::settings::Settings;
use crate::stack::Stack;

/// What a session reads and writes through.
pub trait Backend {
    /// A provider for one read or one execution (its per-run state starts empty each time).
    fn provider(&self) -> impl Provider + '_;
    fn progress(&self) -> &Progress;
    /// Logs the calls made so far (a debug line), once a command is done with the account.
    fn log_calls(&self) {}
}

/// AWS: the clients and the progress lines the adapters write to.
pub struct AwsBackend {
    pub clients: Clients,
    pub progress: Progress,
    pub settings: Settings,
}

impl Backend for AwsBackend {
    fn provider(&self) -> impl Provider + '_ {
        AwsProvider {
            clients: &self.clients,
            progress: &self.progress,
            cancel: crate::context::Cancel::Interrupt,
            settings: &self.settings,
            new_groups: Default::default(),
            batches: Default::default(),
        }
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn log_calls(&self) {
        let (reads, writes) = self.clients.calls.totals();
        tracing::debug!(
            "AWS calls: {}, {}: {:?}",
            crate::plan::render::count(reads, "read"),
            crate::plan::render::count(writes, "write"),
            self.clients.calls.snapshot()
        );
    }
}

/// A run: the backend, the public IP and the live state, read once.
pub struct Session<B> {
    pub backend: B,
    pub live: Live,
    pub public_ip: Option<String>,
}

/// `--db-endpoint` overrides, by instance identifier.
pub type DbEndpoints = BTreeMap<String, (String, u16)>;

/// The run lock a session takes before it reads: the command holding it, and how long to wait
/// for another run's.
pub type Lock<'a> = Option<(&'a str, Duration)>;

impl Session<AwsBackend> {
    /// `need_ip`: whether what is asked needs the public IP (else it is not looked up).
    pub async fn start(
        stack: &Stack,
        aws: &AwsOptions,
        settings: &Settings,
        db_endpoints: &DbEndpoints,
        need_ip: bool,
        lock: Lock<'_>,
    ) -> Result<Self> {
        let ip = if need_ip { None } else { Some(None) };
        Session::start_with(stack, aws, settings, db_endpoints, ip, lock).await
    }

    /// `public_ip`: the address to use instead of looking it up (a saved plan's).
    pub async fn start_with(
        stack: &Stack,
        aws: &AwsOptions,
        settings: &Settings,
        db_endpoints: &DbEndpoints,
        public_ip: Option<Option<String>>,
        lock: Lock<'_>,
    ) -> Result<Self> {
        // The clients first: building them (the credential chain, the TLS root store) is CPU
        // work on the path to the first call, which on a small machine the hashing and the
        // lookup below would slow down. Those two then run beside the lock and the reads, which
        // wait on the network for far longer than they take.
        let clients = Clients::new(aws, stack.region.as_deref()).await?;
        // The folders are hashed meanwhile, for the planner (package::prefetch).
        let (code, content) = crate::resources::function::folders(stack);
        let hashing = tokio::task::spawn_blocking(move || {
            crate::resources::function::package::prefetch(&code, &content)
        });
        // The public IP is looked up while the account is read: neither needs the other.
        let public_ip = async {
            if let Some(ip) = public_ip {
                return Ok(ip);
            }
            if !super::scope::uses_public_ip(stack) {
                return Ok(None);
            }
            // On a task of its own: loading the TLS roots for the lookup is blocking work,
            // which on this thread would hold back the account's reads.
            let ip = tokio::spawn(crate::public_ip::lookup())
                .await
                .map_err(|e| {
                    Error::internal(None, format!("the public IP lookup stopped: {e}"))
                })??;
            tracing::debug!("public IP {ip}");
            Ok(Some(ip))
        };
        let progress = Progress::default();
        let read = async {
            // Before reading: the plan must be made from a state no other run is changing.
            if let Some((command, timeout)) = lock {
                crate::lock::acquire(&clients.ssm, &stack.name, &clients.region, command, timeout)
                    .await?;
            }
            let backend = AwsBackend {
                clients,
                progress,
                settings: settings.clone(),
            };
            let live = backend.provider().read(stack, db_endpoints).await?;
            tracing::debug!("account read");
            Ok::<_, Error>((backend, live))
        };
        let (public_ip, (backend, live)) = tokio::try_join!(public_ip, read)?;
        let _ = hashing.await;
        tracing::debug!("folders hashed");
        Ok(Session {
            backend,
            live,
            public_ip,
        })
    }
}

impl<B: Backend> Session<B> {
    /// A session over `backend` with nothing in between: no lock, no lookup (tests, and any
    /// backend whose reads need no sequencing).
    pub async fn read(
        backend: B,
        stack: &Stack,
        db_endpoints: &DbEndpoints,
        public_ip: Option<String>,
    ) -> Result<Self> {
        let live = backend.provider().read(stack, db_endpoints).await?;
        Ok(Session {
            backend,
            live,
            public_ip,
        })
    }

    pub fn plan(&self, stack: &Stack, destroy: bool, targets: &[String]) -> Result<Planned> {
        plan(&Input {
            stack,
            found: &self.live.found,
            env: &self.live.env,
            public_ip: self.public_ip.clone(),
            destroy,
            targets,
        })
        .map_err(|errors| Error::plan(stack.file.display().to_string(), errors))
    }

    pub async fn execute(&self, stack: &Stack, planned: Planned) -> Report {
        let scope = Scope {
            stack,
            env: &self.live.env,
        };
        let _executing = crate::interrupt::Executing::start();
        let mut report = execute_until(
            &self.backend.provider(),
            scope,
            self.backend.progress(),
            planned.steps,
            planned.resolver,
            &self.live.found,
            &planned
                .plan
                .waiting
                .iter()
                .map(|w| w.address.clone())
                .collect::<Vec<_>>(),
            crate::interrupt::requested(),
        )
        .await;
        // A readiness wait may see the interrupt before the executor does, and end the run
        // as a failure first.
        report.interrupted |= crate::interrupt::is_requested();
        report
    }

    pub fn log_calls(&self) {
        self.backend.log_calls();
    }
}
