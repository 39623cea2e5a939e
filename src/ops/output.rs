//! `deploy output`: the outputs' values, read from the account (never from a database).

use std::collections::BTreeMap;

use super::Reads;
use crate::engine::scope::without_migrations;
use crate::engine::session::{Backend, Session};
use crate::error::{Error, Result};
use crate::stack::{self, Stack, Template};

pub struct Options<'a> {
    /// One output, else all of them.
    pub name: Option<&'a str>,
}

/// What `output` reads, and whether it needs the public IP.
pub fn reads(stack: &Stack, o: &Options) -> Reads {
    Reads {
        // Outputs name attributes of resources, never migration state: reading the database
        // would only make `output` fail where it is unreachable (a private instance).
        stack: without_migrations(stack, |_| false),
        // Only the outputs asked for: `deploy output DB_SG_ID` works offline from the
        // public-IP service unless that output uses ${public_ip}.
        need_ip: stack
            .outputs
            .iter()
            .filter(|(n, _)| o.name.is_none_or(|a| a == *n))
            .any(|(_, t)| t.uses_public_ip()),
    }
}

/// The values asked for.
pub enum Values {
    One(String),
    All(BTreeMap<String, String>),
}

/// The values of the outputs asked for (`read`: the stack `session` read, from [`reads`]).
pub fn values<B: Backend>(
    session: &Session<B>,
    stack: &Stack,
    read: &Stack,
    o: &Options,
) -> Result<Values> {
    let planned = session.plan(read, false, &[])?;
    session.log_calls();
    let Some(n) = o.name else {
        return Ok(Values::All(outputs(stack, &planned.resolver)?));
    };
    // Only the named output needs to be known: others may wait for an apply.
    let Some(t) = stack.outputs.get(n) else {
        return Err(Error::user(format!(
            "no output `{n}` in {}; outputs: {}",
            stack.file.display(),
            stack.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    };
    Ok(Values::One(output_value(n, t, &planned.resolver)?))
}

/// Output values; an output that needs a resource not created yet is an error naming it.
fn outputs(stack: &Stack, r: &stack::Resolver) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, t) in &stack.outputs {
        out.insert(name.clone(), output_value(name, t, r)?);
    }
    Ok(out)
}

/// One output's value; an error naming what it needs when that does not exist yet.
fn output_value(name: &str, t: &Template, r: &stack::Resolver) -> Result<String> {
    // `output` loads the file without requiring secrets: only the outputs printed need theirs.
    let unset: Vec<&str> = t
        .parts
        .iter()
        .filter_map(|p| match p {
            stack::template::Part::SecretUnset(v) => Some(v.as_str()),
            _ => None,
        })
        .collect();
    if !unset.is_empty() {
        return Err(Error::user(format!(
            "output {name} uses ${{secret:{}}}, which is not set: set the environment variable {} to print it",
            unset.join("}, ${secret:"),
            unset.join(", ")
        )));
    }
    {
        let v = r.resolve(t);
        let Some(value) = v.expose() else {
            let missing: Vec<String> = t
                .refs()
                .filter(|x| {
                    !r.resolve(&Template {
                        parts: vec![stack::template::Part::Ref((*x).clone())],
                        ..Template::default()
                    })
                    .is_known()
                })
                .map(|x| x.address())
                .collect();
            return Err(Error::user(format!(
                "output {name} needs {} which does not exist yet: run `deploy apply` first",
                missing.join(", ")
            )));
        };
        Ok(value.to_string())
    }
}
