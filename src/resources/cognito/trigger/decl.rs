//! What the stack file declares of a Cognito trigger: the schema entry, the item as written, how it
//! is decoded, and the checks that make it a [`Trigger`].

use std::collections::BTreeSet;

use crate::stack::check::{Checker, list_or_none, pos};
use crate::stack::decode::{Decoder, Node, Schema, Sp, Str, Ty, field, sp};
use crate::stack::{FunctionRef, PoolRef, Pos, TRIGGER_EVENTS, Trigger};

pub static TRIGGER: Schema = Schema {
    what: "cognito trigger",
    fields: &[
        field!("user_pool", Ty::Str, required),
        field!("event", Ty::Str, required),
        field!("function", Ty::Str, required),
    ],
};

#[derive(Debug)]
pub struct RawTrigger {
    pub user_pool: Option<Str>,
    pub event: Option<Str>,
    pub function: Option<Str>,
}

/// A `cognito_triggers` item.
pub fn decode(d: &mut Decoder, n: &Node) -> Option<Sp<RawTrigger>> {
    let t = d.obj(n, &TRIGGER, "a cognito trigger")?;
    let (user_pool, event, function) = (
        t.str(d, "user_pool"),
        t.str(d, "event"),
        t.str(d, "function"),
    );
    Some(sp(
        n,
        RawTrigger {
            user_pool,
            event,
            function,
        },
    ))
}

pub(crate) fn check(
    c: &mut Checker<'_>,
    t: &Sp<RawTrigger>,
    pools: &BTreeSet<String>,
    functions: &BTreeSet<String>,
) -> Option<Trigger> {
    let v = &t.value;
    let pool = v.user_pool.as_ref().and_then(|x| c.plain(x, "user_pool"));
    let event = v.event.as_ref().and_then(|x| c.plain(x, "event"));
    let function = v.function.as_ref().and_then(|x| c.plain(x, "function"));
    let event = event.filter(|event| {
        let ok = TRIGGER_EVENTS.iter().any(|(e, _)| e == event);
        if !ok {
            c.err(
                v.event.as_ref().map_or(Pos::default(), pos),
                format!(
                    "event `{event}` is not a Cognito trigger: use one of {}",
                    TRIGGER_EVENTS
                        .iter()
                        .map(|(e, _)| *e)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        ok
    });
    let function = match function {
        Some(f) if functions.contains(&f) => Some(FunctionRef::Stack(f)),
        Some(f) if is_function_arn(&f) => Some(FunctionRef::Arn(f)),
        Some(f) => {
            c.err(
                v.function.as_ref().map_or(Pos::default(), pos),
                format!(
                    "function `{f}` is not a function of this stack (declared: {}) nor a function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                    list_or_none(functions)
                ),
            );
            None
        }
        None => None,
    };
    let pool = pool?;
    let user_pool = if pools.contains(&pool) {
        PoolRef::Stack(pool)
    } else {
        PoolRef::External(pool)
    };
    Some(Trigger {
        user_pool,
        event: event?,
        function: function?,
        pos: pos(t),
    })
}

/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
fn is_function_arn(s: &str) -> bool {
    let p: Vec<&str> = s.split(':').collect();
    (p.len() == 7 || p.len() == 8)
        && p[0] == "arn"
        && p[1].starts_with("aws")
        && p[2] == "lambda"
        && p[4].len() == 12
        && p[4].chars().all(|c| c.is_ascii_digit())
        && p[5] == "function"
        && !p[6].is_empty()
}
