//! Engine lifecycle tests: read, plan and execute against the in-memory fake provider, with
//! tokio's paused clock so scripted delays cost no wall time and every run orders the same way.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::execute::{Report, execute};
use crate::context::{Events, Silent};
use crate::plan::Action;
use crate::plan::build::{Input, plan};
use crate::progress::Progress;
use crate::provider::fake::{FakeProvider, Fault, Script, db_instance_from};
use crate::provider::{Provider, Scope};
use crate::resources::{self, Key, Observed, Spec};
use crate::stack::{Resolver, Stack};

pub(super) fn stack_in(dir: &Path, src: &str) -> Stack {
    crate::stack::parse_str(src, &dir.join("stack.yaml"), dir, &|name| {
        (name == "DB_PASSWORD").then(|| "pw-1234".to_string())
    })
    .unwrap()
}

pub(super) fn stack(src: &str) -> Stack {
    stack_in(Path::new("."), src)
}

/// Writes a file of a test stack's folder, and the folders above it.
fn write(dir: &Path, rel: &str, content: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// One `deploy apply`: read, plan, execute.
pub(super) async fn apply(fake: &FakeProvider, stack: &Stack) -> Report {
    run(fake, stack, false).await
}

/// One `deploy destroy`: read, plan the deletes, execute.
async fn destroy(fake: &FakeProvider, stack: &Stack) -> Report {
    run(fake, stack, true).await
}

async fn run(fake: &FakeProvider, stack: &Stack, destroy: bool) -> Report {
    run_with(fake, stack, destroy, &Silent).await
}

/// [`run`], reporting progress to `events`.
async fn run_with(
    fake: &FakeProvider,
    stack: &Stack,
    destroy: bool,
    events: &dyn Events,
) -> Report {
    let live = fake.read(stack, &BTreeMap::new()).await.unwrap();
    let planned = plan(&Input {
        stack,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        destroy,
        targets: &[],
    })
    .unwrap();
    let scope = Scope {
        stack,
        env: &live.env,
    };
    execute(
        fake,
        scope,
        events,
        planned.steps,
        planned.resolver,
        &live.found,
        &waits(&planned.plan),
    )
    .await
}

pub(super) fn waits(plan: &crate::plan::Plan) -> Vec<String> {
    plan.waiting.iter().map(|w| w.address.clone()).collect()
}

/// The actions a fresh plan would take, by address.
pub(super) async fn pending(fake: &FakeProvider, stack: &Stack) -> Vec<(String, Action)> {
    let live = fake.read(stack, &BTreeMap::new()).await.unwrap();
    let planned = plan(&Input {
        stack,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        destroy: false,
        targets: &[],
    })
    .unwrap();
    planned
        .plan
        .changes
        .into_iter()
        .map(|c| (c.address, c.action))
        .collect()
}

/// The progress lines a run printed, in order.
#[derive(Default)]
struct Lines(std::cell::RefCell<Vec<String>>);

impl Events for Lines {
    fn line(&self, address: &str, message: &str) {
        self.0.borrow_mut().push(format!("{address}: {message}"));
    }
    fn waiting(&self, _: &str, _: &str, _: &str) {}
    fn done_waiting(&self, _: &str) {}
    fn reading(&self, _: &str) {}
    fn done_reading(&self, _: &str) {}
}

fn delay(secs: u64) -> Script {
    Script {
        delay: Duration::from_secs(secs),
        ..Default::default()
    }
}

const GROUPS: &str = "stack: s
security_groups:
  db:
    description: d
    ingress:
      - description: APP
        port: 5432
        source_group: app
  app:
    description: a
";

#[tokio::test(start_paused = true)]
async fn steps_start_when_what_they_need_is_done_and_not_before() {
    let s = stack(GROUPS);
    let fake = FakeProvider::default();
    fake.script("security_groups.app", delay(10));
    fake.script("security_groups.db", delay(3));
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    // Both groups at once; the rule needs both, so it waits for the slower one.
    assert_eq!(fake.time_of("start create security_groups.app"), 0);
    assert_eq!(fake.time_of("start create security_groups.db"), 0);
    assert_eq!(
        fake.time_of("start create security_groups.db.ingress.APP"),
        10_000
    );
    // The rule was created with the ids the groups got at apply.
    let Some(Observed::Rule(rule)) = fake.get("security_groups.db.ingress.APP") else {
        panic!("no rule")
    };
    let Some(Observed::Group(app)) = fake.get("security_groups.app") else {
        panic!("no group")
    };
    assert_eq!(rule.source_group.as_deref(), Some(app.id.as_str()));
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failure_stops_new_work_and_lets_running_steps_finish() {
    let s = stack(GROUPS);
    let fake = FakeProvider::default();
    fake.script(
        "security_groups.app",
        Script {
            delay: Duration::from_secs(1),
            fail: Some(Fault::Aws {
                code: "InvalidGroup.Duplicate".into(),
                message: "the security group already exists".into(),
            }),
            ..Default::default()
        },
    );
    fake.script("security_groups.db", delay(5));
    let r = apply(&fake, &s).await;
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].0, "security_groups.app");
    // db was running when app failed: it finished, and is reported done.
    assert_eq!(r.done, vec!["security_groups.db".to_string()]);
    assert_eq!(fake.time_of("end create security_groups.db"), 5_000);
    assert_eq!(
        r.not_started,
        vec!["security_groups.db.ingress.APP".to_string()]
    );
    assert!(
        !fake
            .log()
            .iter()
            .any(|(_, l)| l.contains("security_groups.db.ingress.APP"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_delete_waits_for_what_still_references_the_resource() {
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack(GROUPS)).await.ok());
    fake.script("security_groups.db.ingress.APP", delay(7));
    fake.clear_log();
    // app leaves the file; db's rule naming it as source goes too, and must go first.
    let s = stack("stack: s\nsecurity_groups:\n  db:\n    description: d\n");
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert!(
        fake.at("end delete security_groups.db.ingress.APP")
            < fake.at("start delete security_groups.app")
    );
    assert_eq!(
        fake.time_of("start delete security_groups.app")
            - fake.time_of("start delete security_groups.db.ingress.APP"),
        7_000
    );
    assert!(fake.get("security_groups.app").is_none());
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_replace_of_a_fixed_name_deletes_before_it_creates() {
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack(GROUPS)).await.ok());
    let Some(Observed::Group(before)) = fake.get("security_groups.app") else {
        panic!()
    };
    fake.script("security_groups.app", delay(4));
    fake.clear_log();
    // The description cannot change in place.
    let s = stack(&GROUPS.replace("description: a", "description: b"));
    // db's rule names app: EC2 refuses to delete app while it does, so the rule is replaced.
    assert_eq!(
        pending(&fake, &s).await,
        vec![
            ("security_groups.app".to_string(), Action::Replace),
            (
                "security_groups.db.ingress.APP".to_string(),
                Action::Replace
            ),
        ]
    );
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert!(
        fake.at("end delete security_groups.db.ingress.APP")
            < fake.at("start delete security_groups.app")
    );
    assert!(
        fake.at("end delete security_groups.app") < fake.at("start create security_groups.app")
    );
    // The rule is authorized again with the new group's id only once that exists.
    assert!(
        fake.at("end create security_groups.app")
            < fake.at("start create security_groups.db.ingress.APP")
    );
    let Some(Observed::Rule(rule)) = fake.get("security_groups.db.ingress.APP") else {
        panic!("no rule")
    };
    let Some(Observed::Group(app)) = fake.get("security_groups.app") else {
        panic!()
    };
    assert_eq!(rule.source_group.as_deref(), Some(app.id.as_str()));
    let Some(Observed::Group(after)) = fake.get("security_groups.app") else {
        panic!()
    };
    assert_ne!(before.id, after.id);
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_replace_whose_delete_succeeds_and_whose_create_fails_is_reported_and_a_rerun_creates_it()
{
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack(GROUPS)).await.ok());
    fake.clear_log();
    // The description cannot change in place: app is deleted, then created again. EC2 takes
    // the delete, then throttles the create once.
    let s = stack(&GROUPS.replace("description: a", "description: b"));
    fake.on_create("security_groups.app", |c| match c.n {
        1 => Err(Fault::Throttled),
        _ => Ok(()),
    });
    let lines = Lines::default();
    let r = run_with(&fake, &s, false, &lines).await;
    assert!(!r.ok());
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let (failed, e) = &r.failed[0];
    assert_eq!(failed, "security_groups.app");
    assert_eq!(e.aws_code(), Some("Throttling"));
    // The rule naming app was revoked ahead of the replace; its new copy needs the new group.
    assert_eq!(
        r.done,
        vec!["security_groups.db.ingress.APP (old)".to_string()]
    );
    assert_eq!(
        r.not_started,
        vec!["security_groups.db.ingress.APP".to_string()]
    );
    assert!(
        fake.at("end delete security_groups.app") < fake.at("failed create security_groups.app")
    );
    assert_eq!(
        lines.0.borrow().as_slice(),
        [
            "security_groups.db.ingress.APP (old): deleting...",
            "security_groups.db.ingress.APP (old): deleted",
            "security_groups.app: replacing...",
            "security_groups.app: failed: create failed: Throttling: Rate exceeded",
        ]
    );
    // The old group is gone and no new one exists: the next plan creates it (not a replace,
    // nothing is left to delete), and the rule with it.
    assert!(fake.get("security_groups.app").is_none());
    assert_eq!(
        pending(&fake, &s).await,
        vec![
            ("security_groups.app".to_string(), Action::Create),
            ("security_groups.db.ingress.APP".to_string(), Action::Create),
        ]
    );
    fake.clear_log();
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert!(
        fake.at("end create security_groups.app")
            < fake.at("start create security_groups.db.ingress.APP")
    );
    let Some(Observed::Group(app)) = fake.get("security_groups.app") else {
        panic!("no group")
    };
    assert_eq!(app.description, "b");
    let Some(Observed::Rule(rule)) = fake.get("security_groups.db.ingress.APP") else {
        panic!("no rule")
    };
    assert_eq!(rule.source_group.as_deref(), Some(app.id.as_str()));
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_fault_after_n_calls_fails_the_later_calls_on_every_address_of_a_pattern() {
    let fake = FakeProvider::default();
    // Both groups are created; the rule's create, the third on `security_groups.*`, is not.
    fake.fault_after("create", "security_groups.*", 2, Fault::NotFound);
    let s = stack(GROUPS);
    let mut r = apply(&fake, &s).await;
    r.done.sort();
    assert_eq!(r.done, ["security_groups.app", "security_groups.db"]);
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert_eq!(r.failed[0].0, "security_groups.db.ingress.APP");
    assert_eq!(r.failed[0].1.aws_code(), Some("NotFound"));
    fake.clear_scripts();
    assert!(apply(&fake, &s).await.ok());
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_replaced_group_gets_its_rules_back_in_the_new_group() {
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack(GROUPS)).await.ok());
    fake.clear_log();
    // A new description replaces db; its rule changes port in the same apply.
    let s = stack(
        &GROUPS
            .replace("description: d", "description: d2")
            .replace("port: 5432", "port: 5433"),
    );
    assert_eq!(
        pending(&fake, &s).await,
        vec![
            ("security_groups.db".to_string(), Action::Replace),
            (
                "security_groups.db.ingress.APP".to_string(),
                Action::Replace
            ),
        ]
    );
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    // The old rule went with the old group: nothing is sent for it, and the rule is created in
    // the new group after that exists.
    assert!(
        !fake
            .log()
            .iter()
            .any(|(_, l)| l.contains("update security_groups.db.ingress")
                || l.contains("delete security_groups.db.ingress")),
        "{:?}",
        fake.log()
    );
    assert!(
        fake.at("end create security_groups.db")
            < fake.at("start create security_groups.db.ingress.APP")
    );
    let Some(Observed::Rule(rule)) = fake.get("security_groups.db.ingress.APP") else {
        panic!("no rule")
    };
    let Some(Observed::Group(db)) = fake.get("security_groups.db") else {
        panic!()
    };
    assert_eq!(
        (rule.group_id.as_str(), rule.from_port),
        (db.id.as_str(), 5433)
    );
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn two_groups_naming_each_other_are_replaced_together() {
    let src = "stack: s
security_groups:
  a:
    description: a1
    ingress:
      - { description: FROMB, port: 80, source_group: b }
  b:
    description: b1
    ingress:
      - { description: FROMA, port: 80, source_group: a }
";
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack(src)).await.ok());
    let s = stack(&src.replace("a1", "a2").replace("b1", "b2"));
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_saved_plan_replaces_a_group_and_the_rule_naming_it() {
    use crate::plan::saved;
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack(GROUPS)).await.ok());
    let s = stack(&GROUPS.replace("description: a", "description: b"));
    let live = fake.read(&s, &BTreeMap::new()).await.unwrap();
    let planned = plan(&Input {
        stack: &s,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        destroy: false,
        targets: &[],
    })
    .unwrap();
    let cx = saved::Context {
        stack: &s,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        targets: &[],
        adopt: false,
        variables: saved::Variables::default(),
    };
    let text = saved::to_text(&saved::save(&planned, &cx).unwrap());
    // `apply PLANFILE`: planning again from the file's inputs gives the file's plan and steps,
    // the hidden revoke of the rule naming the group included; that plan is what runs.
    let replanned = plan(&Input {
        stack: &s,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        destroy: false,
        targets: &[],
    })
    .unwrap();
    let file = saved::parse(&text).unwrap();
    assert!(
        file.steps.iter().any(|s| s.address.ends_with(" (old)")),
        "{:?}",
        file.steps
    );
    assert_eq!(file.differences(&replanned), Vec::<String>::new());
    let planned = replanned;
    let r = execute(
        &fake,
        Scope {
            stack: &s,
            env: &live.env,
        },
        &Progress::quiet(),
        planned.steps,
        planned.resolver,
        &live.found,
        &[],
    )
    .await;
    assert!(r.ok(), "{r:?}");
    assert!(pending(&fake, &s).await.is_empty());
}

