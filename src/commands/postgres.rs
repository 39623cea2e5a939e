//! `deploy migrate` and `deploy psql`: the stack's databases.

use super::{Context, ExitCode};
use crate::cli::{MigrateArgs, PsqlArgs};
use crate::error::Result;
use crate::stack::{self, Secrets};

pub(super) async fn migrate(cx: &Context<'_>, args: &MigrateArgs) -> Result<ExitCode> {
    stack::packages_not_needed();
    // The one password it needs is checked there (--url may take PGPASSWORD instead).
    let loaded = cx.load(Secrets::Optional)?;
    crate::ops::migrate::run(
        &loaded.stack,
        crate::ops::migrate::Options {
            url: args.url.as_deref(),
            instance: args.instance.as_deref(),
            status: args.status,
            aws: &cx.aws,
            db_endpoints: &loaded.db_endpoints,
            pgpassword: std::env::var("PGPASSWORD").ok(),
        },
    )
    .await
}

pub(super) async fn psql(cx: &Context<'_>, args: &PsqlArgs) -> Result<ExitCode> {
    stack::packages_not_needed();
    let loaded = cx.load(Secrets::Optional)?;
    crate::ops::psql::run(
        &loaded.stack,
        crate::ops::psql::Options {
            instance: args.instance.as_deref(),
            url: args.url.as_deref(),
            psql_args: &args.psql_args,
            aws: &cx.aws,
            db_endpoints: &loaded.db_endpoints,
            insecure_plaintext: cx.global.db_insecure_plaintext,
        },
    )
    .await
}
