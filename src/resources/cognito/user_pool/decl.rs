//! What the stack file declares of a user pool: the schema entry, the entry as written, how it is
//! decoded, and the checks that make it a [`UserPool`].

use crate::stack::UserPool;
use crate::stack::check::{Checker, is_interpolated, pos};
use crate::stack::decode::{Decoder, Node, Scalar, Schema, Sp, Str, Ty, field, named};

pub static USER_POOL: Schema = Schema {
    what: "user pool",
    fields: &[
        field!("name", Ty::Str),
        field!("username_attributes", Ty::List(&Ty::Str)),
        field!("auto_verified_attributes", Ty::List(&Ty::Str)),
        field!("deletion_protection", Ty::Bool),
    ],
};

#[derive(Debug)]
pub struct RawUserPool {
    pub name: Option<Str>,
    pub username_attributes: Option<Vec<Str>>,
    pub auto_verified_attributes: Option<Vec<Str>>,
    pub deletion_protection: Option<Sp<Scalar>>,
}

/// A `user_pools` entry.
pub fn decode(d: &mut Decoder, name: &Str, n: &Node) -> Option<Sp<RawUserPool>> {
    let p = d.obj(n, &USER_POOL, &format!("user pool `{}`", name.value))?;
    Some(named(
        name,
        RawUserPool {
            name: p.str(d, "name"),
            username_attributes: p.strs(d, "username_attributes"),
            auto_verified_attributes: p.strs(d, "auto_verified_attributes"),
            deletion_protection: p.bool(d, "deletion_protection"),
        },
    ))
}

pub(crate) fn check(c: &mut Checker<'_>, name: &str, p: &Sp<RawUserPool>) -> Option<UserPool> {
    let at = pos(p);
    let (aws_name, name_at) = c.physical(name, &p.value.name, at);
    // CreateUserPool's PoolName: 1-128 of [\w\s+=,.@-] (Cognito API reference).
    // A key holding `${` was refused by the decoder already.
    if !is_interpolated(&aws_name)
        && (aws_name.is_empty()
            || aws_name.chars().count() > 128
            || !aws_name
                .chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_+=,.@-".contains(c)))
    {
        c.err(
            name_at,
            format!("user pool name `{aws_name}` must be 1-128 letters, digits, spaces or _+=,.@-"),
        );
    }
    let attrs = |c: &mut Checker<'_>, list: &Option<Vec<Str>>, what: &str| -> Option<Vec<String>> {
        list.as_ref().map(|l| {
            let mut out = Vec::new();
            for a in l {
                match c.plain(a, what) {
                    Some(v) if v == "email" || v == "phone_number" => out.push(v),
                    Some(v) => c.err(
                        pos(a),
                        format!("{what}: `{v}` must be email or phone_number"),
                    ),
                    None => {}
                }
            }
            out.sort();
            out.dedup();
            out
        })
    };
    let username_attributes = attrs(c, &p.value.username_attributes, "username_attributes");
    let auto_verified_attributes = attrs(
        c,
        &p.value.auto_verified_attributes,
        "auto_verified_attributes",
    );
    Some(UserPool {
        name: aws_name,
        username_attributes,
        auto_verified_attributes,
        deletion_protection: p
            .value
            .deletion_protection
            .as_ref()
            .and_then(|b| c.bool(b, "deletion_protection")),
        pos: at,
    })
}
