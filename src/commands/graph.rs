//! `deploy graph`: the stack's dependency graph, as DOT or Mermaid.

use super::{Context, ExitCode};
use crate::cli::{GraphArgs, GraphFormat};
use crate::error::Result;
use crate::stack::Secrets;

pub(super) fn run(cx: &Context, args: &GraphArgs) -> Result<ExitCode> {
    let stack = cx.load(Secrets::Optional)?.stack;
    let nodes: Vec<crate::plan::draw::Node> = crate::resources::nodes(&stack)
        .into_iter()
        .map(|n| (n.address, n.deps))
        .collect();
    match args.format {
        GraphFormat::Dot => out!("{}", crate::plan::draw::dot(&stack.name, &nodes)),
        GraphFormat::Mermaid => out!("{}", crate::plan::draw::mermaid(&nodes)),
    }
    Ok(0)
}