const GROUP_IN_USE: &str = "stack: s
security_groups:
  db-sg:
    description: one
db_instances:
  app-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [db-sg]
";

#[tokio::test(start_paused = true)]
async fn a_group_an_instance_uses_is_not_replaced_but_renaming_it_moves_the_instance() {
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack(GROUP_IN_USE)).await.ok());
    let s = stack(&GROUP_IN_USE.replace("description: one", "description: two"));
    let live = fake.read(&s, &BTreeMap::new()).await.unwrap();
    let e = plan(&Input {
        stack: &s,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        destroy: false,
        targets: &[],
    })
    .unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].address, "security_groups.db-sg");
    // The group's own line (`db-sg:`), where the error's fixes (its name or description) go.
    assert_eq!(e[0].pos.line, 3, "{e:?}");
    for part in [
        "db_instances.app-db uses it",
        "description (now \"one\")",
        "give the group a new name",
    ] {
        assert!(e[0].message.contains(part), "{part}: {}", e[0].message);
    }
    // The way out the error gives: a new name; the instance moves, then the old group goes.
    let s = stack(
        &GROUP_IN_USE
            .replace("description: one", "description: two")
            .replace("db-sg", "db-sg2"),
    );
    fake.clear_log();
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert!(
        fake.at("end update db_instances.app-db") < fake.at("start delete security_groups.db-sg")
    );
    assert!(fake.get("security_groups.db-sg").is_none());
    assert!(pending(&fake, &s).await.is_empty());
}

