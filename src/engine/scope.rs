//! What a run reads of a stack: the database of an instance only when its migrations are in
//! scope, and the public IP only when something in scope uses it. Reading less is what lets a
//! command work where a database or the lookup service cannot be reached.

use crate::stack::{self, Stack, Template};

/// The stack as the read sees it: the instances for which `keep(id)` is false lose their
/// migrations and seed, so that their database is not connected to.
pub fn without_migrations(stack: &Stack, keep: impl Fn(&str) -> bool) -> Stack {
    let mut read = stack.clone();
    for (id, d) in read.db_instances.iter_mut() {
        if !keep(id) {
            (d.migrations, d.seed) = (None, None);
        }
    }
    read
}

/// The stack as a destroy must read it. Destroy leaves applied migrations to the instance's own
/// deletion, so it reads no database: one that is unreachable (or stopped) must not block it.
/// The functions go too: a layer version they name by ARN is no longer kept.
pub fn destroy_read(stack: &Stack) -> Stack {
    let mut observed = without_migrations(stack, |_| false);
    for f in observed.functions.values_mut() {
        f.layers
            .retain(|l| !matches!(l, crate::stack::LayerRef::Arn(_)));
    }
    observed
}

/// The stack as a plan limited to `targets` must read it: the database of an instance only when
/// one of its migrations (or its seed) is in the targets' scope.
pub fn for_targets(stack: &Stack, targets: &[String]) -> Stack {
    match crate::plan::build::file_scope(stack, targets) {
        None => stack.clone(),
        Some(scope) => without_migrations(stack, |id| {
            let below = format!("db_instances.{id}.");
            scope.iter().any(|a| a.starts_with(&below))
        }),
    }
}

pub fn uses_public_ip(stack: &Stack) -> bool {
    uses_public_ip_in(stack, &[])
}

/// Whether what a plan limited to `targets` looks at (everything when there are none) needs the
/// public IP: only then is it looked up, so that a plan of a function or a security group
/// without `${public_ip}` works where the lookup service cannot be reached.
pub fn uses_public_ip_in(stack: &Stack, targets: &[String]) -> bool {
    let scope = crate::plan::build::file_scope(stack, targets);
    let within = |address: String| {
        scope.as_ref().is_none_or(|s| {
            s.iter().any(|a| {
                a.strip_prefix(address.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            })
        })
    };
    stack.security_groups.iter().any(|(name, g)| {
        g.ingress
            .iter()
            .any(|r| matches!(&r.source, stack::RuleSource::Cidr(t) if t.uses_public_ip()))
            && within(format!("security_groups.{name}"))
    }) || (scope.is_none() && stack.outputs.values().any(Template::uses_public_ip))
        || stack.functions.iter().any(|(name, f)| {
            f.environment.values().any(Template::uses_public_ip)
                && within(format!("functions.{name}"))
        })
}
