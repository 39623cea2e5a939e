//! `deploy migrate` and `deploy psql`: the stack's databases.

use super::functions::NO_PACKAGES;
use super::{Context, ExitCode};
use crate::cli::{MigrateArgs, PsqlArgs};
use crate::error::Result;

pub(super) async fn migrate(cx: &Context<'_>, args: &MigrateArgs) -> Result<ExitCode> {
    // The one password it needs is checked there (--url may take PGPASSWORD instead).
    let loaded = cx.load(NO_PACKAGES)?;
    crate::ops::migrate::run(
        &loaded.stack,
        crate::ops::migrate::Options {
            url: args.url.as_deref(),
            instance: args.instance.as_deref(),
            status: args.status,
            aws: &cx.aws,
            db_endpoints: &loaded.db_endpoints,
            db: &loaded.settings.db,
            pgpassword: std::env::var("PGPASSWORD").ok(),
        },
    )
    .await
}

pub(super) async fn psql(cx: &Context<'_>, args: &PsqlArgs) -> Result<ExitCode> {
    let loaded = cx.load(NO_PACKAGES)?;
    crate::ops::psql::run(
        &loaded.stack,
        crate::ops::psql::Options {
            instance: args.instance.as_deref(),
            url: args.url.as_deref(),
            psql_args: &args.psql_args,
            aws: &cx.aws,
            db_endpoints: &loaded.db_endpoints,
            db: &loaded.settings.db,
        },
    )
    .await
}
