//! The ops on the fake provider: a session over it, as `deploy` runs them, without AWS or its
//! emulator.

use std::collections::BTreeMap;

use super::{apply, destroy, output, plan};
use crate::engine::session::{Backend, Session};
use crate::progress::Progress;
use crate::provider::Provider;
use crate::provider::fake::FakeProvider;
use crate::stack::Stack;

/// The fake as a session's backend.
struct Fake<'a> {
    provider: &'a FakeProvider,
    progress: Progress,
}

impl Backend for Fake<'_> {
    fn provider(&self) -> impl Provider + '_ {
        self.provider
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }
}

/// A session as a command starts one: what the op reads, read from the fake.
async fn session<'a>(fake: &'a FakeProvider, read: &Stack) -> Session<Fake<'a>> {
    let backend = Fake {
        provider: fake,
        progress: Progress::quiet(),
    };
    Session::read(backend, read, &BTreeMap::new(), None)
        .await
        .unwrap()
}

use crate::stack::from_text as stack;

const STACK: &str = "stack: s
security_groups:
  db:
    description: d
    ingress:
      - description: APP
        port: 5432
        source_group: app
  app:
    description: a
outputs:
  DB_SG: ${security_groups.db.id}
";

#[tokio::test(start_paused = true)]
async fn an_apply_then_a_plan_with_no_changes_then_the_outputs_then_a_destroy() {
    let s = stack(STACK);
    let fake = FakeProvider::default();
    let targets: Vec<String> = Vec::new();

    // The output needs a resource not created yet.
    let o = output::Options {
        name: Some("DB_SG"),
    };
    let reads = output::reads(&s, &o);
    let e = output::values(&session(&fake, &reads.stack).await, &s, &reads.stack, &o)
        .err()
        .expect("no group yet");
    assert_eq!(
        e.to_string(),
        "output DB_SG needs security_groups.db which does not exist yet: run `deploy apply` first"
    );

    let a = apply::Options {
        targets: &targets,
        adopt: false,
    };
    let reads = apply::reads(&s, &a);
    assert!(!reads.need_ip);
    let run = session(&fake, &reads.stack).await;
    let planned = apply::plan(&run, &s, &a).unwrap();
    assert!(!apply::nothing_to_do(&planned));
    assert!(apply::needs_confirmation(&planned));
    apply::check_adopt(&planned, &a).unwrap();
    let report = apply::execute(&run, &s, planned).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.done.len(), 3, "{report:?}");

    let p = plan::Options {
        destroy: false,
        partial: false,
        targets: &targets,
    };
    let reads = plan::reads(&s, &p);
    let planned = plan::plan(&session(&fake, &reads.stack).await, &s, &reads.stack, &p).unwrap();
    assert!(planned.plan.is_empty(), "{:?}", planned.plan);
    assert!(planned.plan.needs_adopt.is_empty());

    let o = output::Options { name: None };
    let reads = output::reads(&s, &o);
    let output::Values::All(values) =
        output::values(&session(&fake, &reads.stack).await, &s, &reads.stack, &o).unwrap()
    else {
        panic!("all outputs asked for");
    };
    let id = values["DB_SG"].clone();
    assert!(id.starts_with("sg-"), "{values:?}");

    let d = destroy::Options { targets: &targets };
    let reads = destroy::reads(&s);
    let run = session(&fake, &reads.stack).await;
    let planned = destroy::plan(&run, &s, &d).unwrap();
    assert!(!planned.plan.is_empty());
    let report = destroy::execute(&run, &s, planned).await;
    assert!(report.ok(), "{report:?}");
    let planned = destroy::plan(&session(&fake, &reads.stack).await, &s, &d).unwrap();
    assert!(planned.plan.is_empty(), "{:?}", planned.plan);
}

#[tokio::test(start_paused = true)]
async fn a_partial_plan_says_it_is_partial() {
    let s = stack(STACK);
    let fake = FakeProvider::default();
    let targets: Vec<String> = Vec::new();
    let p = plan::Options {
        destroy: false,
        partial: true,
        targets: &targets,
    };
    let reads = plan::reads(&s, &p);
    let planned = plan::plan(&session(&fake, &reads.stack).await, &s, &reads.stack, &p).unwrap();
    assert!(planned.plan.warnings[0].starts_with("this plan is partial (--partial)"));
    assert_eq!(planned.plan.changes.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_saved_plan_is_applied_as_saved_and_refused_once_stale() {
    let s = stack(STACK);
    let fake = FakeProvider::default();
    let targets: Vec<String> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");

    let p = plan::Options {
        destroy: false,
        partial: false,
        targets: &targets,
    };
    let reads = plan::reads(&s, &p);
    let run = session(&fake, &reads.stack).await;
    let planned = plan::plan(&run, &s, &reads.stack, &p).unwrap();
    let save = plan::Save {
        targets: &targets,
        adopt: false,
        variables: Default::default(),
    };
    let digest = plan::save(&run, &s, &planned, &path, save).unwrap();
    let (file, read_digest) = super::read_saved(&path).unwrap();
    assert_eq!(digest, read_digest);

    // Nothing changed since: planning again from the file's inputs gives the file.
    let again = apply::check_saved(&session(&fake, &reads.stack).await, &path, &file, &s).unwrap();
    apply::check_saved_adopt(&path, &file, &again).unwrap();
    assert_eq!(again.plan.changes.len(), planned.plan.changes.len());

    // Another run applied meanwhile: the file is stale, and refused (exit code 4).
    let a = apply::Options {
        targets: &targets,
        adopt: false,
    };
    let run = session(&fake, &reads.stack).await;
    let planned = apply::plan(&run, &s, &a).unwrap();
    assert!(apply::execute(&run, &s, planned).await.ok());
    let Err(e) = apply::check_saved(&session(&fake, &reads.stack).await, &path, &file, &s) else {
        panic!("a stale saved plan was accepted");
    };
    assert_eq!(e.exit_code(), 4);
    assert!(
        e.to_string().contains("is stale, so nothing was changed"),
        "{e}"
    );
}