/// A function with a layer from a folder, and a db instance whose address it uses.
fn app_stack(dir: &Path, layer_file: &str) -> Stack {
    write(dir, "fn/main.py", "def handler(e, c):\n    return 1\n");
    write(dir, "layer/python/lib.py", layer_file);
    stack_in(
        dir,
        "stack: s
db_instances:
  app-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
functions:
  app-fn:
    source: fn
    runtime: python3.12
    handler: main.handler
    layers:
      - { name: lib, source: layer, runtimes: [python3.12] }
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.app-db.address}:5432/app
",
    )
}

#[tokio::test(start_paused = true)]
async fn a_replace_of_a_layer_publishes_a_new_version_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeProvider::default();
    assert!(apply(&fake, &app_stack(dir.path(), "v = 1\n")).await.ok());
    fake.clear_log();
    let s = app_stack(dir.path(), "v = 2\n");
    let layer = "functions.app-fn.layer.lib";
    assert!(
        pending(&fake, &s)
            .await
            .contains(&(layer.to_string(), Action::Replace))
    );
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    let lines: Vec<String> = fake.log().into_iter().map(|(_, l)| l).collect();
    assert!(lines.contains(&format!("end create {layer}")));
    assert!(
        !lines.contains(&format!("start delete {layer}")),
        "{lines:#?}"
    );
    let Some(Observed::Layer(l)) = fake.get(layer) else {
        panic!()
    };
    assert_eq!(l.version, 2);
    // The function moved to the new version after it was published.
    assert!(fake.at(&format!("end create {layer}")) < fake.at("start update functions.app-fn"));
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_rerun_after_an_interrupted_apply_converges() {
    let s = stack(GROUPS);
    let fake = FakeProvider::default();
    fake.script(
        "security_groups.db",
        Script {
            hang: true,
            ..Default::default()
        },
    );
    // The user interrupts the apply after a minute: the executor's future is dropped.
    let interrupted = tokio::time::timeout(Duration::from_secs(60), apply(&fake, &s)).await;
    assert!(interrupted.is_err());
    assert!(fake.get("security_groups.app").is_some());
    assert!(fake.get("security_groups.db").is_none());
    fake.script("security_groups.db", Script::default());
    assert_eq!(
        pending(&fake, &s).await,
        vec![
            ("security_groups.db".to_string(), Action::Create),
            ("security_groups.db.ingress.APP".to_string(), Action::Create),
        ]
    );
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert!(pending(&fake, &s).await.is_empty());
}

