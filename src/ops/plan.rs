//! `deploy plan`: what the read covers, the plan (partial, or of a destroy), and the saved file.

use std::path::Path;

use super::Reads;
use crate::engine::scope::{
    destroy_read, for_targets, uses_public_ip, uses_public_ip_in, without_migrations,
};
use crate::engine::session::{Backend, Session};
use crate::error::{Error, Result};
use crate::plan::build::Planned;
use crate::plan::saved;
use crate::stack::{self, Stack, Template};

pub struct Options<'a> {
    /// `--destroy`: the plan of a `deploy destroy`.
    pub destroy: bool,
    /// `--partial`: no secret and no database read.
    pub partial: bool,
    pub targets: &'a [String],
}

/// What the plan reads, and whether it needs the public IP.
pub fn reads(stack: &Stack, o: &Options) -> Reads {
    let read = if o.destroy {
        destroy_read(stack)
    } else if o.partial {
        // No database is connected to: migrations and seeds are left out of the plan
        // (and listed as not read).
        without_migrations(&for_targets(stack, o.targets), |_| false)
    } else {
        for_targets(stack, o.targets)
    };
    let need_ip = if o.destroy {
        uses_public_ip(&read)
    } else {
        uses_public_ip_in(stack, o.targets)
    };
    Reads {
        stack: read,
        need_ip,
    }
}

/// The plan over what `session` read (`read`: the stack it read, from [`reads`]).
pub fn plan<B: Backend>(
    session: &Session<B>,
    stack: &Stack,
    read: &Stack,
    o: &Options,
) -> Result<Planned> {
    let mut planned = if o.partial {
        session.plan(read, false, o.targets)?
    } else {
        session.plan(stack, o.destroy, o.targets)?
    };
    if o.partial {
        mark_partial(stack, &mut planned.plan);
    }
    Ok(planned)
}

/// What a saved plan records beside the plan.
pub struct Save<'a> {
    pub targets: &'a [String],
    pub adopt: bool,
    /// The variables the stack was loaded with.
    pub variables: saved::Variables,
}

/// Writes the plan to `path`; returns the digest of what was written.
pub fn save<B: Backend>(
    session: &Session<B>,
    stack: &Stack,
    planned: &Planned,
    path: &Path,
    s: Save,
) -> Result<String> {
    let cx = saved::Context {
        stack,
        found: &session.live.found,
        env: &session.live.env,
        public_ip: session.public_ip.clone(),
        targets: s.targets,
        adopt: s.adopt,
        variables: s.variables,
    };
    let file = saved::save(planned, &cx)
        .map_err(|e| Error::user(format!("cannot fingerprint the stack's folders: {e}")))?;
    let text = saved::to_text(&file);
    std::fs::write(path, &text)
        .map_err(|e| Error::user(format!("cannot write the plan to {}: {e}", path.display())))?;
    Ok(saved::digest(text.as_bytes()))
}

/// A plan made with `--partial`: what needs an unset secret is shown as `(not read)` instead of
/// as a change to a secret value, and a warning says the plan is partial and what it left out.
fn mark_partial(stack: &Stack, plan: &mut crate::plan::Plan) {
    use crate::value::Shown;
    let unset = |t: &Template| {
        t.parts
            .iter()
            .any(|p| matches!(p, stack::template::Part::SecretUnset(_)))
    };
    let needs_secret = |address: &str, path: &str| -> bool {
        if let Some(name) = address.strip_prefix("functions.")
            && let Some(key) = path.strip_prefix("environment.")
        {
            return stack
                .functions
                .get(name)
                .and_then(|f| f.environment.get(key))
                .is_some_and(unset);
        }
        if let Some(id) = address.strip_prefix("db_instances.")
            && path == "master_password"
        {
            return stack
                .db_instances
                .get(id)
                .is_some_and(|d| matches!(&d.password, stack::Password::Secret(t) if unset(t)));
        }
        false
    };
    for c in &mut plan.changes {
        for f in &mut c.fields {
            if matches!(f.after, Shown::Sensitive | Shown::Unknown)
                && needs_secret(&c.address, &f.path)
            {
                f.after = Shown::NotRead;
            }
        }
    }
    for o in &mut plan.outputs {
        if matches!(o.after, Shown::Sensitive | Shown::Unknown)
            && stack.outputs.get(&o.name).is_some_and(unset)
        {
            o.after = Shown::NotRead;
        }
    }
    let databases: Vec<String> = stack
        .db_instances
        .iter()
        .filter(|(_, d)| d.migrations.is_some() || d.seed.is_some())
        .map(|(id, _)| format!("db_instances.{id}"))
        .collect();
    let mut left_out = String::new();
    if !databases.is_empty() {
        left_out = format!(
            "; the migrations and seed of {} are not read and not planned",
            databases.join(", ")
        );
    }
    plan.warnings.insert(
        0,
        format!(
            "this plan is partial (--partial): it read no secret and connected to no database, so what needs them shows as (not read){left_out}. It cannot be saved or applied: the plan to apply is made with `deploy plan --out FILE` where the secrets are set and the database can be reached."
        ),
    );
}
