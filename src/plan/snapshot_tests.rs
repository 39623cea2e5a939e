//! Snapshots (insta) of rendered plans, text and JSON, for representative pairs of stack file and
//! live state. The live state is made in memory by applying through the fake provider and then
//! changing it as the console would; no AWS. Review a change with `cargo insta review`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::execute::execute;
use crate::plan::build::{Input, Planned, plan};
use crate::plan::render::{Style, render};
use crate::progress::Progress;
use crate::provider::fake::FakeProvider;
use crate::provider::{Provider, Scope};
use crate::resources::security_group::RuleObserved;
use crate::resources::{Key, Observed};
use crate::stack::Stack;

const STACK: &str = "stack: snap
security_groups:
  db-sg:
    description: Postgres access
    ingress:
      - description: APP
        port: 5432
        source_group: app-sg
  app-sg:
    description: App functions
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
    memory: 256
    vpc:
      security_groups: [app-sg]
    environment:
      CONNECTION_URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.app-db.address}:5432/app
user_pools:
  users:
    username_attributes: [email]
    auto_verified_attributes: [email]
outputs:
  USER_POOL_ID: ${user_pools.users.id}
  DB_HOST: ${db_instances.app-db.address}
  DB_URL: postgresql://root:${secret:DB_PASSWORD}@${db_instances.app-db.address}:5432/app
";

fn stack(dir: &Path, src: &str) -> Stack {
    std::fs::create_dir_all(dir.join("fn")).unwrap();
    std::fs::write(dir.join("fn/main.py"), "def handler(e, c):\n    return e\n").unwrap();
    crate::stack::parse_str(src, &dir.join("stack.yaml"), dir, &|name| {
        (name == "DB_PASSWORD").then(|| "snapshot-secret-pw".to_string())
    })
    .unwrap()
}

async fn planned(fake: &FakeProvider, stack: &Stack, destroy: bool) -> Planned {
    let live = fake.read(stack, &BTreeMap::new()).await.unwrap();
    plan(&Input {
        stack,
        found: &live.found,
        env: &live.env,
        public_ip: None,
        destroy,
        targets: &[],
    })
    .unwrap()
}

async fn apply(fake: &FakeProvider, stack: &Stack) {
    let live = fake.read(stack, &BTreeMap::new()).await.unwrap();
    let p = planned(fake, stack, false).await;
    let report = execute(
        fake,
        Scope {
            stack,
            env: &live.env,
        },
        &Progress::quiet(),
        p.steps,
        p.resolver,
        &live.found,
        &[],
    )
    .await;
    assert!(report.ok(), "{report:?}");
}

/// Text and JSON of one plan; the secret must appear in neither.
fn both(p: &Planned) -> (String, String) {
    let text = render(&p.plan, Style { color: false });
    let json = crate::plan::json::render(&p.plan);
    for s in [&text, &json] {
        assert!(!s.contains("snapshot-secret-pw"), "{s}");
    }
    (text, json)
}

#[tokio::test(start_paused = true)]
async fn create() {
    let dir = tempfile::tempdir().unwrap();
    let s = stack(dir.path(), STACK);
    let (text, json) = both(&planned(&FakeProvider::default(), &s, false).await);
    insta::assert_snapshot!("create_text", text);
    insta::assert_snapshot!("create_json", json);
}

#[tokio::test(start_paused = true)]
async fn update_with_drift_and_a_console_rule() {
    let dir = tempfile::tempdir().unwrap();
    let s = stack(dir.path(), STACK);
    let fake = FakeProvider::default();
    apply(&fake, &s).await;
    // Console edits: the function's memory, and a rule the file does not have.
    let addr = "functions.app-fn";
    let Some(Observed::Function(mut f)) = fake.get(addr) else {
        panic!("no function")
    };
    f.memory = 1024;
    fake.put(addr, Key::Function("app-fn".into()), Observed::Function(f));
    let Some(Observed::Group(g)) = fake.get("security_groups.db-sg") else {
        panic!("no group")
    };
    // No description: the read labels it by its permission.
    fake.put(
        "security_groups.db-sg.ingress.tcp-5432-from-0.0.0.0/0",
        Key::Rule {
            group: "db-sg".into(),
            description: "tcp-5432-from-0.0.0.0/0".into(),
        },
        Observed::Rule(RuleObserved {
            group_id: g.id.clone(),
            description: None,
            protocol: "tcp".into(),
            from_port: 5432,
            to_port: 5432,
            cidr: Some("0.0.0.0/0".into()),
            source_group: None,
        }),
    );
    let (text, json) = both(&planned(&fake, &s, false).await);
    insta::assert_snapshot!("drift_text", text);
    insta::assert_snapshot!("drift_json", json);
}

#[tokio::test(start_paused = true)]
async fn replace_with_data_loss_and_changed_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeProvider::default();
    apply(&fake, &stack(dir.path(), STACK)).await;
    let changed = STACK
        .replace("master_username: root", "master_username: admin")
        .replace(
            "username_attributes: [email]",
            "username_attributes: [email, phone_number]",
        );
    let (text, json) = both(&planned(&fake, &stack(dir.path(), &changed), false).await);
    insta::assert_snapshot!("replace_text", text);
    insta::assert_snapshot!("replace_json", json);
}

#[tokio::test(start_paused = true)]
async fn delete_what_the_file_no_longer_has_and_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let s = stack(dir.path(), STACK);
    let fake = FakeProvider::default();
    apply(&fake, &s).await;
    let without_pool = STACK
        .replace(
            "user_pools:\n  users:\n    username_attributes: [email]\n    auto_verified_attributes: [email]\n",
            "",
        )
        .replace("  USER_POOL_ID: ${user_pools.users.id}\n", "");
    let (text, json) = both(&planned(&fake, &stack(dir.path(), &without_pool), false).await);
    insta::assert_snapshot!("delete_text", text);
    insta::assert_snapshot!("delete_json", json);
    let (text, _) = both(&planned(&fake, &s, true).await);
    insta::assert_snapshot!("destroy_text", text);
}

#[tokio::test(start_paused = true)]
async fn adopt_an_untagged_group() {
    let dir = tempfile::tempdir().unwrap();
    let s = stack(dir.path(), STACK);
    let fake = FakeProvider::default();
    apply(&fake, &s).await;
    let addr = "security_groups.app-sg";
    let Some(Observed::Group(mut g)) = fake.get(addr) else {
        panic!("no group")
    };
    g.tags.clear();
    g.owned = false;
    fake.put(addr, Key::Group("app-sg".into()), Observed::Group(g));
    let (text, json) = both(&planned(&fake, &s, false).await);
    insta::assert_snapshot!("adopt_text", text);
    insta::assert_snapshot!("adopt_json", json);
}