/// The bug found from outside: after an interrupted apply, a rerun while the RDS instance is
/// still `creating` (it exists, it has no address yet) failed with "environment.CONNECTION_URL
/// was still unknown at apply (internal ordering error)": the function's step referenced an
/// attribute of a node with no step of its own, so nothing waited for it.
#[tokio::test(start_paused = true)]
async fn a_rerun_while_the_instance_is_still_creating_waits_for_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let s = app_stack(dir.path(), "v = 1\n");
    let fake = FakeProvider::default();
    // What the interrupted apply left: the instance, still being created, and nothing else.
    let Spec::DbInstance(spec) = resources::spec(
        &s,
        &Key::DbInstance("app-db".into()),
        &Resolver::default(),
        &Default::default(),
    ) else {
        panic!()
    };
    let ready = db_instance_from(&spec, "db_instances.app-db", 1).unwrap();
    let creating = crate::resources::db_instance::Observed {
        status: "creating".into(),
        address: None,
        port: None,
        ..ready.clone()
    };
    let db = "db_instances.app-db";
    fake.put(
        db,
        Key::DbInstance("app-db".into()),
        Observed::DbInstance(creating),
    );
    fake.ready_after(
        db,
        Duration::from_secs(300),
        Observed::DbInstance(ready.clone()),
    );

    // The instance itself is as declared: no step of its own.
    let plan = pending(&fake, &s).await;
    assert!(!plan.iter().any(|(a, _)| a == db), "{plan:?}");
    assert!(plan.contains(&("functions.app-fn".to_string(), Action::Create)));

    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert!(fake.at(&format!("end wait {db}")) < fake.at("start create functions.app-fn"));
    assert_eq!(fake.time_of("start create functions.app-fn"), 300_000);
    let Some(Observed::Function(f)) = fake.get("functions.app-fn") else {
        panic!()
    };
    let address = ready.address.unwrap();
    assert_eq!(
        f.environment["CONNECTION_URL"],
        format!("postgresql://root:pw-1234@{address}:5432/app")
    );
    assert!(pending(&fake, &s).await.is_empty());
}

