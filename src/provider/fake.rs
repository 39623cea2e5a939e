//! A deterministic in-memory provider for engine tests: an "account" of nodes, and per address a
//! script of delays, failures, steps that hang until cancelled, and attributes that appear late.
//! Per operation, hooks (Pulumi's `deploytest` `CreateF`/`DeleteF`...) decide each call: carry
//! it out, or fail it with a typed [`Fault`], so that "the delete of a replace succeeds and its
//! create fails" is a test of its own.
//! Delays are tokio sleeps: under paused time (`start_paused = true`) they cost no wall time and
//! every run orders the same way. Every operation is logged with the (virtual) time it started
//! and ended, for tests to assert orders on.
//!
//! Creates and updates return what AWS would report for the spec, so a rerun plans nothing; a
//! value still unknown at apply fails as the real adapters do.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{Live, Op, Provider, Scope};
use crate::error::{Error, Result};
use crate::resources::core::stack_tags;
use crate::resources::{Found, Key, LiveEnv, Observed, Spec, db_instance, function};
use crate::resources::{security_group, user_pool};
use crate::stack::Stack;
use crate::value::Text;

/// What happens when an operation reaches one address.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// Every operation on the address takes this long.
    pub delay: Duration,
    /// After the delay, the operation fails with this fault.
    pub fail: Option<Fault>,
    /// The operation never finishes: only dropping the executor's future ends it.
    pub hang: bool,
    /// The operation is carried out, then its answer is lost: the caller gets an error.
    pub lose: bool,
    /// A db instance create returns addressed but still `backing-up`, and is `available` this
    /// much later (as RDS reports the endpoint before the instance is usable).
    pub available_after: Option<Duration>,
}

/// A failure as the fake's callers see it, typed as the real adapters' errors are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// AWS throttled the call beyond the SDK's retries.
    Throttled,
    /// AWS says the resource is not there.
    NotFound,
    /// Any AWS error, by code and message (`DependencyViolation`, `InvalidGroup.NotFound`).
    Aws { code: String, message: String },
    /// A failure with no AWS code (a connection closed, a database refusing), by message.
    Fail(String),
}

impl Fault {
    fn aws(code: &str, message: String) -> Fault {
        Fault::Aws {
            code: code.into(),
            message,
        }
    }

    /// The error the call returns: `op` is the operation's name ("create").
    fn error(&self, address: &str, op: &'static str) -> Error {
        let aws = |code: &str, message: &str| Error::aws_answer(address, op, code, message);
        match self {
            Fault::Throttled => aws("Throttling", "Rate exceeded"),
            Fault::NotFound => aws("NotFound", "the resource does not exist"),
            Fault::Aws { code, message } => aws(code, message),
            Fault::Fail(message) => Error::other(message.to_string()).at(address),
        }
    }
}

/// One call, as a hook sees it.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub address: &'a str,
    /// "create", "update", "adopt" or "delete".
    pub op: &'static str,
    /// The delete is the first half of a replace.
    pub replacing: bool,
    /// 1 for the first call this hook sees, 2 for the next, and so on.
    pub n: usize,
}