/// The trial's bug: with nothing else left to change, a rerun while the instance is still
/// `creating` said "No changes" and ended at once. The plan shows it as waiting (not a change),
/// and apply ends only once it is available.
#[tokio::test(start_paused = true)]
async fn a_rerun_with_nothing_to_change_waits_for_an_instance_still_creating() {
    let s = stack(
        "stack: s
db_instances:
  app-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
",
    );
    let fake = FakeProvider::default();
    let Spec::DbInstance(spec) = resources::spec(
        &s,
        &Key::DbInstance("app-db".into()),
        &Resolver::default(),
        &Default::default(),
    ) else {
        panic!()
    };
    let ready = db_instance_from(&spec, "db_instances.app-db", 1).unwrap();
    let db = "db_instances.app-db";
    fake.put(
        db,
        Key::DbInstance("app-db".into()),
        Observed::DbInstance(crate::resources::db_instance::Observed {
            status: "creating".into(),
            address: None,
            port: None,
            ..ready.clone()
        }),
    );
    fake.ready_after(db, Duration::from_secs(300), Observed::DbInstance(ready));

    let live = fake.read(&s, &BTreeMap::new()).await.unwrap();
    let planned = plan(&Input {
        stack: &s,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        destroy: false,
        targets: &[],
    })
    .unwrap();
    assert!(planned.plan.is_empty(), "{:?}", planned.plan.changes);
    assert_eq!(
        planned.plan.waiting,
        vec![crate::plan::Waiting {
            address: db.into(),
            status: "creating".into()
        }]
    );

    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!(fake.time_of(&format!("end wait {db}")), 300_000);
    let Some(Observed::DbInstance(o)) = fake.get(db) else {
        panic!()
    };
    assert_eq!(o.status, "available");
    // Once available, there is nothing to wait for.
    let live = fake.read(&s, &BTreeMap::new()).await.unwrap();
    let again = plan(&Input {
        stack: &s,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        destroy: false,
        targets: &[],
    })
    .unwrap();
    assert!(again.plan.waiting.is_empty() && again.plan.is_empty());
}

#[tokio::test(start_paused = true)]
async fn steps_that_need_nothing_unknown_do_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let s = app_stack(dir.path(), "v = 1\n");
    let fake = FakeProvider::default();
    fake.script("db_instances.app-db", delay(120));
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    // A fresh apply: the function waits for the instance's own step, not for a provider wait.
    assert!(!fake.log().iter().any(|(_, l)| l.starts_with("start wait")));
    assert_eq!(fake.time_of("start create functions.app-fn"), 120_000);
    // The role and the layer did not wait for the instance.
    assert_eq!(fake.time_of("start create functions.app-fn.role"), 0);
    assert!(pending(&fake, &s).await.is_empty());
}

/// The critical path: RDS reports an instance's address during `backing-up`, long before
/// `available`. The function needs only the address and starts then; the migration connects to
/// the instance and waits for `available`; apply ends when the instance is available.
#[tokio::test(start_paused = true)]
async fn a_function_starts_when_the_address_is_known_and_migrations_when_available() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fn/main.py",
        "def handler(e, c):\n    return 1\n",
    );
    write(
        dir.path(),
        "sql/0001_init.sql",
        "create table t (id int);\n",
    );
    let s = stack_in(
        dir.path(),
        "stack: s
db_instances:
  app-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    db_name: app
    migrations: sql
functions:
  app-fn:
    source: fn
    runtime: python3.12
    handler: main.handler
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.app-db.address}:5432/app
",
    );
    let fake = FakeProvider::default();
    let db = "db_instances.app-db";
    // Addressed after 300 s (`backing-up`), available 100 s later.
    fake.script(
        db,
        Script {
            delay: Duration::from_secs(300),
            available_after: Some(Duration::from_secs(100)),
            ..Default::default()
        },
    );
    fake.script("functions.app-fn", delay(30));
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!(fake.time_of("start create functions.app-fn"), 300_000);
    let migration = fake
        .log()
        .into_iter()
        .find(|(_, l)| l.starts_with("start create db_instances.app-db.migrations"))
        .unwrap_or_else(|| panic!("no migration step: {:#?}", fake.log()));
    assert_eq!(migration.0, 400_000, "{:#?}", fake.log());
    assert!(fake.at(&format!("end wait {db}")) < fake.at(&migration.1));
    // Apply ended with the instance available, not merely addressed.
    let Some(Observed::DbInstance(o)) = fake.get(db) else {
        panic!()
    };
    assert_eq!(o.status, "available");
    assert!(pending(&fake, &s).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn destroy_starts_each_delete_when_what_references_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fn/main.py",
        "def handler(e, c):\n    return e\n",
    );
    let s = stack_in(
        dir.path(),
        "stack: s
security_groups:
  db-sg:
    description: d
    ingress:
      - description: APP
        port: 5432
        source_group: app-sg
  app-sg:
    description: a
  other-sg:
    description: o
db_instances:
  app-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
    security_groups: [db-sg]
functions:
  app-fn:
    source: fn
    runtime: python3.12
    handler: main.handler
    vpc:
      subnets: [subnet-1]
      security_groups: [app-sg]
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.app-db.address}:5432/app
user_pools:
  users:
    username_attributes: [email]