/// Decides one call: `Ok` carries it out against the account, `Err` fails it untouched.
pub type Hook = Box<dyn Fn(&Call<'_>) -> std::result::Result<(), Fault>>;

struct Hooked {
    op: &'static str,
    /// An address, or a prefix ending in `*` (`security_groups.*`: every group and rule).
    pattern: String,
    hook: Hook,
    calls: usize,
}

impl Hooked {
    fn matches(&self, op: &str, address: &str) -> bool {
        self.op == op
            && match self.pattern.strip_suffix('*') {
                Some(prefix) => address.starts_with(prefix),
                None => self.pattern == address,
            }
    }
}

/// One line of the log: `(ms since the fake was made, "start create security_groups.a")`.
pub type Event = (u128, String);

#[derive(Default)]
struct State {
    account: BTreeMap<String, (Key, Observed)>,
    /// Nodes whose attributes appear at a time: (when, the node as it is then).
    late: BTreeMap<String, (Instant, Observed)>,
    scripts: BTreeMap<String, Script>,
    hooks: Vec<Hooked>,
    log: Vec<Event>,
    next_id: usize,
}

pub struct FakeProvider {
    state: RefCell<State>,
    start: Instant,
}

impl Default for FakeProvider {
    fn default() -> Self {
        FakeProvider {
            state: RefCell::default(),
            start: Instant::now(),
        }
    }
}

impl FakeProvider {
    /// Back to an account that answers everything at once and truthfully.
    pub fn clear_scripts(&self) {
        let mut st = self.state.borrow_mut();
        st.scripts.clear();
        st.hooks.clear();
    }

    /// Runs `hook` on every `op` ("create", "update", "adopt", "delete") that reaches an address
    /// `pattern` names (an address, or a prefix ending in `*`), after the address's script, before
    /// the account changes. Hooks run in the order they were added; the first fault wins. A hook
    /// must not call the fake.
    pub fn on(
        &self,
        op: &'static str,
        pattern: &str,
        hook: impl Fn(&Call<'_>) -> std::result::Result<(), Fault> + 'static,
    ) {
        self.state.borrow_mut().hooks.push(Hooked {
            op,
            pattern: pattern.into(),
            hook: Box::new(hook),
            calls: 0,
        });
    }

    pub fn on_create(
        &self,
        pattern: &str,
        hook: impl Fn(&Call<'_>) -> std::result::Result<(), Fault> + 'static,
    ) {
        self.on("create", pattern, hook);
    }

    pub fn on_update(
        &self,
        pattern: &str,
        hook: impl Fn(&Call<'_>) -> std::result::Result<(), Fault> + 'static,
    ) {
        self.on("update", pattern, hook);
    }

    pub fn on_delete(
        &self,
        pattern: &str,
        hook: impl Fn(&Call<'_>) -> std::result::Result<(), Fault> + 'static,
    ) {
        self.on("delete", pattern, hook);
    }

    /// The first `n` calls of `op` on `pattern` from now succeed; every later one fails with
    /// `fault`.
    pub fn fault_after(&self, op: &'static str, pattern: &str, n: usize, fault: Fault) {
        self.on(op, pattern, move |c| {
            if c.n > n { Err(fault.clone()) } else { Ok(()) }
        });
    }

    /// The hooks' verdict on one call (see [`FakeProvider::on`]).
    fn hooks(&self, address: &str, op: &Op<'_>) -> std::result::Result<(), Fault> {
        let name = op.name();
        let replacing = matches!(
            op,
            Op::Delete {
                replacing: Some(_),
                ..
            }
        );
        let mut st = self.state.borrow_mut();
        for h in st.hooks.iter_mut().filter(|h| h.matches(name, address)) {
            h.calls += 1;
            let call = Call {
                address,
                op: name,
                replacing,
                n: h.calls,
            };
            (h.hook)(&call)?;
        }
        Ok(())
    }

    pub fn script(&self, address: &str, script: Script) {
        self.state
            .borrow_mut()
            .scripts
            .insert(address.into(), script);
    }

    /// Puts a node into the account as it is now.
    pub fn put(&self, address: &str, key: Key, observed: Observed) {
        self.state
            .borrow_mut()
            .account
            .insert(address.into(), (key, observed));
    }

    /// The node becomes `then` (attributes known) after `after`.
    pub fn ready_after(&self, address: &str, after: Duration, then: Observed) {
        self.state
            .borrow_mut()
            .late
            .insert(address.into(), (Instant::now() + after, then));
    }

    pub fn get(&self, address: &str) -> Option<Observed> {
        self.settle();
        self.state
            .borrow()
            .account
            .get(address)
            .map(|(_, o)| o.clone())
    }

    /// Forgets the log (after a test's setup), keeping the account.
    pub fn clear_log(&self) {
        self.state.borrow_mut().log.clear();
    }

    pub fn log(&self) -> Vec<Event> {
        self.state.borrow().log.clone()
    }

    /// The position of the first log line equal to `line`, for order assertions.
    pub fn at(&self, line: &str) -> usize {
        let log = self.log();
        log.iter()
            .position(|(_, l)| l == line)
            .unwrap_or_else(|| panic!("no `{line}` in the log: {log:#?}"))
    }

    /// When (ms) the first log line equal to `line` was written.
    pub fn time_of(&self, line: &str) -> u128 {
        self.log()[self.at(line)].0
    }

    fn record(&self, line: String) {
        let t = self.start.elapsed().as_millis();
        self.state.borrow_mut().log.push((t, line));
    }

    /// Late attributes whose time has come.
    fn settle(&self) {
        let now = Instant::now();
        let mut st = self.state.borrow_mut();
        let due: Vec<String> = st
            .late
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(a, _)| a.clone())
            .collect();
        for a in due {
            let (_, o) = st.late.remove(&a).expect("due");
            if let Some(entry) = st.account.get_mut(&a) {
                entry.1 = o;
            }
        }
    }

    fn next_id(&self) -> usize {
        let mut st = self.state.borrow_mut();
        st.next_id += 1;
        st.next_id
    }
}

impl Provider for FakeProvider {
    async fn read(
        &self,
        _stack: &Stack,
        db_endpoints: &BTreeMap<String, (String, u16)>,
    ) -> Result<Live> {
        self.settle();
        let found = self
            .state
            .borrow()
            .account
            .iter()
            .map(|(a, (k, o))| Found {
                address: a.clone(),
                key: k.clone(),
                observed: o.clone(),
            })
            .collect();
        Ok(Live {
            env: LiveEnv {
                region: "us-east-1".into(),
                default_vpc: Some("vpc-1".into()),
                default_subnets: vec!["subnet-1".into(), "subnet-2".into()],
                db_endpoints: db_endpoints.clone(),
                user_pools: Vec::new(),
                ..LiveEnv::default()
            },
            found,
        })
    }

    async fn apply(
        &self,
        scope: Scope<'_>,
        address: &str,
        key: &Key,
        op: Op<'_>,
    ) -> Result<Option<Observed>> {
        let name = op.name();
        self.record(format!("start {name} {address}"));
        let script = self
            .state
            .borrow()
            .scripts
            .get(address)
            .cloned()
            .unwrap_or_default();
        tokio::time::sleep(script.delay).await;
        if script.hang {
            std::future::pending::<()>().await;
        }
        let refused = match script.fail {
            Some(fault) => Err(fault),
            None => self
                .hooks(address, &op)
                .and_then(|()| self.ec2_refuses(key, &op)),
        };
        if let Err(fault) = refused {
            self.record(format!("failed {name} {address}"));
            return Err(fault.error(address, name));
        }
        let result = match op {
            Op::Delete { observed, .. } => {
                let mut st = self.state.borrow_mut();
                st.account.remove(address);
                // Deleting a group takes its rules with it.
                if let Observed::Group(g) = observed {
                    st.account
                        .retain(|_, (_, o)| !matches!(o, Observed::Rule(r) if r.group_id == g.id));
                }
                Ok(None)
            }
            Op::Create { spec, existing } => self.realise(scope, address, spec, existing).map(Some),
            Op::Update { spec, observed, .. } | Op::Adopt { spec, observed, .. } => {
                self.realise(scope, address, spec, Some(observed)).map(Some)
            }
        };
        let result = match (result, script.available_after) {
            (Ok(Some(Observed::DbInstance(o))), Some(after)) => {
                let backing_up = db_instance::Observed {
                    status: "backing-up".into(),
                    ..o.clone()
                };
                self.put(
                    address,
                    key.clone(),
                    Observed::DbInstance(backing_up.clone()),
                );
                self.ready_after(address, after, Observed::DbInstance(o));
                Ok(Some(Observed::DbInstance(backing_up)))
            }
            (r, _) => r,
        };
        match &result {
            Ok(Some(o)) => {
                self.put(address, key.clone(), o.clone());
                self.record(format!("end {name} {address}"));
            }
            Ok(None) => self.record(format!("end {name} {address}")),
            Err(_) => self.record(format!("failed {name} {address}")),
        }
        if script.lose && result.is_ok() {
            self.record(format!("lost {name} {address}"));
            return Err(Error::other(format!(
                "{address}: connection closed before an answer"
            )));
        }
        result
    }

    async fn wait_for(
        &self,
        _scope: Scope<'_>,
        address: &str,
        _key: &Key,
        _observed: &Observed,
        attrs: &[&str],
    ) -> Result<Observed> {
        self.record(format!("start wait {address}"));
        let late = self.state.borrow().late.get(address).map(|(at, _)| *at);
        if let Some(at) = late {
            tokio::time::sleep_until(at).await;
        }
        self.record(format!("end wait {address}"));
        self.get(address).ok_or_else(|| {
            Error::other(format!(
                "{address}: gone while waiting for {}",
                attrs.join(", ")
            ))
        })
    }
}

fn known(t: &Text, address: &str, what: &str) -> Result<String> {
    t.expose().map(str::to_string).ok_or_else(|| {
        Error::other(format!(
            "{address}: {what} was still unknown at apply (internal ordering error)"
        ))
    })
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

impl FakeProvider {
    /// What EC2 refuses: deleting a group something still uses (another group's rule, an
    /// instance, a function), and any rule call to a group that does not exist.
    fn ec2_refuses(&self, key: &Key, op: &Op<'_>) -> std::result::Result<(), Fault> {
        let st = self.state.borrow();
        let group_exists = |id: &str| {
            st.account
                .values()
                .any(|(_, o)| matches!(o, Observed::Group(g) if g.id == id))
        };
        match (key, op) {
            (
                Key::Group(_),
                Op::Delete {
                    observed: Observed::Group(g),
                    ..
                },
            ) => {
                let user = st.account.iter().find(|(_, (_, o))| {
                    o.refs().contains(&g.id)
                        && !matches!(o, Observed::Rule(r) if r.group_id == g.id)
                });
                match user {
                    Some((user, _)) => Err(Fault::aws(
                        "DependencyViolation",
                        format!("resource {} has a dependent object ({user})", g.id),
                    )),
                    None => Ok(()),
                }
            }
            (Key::Rule { .. }, op) => {
                let gid = match op {
                    Op::Create {
                        spec: Spec::Rule(s),
                        ..
                    } => s.group_id.expose().map(str::to_string),
                    Op::Update {
                        observed: Observed::Rule(o),
                        ..
                    }
                    | Op::Adopt {
                        observed: Observed::Rule(o),
                        ..
                    }
                    | Op::Delete {
                        observed: Observed::Rule(o),
                        ..
                    } => Some(o.group_id.clone()),
                    _ => None,
                };
                match gid {
                    Some(id) if !group_exists(&id) => Err(Fault::aws(
                        "InvalidGroup.NotFound",
                        format!("the security group '{id}' does not exist"),
                    )),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// What AWS would report after creating (or updating `prev` to) `spec`.
    fn realise(
        &self,
        scope: Scope<'_>,
        address: &str,
        spec: &Spec,
        prev: Option<&Observed>,
    ) -> Result<Observed> {
        let n = self.next_id();
        let tags = stack_tags(scope.stack);
        Ok(match spec {
            Spec::Group(s) => Observed::Group(security_group::GroupObserved {
                id: match prev {
                    Some(Observed::Group(o)) => o.id.clone(),
                    _ => format!("sg-{n}"),
                },
                name: s.name.clone(),
                description: s.description.clone(),
                vpc_id: known(&s.vpc_id, address, "vpc")?,
                tags: s.tags.clone(),
                owned: true,
            }),
            Spec::Rule(s) => {
                let (cidr, source_group) = match &s.source {
                    security_group::Source::Cidr(c) => (Some(known(c, address, "cidr")?), None),
                    security_group::Source::Group(g) => {
                        (None, Some(known(g, address, "source_group")?))
                    }
                };
                Observed::Rule(security_group::RuleObserved {
                    group_id: known(&s.group_id, address, "group id")?,
                    description: Some(s.description.clone()),
                    protocol: s.protocol.clone(),
                    from_port: s.from_port,
                    to_port: s.to_port,
                    cidr,
                    source_group,
                })
            }
            Spec::DbInstance(s) => Observed::DbInstance(db_instance_from(s, address, n)?),
            Spec::Role(s) => Observed::Role(function::RoleObserved {
                owned: true,
                arn: format!("arn:aws:iam::123456789012:role{}{}", s.path, s.name),
                name: s.name.clone(),
                path: s.path.clone(),
                trust_policy: Some(s.trust_policy.clone()),
                tags: s.tags.clone(),
                policies: s.policies.clone(),
            }),
            Spec::Layer(s) => {
                let version = match prev {
                    Some(Observed::Layer(o)) => o.version + 1,
                    _ => 1,
                };
                Observed::Layer(function::LayerObserved {
                    version_arn: format!(
                        "arn:aws:lambda:us-east-1:123456789012:layer:{}:{version}",
                        s.name
                    ),
                    name: s.name.clone(),
                    version,
                    content: s
                        .content
                        .clone()
                        .map_err(|e| Error::other(e.to_string()).at(address))?,
                    runtimes: s.runtimes.clone(),
                    pinned: vec![],
                    published: vec![],
                })
            }
            Spec::Function(s) => {
                let mut environment = BTreeMap::new();
                for (k, v) in &s.environment {
                    environment.insert(k.clone(), known(v, address, &format!("environment.{k}"))?);
                }
                let (subnets, security_groups) = match &s.vpc {
                    None => (vec![], vec![]),
                    Some(v) => (
                        v.subnets.clone(),
                        sorted(
                            v.security_groups
                                .iter()
                                .map(|g| known(g, address, "security group id"))
                                .collect::<Result<_>>()?,
                        ),
                    ),
                };
                Observed::Function(function::Observed {
                    owned: true,
                    arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{}", s.name),
                    name: s.name.clone(),
                    runtime: s.runtime.clone(),
                    handler: s.handler.clone(),
                    description: s.description.clone(),
                    memory: s.memory,
                    timeout: s.timeout,
                    role: known(&s.role, address, "the role ARN")?,
                    layers: s
                        .layers
                        .iter()
                        .map(|l| known(l, address, "a layer ARN"))
                        .collect::<Result<_>>()?,
                    subnets,
                    security_groups,
                    environment,
                    code_sha256: s
                        .code
                        .clone()
                        .map_err(|e| Error::other(e.to_string()).at(address))?,
                    tags: s.tags.clone(),
                })
            }
            Spec::UserPool(s) => Observed::UserPool(user_pool::Observed {
                id: format!("us-east-1_{n}"),
                arn: format!("arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_{n}"),
                name: s.name.clone(),
                username_attributes: sorted(s.username_attributes.clone().unwrap_or_default()),
                auto_verified_attributes: sorted(
                    s.auto_verified_attributes.clone().unwrap_or_default(),
                ),
                deletion_protection: s.deletion_protection.unwrap_or(false),
                tags,
                owned: true,
                triggers: vec![],
                ambiguous: vec![],
            }),
            Spec::Migration(s) => {
                // Like the real adapter, it needs the instance's address to connect.
                known(&s.conn.host, address, "host")?;
                Observed::Migration(crate::resources::migration::Observed {
                    version: s.file.version.clone(),
                    checksum: s.file.checksum.clone(),
                    out_of_order: None,
                    preexisting: None,
                })
            }
            Spec::Trigger(s) => {
                use crate::resources::cognito_trigger as t;
                let pool = s
                    .pool
                    .as_ref()
                    .map_err(|e| Error::other(e.to_string()).at(address))?;
                let pool_arn = known(&pool.arn, address, "pool arn")?;
                Observed::Trigger(t::Observed {
                    pool_id: known(&pool.id, address, "pool id")?,
                    event: s.event.clone(),
                    function_arn: known(&s.function_arn, address, "function")?,
                    owned: true,
                    // The invoke permission apply adds beside the slot.
                    permission: vec![t::Permission {
                        effect: "Allow".into(),
                        action: t::INVOKE.into(),
                        principal: t::PRINCIPAL.into(),
                        source_arn: Some(pool_arn.clone()),
                    }],
                    pool_arn,
                    equivalent: false,
                    owner: None,
                })
            }
        })
    }
}

/// An instance as RDS reports it once available: what the spec asked, AWS defaults elsewhere.
pub fn db_instance_from(
    s: &db_instance::Spec,
    address: &str,
    n: usize,
) -> Result<db_instance::Observed> {
    let (managed_password, password_version) = match &s.password {
        db_instance::PasswordSpec::Managed => (true, None),
        db_instance::PasswordSpec::Secret { version, .. } => (false, Some(*version)),
    };
    Ok(db_instance::Observed {
        owned: true,
        identifier: s.identifier.clone(),
        arn: format!("arn:aws:rds:us-east-1:123456789012:db:{}", s.identifier),
        status: if s.running { "available" } else { "stopped" }.into(),
        address: Some(format!("{}.{n}.us-east-1.rds.amazonaws.com", s.identifier)),
        port: Some(s.port.unwrap_or(5432)),
        engine: s.engine.clone(),
        engine_version: s.engine_version.clone().unwrap_or_else(|| "16.4".into()),
        instance_class: s.instance_class.clone(),
        allocated_storage: s.allocated_storage,
        storage_type: s.storage_type.clone(),
        storage_encrypted: s.storage_encrypted.unwrap_or(false),
        master_username: s.master_username.clone(),
        managed_password,
        password_fingerprint: None,
        password_version,
        db_name: s.db_name.clone(),
        availability_zone: s.availability_zone.clone(),
        multi_az: s.multi_az.unwrap_or(false),
        publicly_accessible: s.publicly_accessible.unwrap_or(false),
        backup_retention_days: s.backup_retention_days.unwrap_or(1),
        performance_insights_enabled: Some(s.performance_insights.is_some_and(|p| p.enabled)),
        performance_insights_retention: s.performance_insights.and_then(|p| p.retention_days),
        deletion_protection: s.deletion_protection.unwrap_or(false),
        security_groups: sorted(
            s.security_groups
                .iter()
                .map(|g| known(g, address, "a security group id"))
                .collect::<Result<_>>()?,
        ),
        tags: s.tags.clone(),
        pending: vec![],
        declared: Some(db_instance::Declared {
            final_snapshot: s.final_snapshot.clone(),
            deletion_protection: s.deletion_protection,
            pos: s.pos,
        }),
    })
}