cognito_triggers:
  - user_pool: users
    event: post_confirmation
    function: app-fn
",
    );
    let fake = FakeProvider::default();
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    // Deleting the instance takes ten minutes; everything else a few seconds.
    let trigger = "cognito_triggers.users.post_confirmation";
    for (addr, secs) in [
        ("db_instances.app-db", 600),
        (trigger, 5),
        ("user_pools.users", 7),
        ("functions.app-fn", 11),
        ("functions.app-fn.role", 13),
        ("security_groups.app-sg", 17),
        ("security_groups.db-sg", 19),
        ("security_groups.other-sg", 23),
    ] {
        fake.script(addr, delay(secs));
    }
    fake.clear_log();
    let r = destroy(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    let start = |a: &str| fake.time_of(&format!("start delete {a}"));
    // What nothing references goes at once: the instance, the trigger, an unused group.
    assert_eq!(start("db_instances.app-db"), 0);
    assert_eq!(start(trigger), 0);
    assert_eq!(start("security_groups.other-sg"), 0);
    // The pool and the function wait for the trigger only, not for the instance's ten minutes.
    assert_eq!(start("user_pools.users"), 5_000);
    assert_eq!(start("functions.app-fn"), 5_000);
    // The instance's group waits for the instance; the group its rule names waits for that rule
    // (taken with the group), and for the function that used it.
    assert_eq!(start("security_groups.db-sg"), 600_000);
    assert_eq!(start("security_groups.app-sg"), 619_000);
    // The role outlives the group its function used (Lambda releases the function's network
    // interfaces with the role).
    assert_eq!(start("functions.app-fn.role"), 636_000);
    assert!(fake.get("user_pools.users").is_none());
    assert!(
        fake.log()
            .iter()
            .all(|(_, l)| !l.starts_with("start create"))
    );
}

const POOL_STACK: &str = "stack: s
db_instances:
  app-db:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    master_password: ${secret:DB_PASSWORD}
functions:
  app-fn:
    source: fn
    runtime: python3.12
    handler: main.handler
    timeout: 10
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.app-db.address}:5432/app
user_pools:
  users:
    username_attributes: [email]
cognito_triggers:
  - user_pool: users
    event: post_confirmation
    function: app-fn
";

/// The week's item 3: an instance's in-place modify (minutes on AWS) does not hold up a function
/// that only reads its address, which the modify leaves as it is.
#[tokio::test(start_paused = true)]
async fn a_function_does_not_wait_for_an_update_that_keeps_the_address_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fn/main.py",
        "def handler(e, c):\n    return e\n",
    );
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack_in(dir.path(), POOL_STACK)).await.ok());
    let s = stack_in(
        dir.path(),
        &POOL_STACK
            .replace("db.t3.micro", "db.t3.small")
            .replace("timeout: 10", "timeout: 20"),
    );
    assert_eq!(
        pending(&fake, &s).await,
        vec![
            ("db_instances.app-db".to_string(), Action::Update),
            ("functions.app-fn".to_string(), Action::Update),
        ]
    );
    fake.script("db_instances.app-db", delay(600));
    fake.clear_log();
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!(fake.time_of("start update functions.app-fn"), 0);
    assert!(fake.at("end update functions.app-fn") < fake.at("end update db_instances.app-db"));

    // A port change does change what the function reads: then it waits.
    let moved = stack_in(
        dir.path(),
        &POOL_STACK
            .replace("db.t3.micro", "db.t3.small")
            .replace("timeout: 10", "timeout: 30")
            .replace(
                "allocated_storage: 20",
                "allocated_storage: 20\n    port: 6543",
            ),
    );
    fake.clear_log();
    let r = apply(&fake, &moved).await;
    assert!(r.ok(), "{r:?}");
    assert!(fake.at("end update db_instances.app-db") < fake.at("start update functions.app-fn"));
}

/// The week's item 4: the pool's replace waits for the removal of its trigger, as a plain
/// delete of the pool does, so the trigger's UpdateUserPool never meets a deleted pool.
#[tokio::test(start_paused = true)]
async fn a_replaced_pool_waits_for_the_removal_of_its_trigger() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fn/main.py",
        "def handler(e, c):\n    return e\n",
    );
    let fake = FakeProvider::default();
    assert!(apply(&fake, &stack_in(dir.path(), POOL_STACK)).await.ok());
    let without_trigger = POOL_STACK
        .split("cognito_triggers:")
        .next()
        .unwrap()
        .replace(
            "username_attributes: [email]",
            "username_attributes: [phone_number]",
        );
    let s = stack_in(dir.path(), &without_trigger);
    let trigger = "cognito_triggers.users.post_confirmation";
    assert!(
        pending(&fake, &s)
            .await
            .contains(&("user_pools.users".to_string(), Action::Replace))
    );
    fake.script(trigger, delay(5));
    fake.clear_log();
    let r = apply(&fake, &s).await;
    assert!(r.ok(), "{r:?}");
    let first_pool_op = fake
        .log()
        .iter()
        .filter(|(_, l)| l.ends_with(" user_pools.users") && l.starts_with("start"))
        .map(|(t, _)| *t)
        .min()
        .unwrap();
    assert!(
        fake.time_of(&format!("end delete {trigger}")) <= first_pool_op,
        "{:#?}",
        fake.log()
    );
    assert!(pending(&fake, &s).await.is_empty());
}
