//! Property tests of the engine on the fake provider: random stacks of groups and rules, a random
//! fault schedule on the first run (failures, answers lost after the account changed, delays) and
//! a random interruption point. Whatever happened, the next run converges, a plan after it is
//! empty, and what does not carry the stack's tag is never touched.

use std::time::Duration;

use proptest::prelude::*;

use super::lifecycle_tests::{apply, pending, stack};
use crate::provider::fake::{self, FakeProvider, Script};
use crate::resources::security_group::GroupObserved;
use crate::resources::{Key, Observed};

#[derive(Clone, Debug)]
enum Fault {
    None,
    Fail,
    Throttled,
    Lose,
    Delay(u64),
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => Just(Fault::None),
        1 => Just(Fault::Fail),
        1 => Just(Fault::Throttled),
        1 => Just(Fault::Lose),
        1 => (1u64..30).prop_map(Fault::Delay),
    ]
}

/// Groups `g0..gN`, each with rules from a CIDR or from another group of the stack.
#[derive(Clone, Debug)]
struct Shape {
    /// Per group, per rule: `None` for a CIDR, `Some(i)` for group `gi` as the source.
    rules: Vec<Vec<Option<usize>>>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (1usize..5)
        .prop_flat_map(|n| {
            proptest::collection::vec(
                proptest::collection::vec(proptest::option::of(0..n), 0..3),
                n,
            )
        })
        .prop_map(|rules| Shape { rules })
}

impl Shape {
    fn yaml(&self) -> String {
        let mut y = String::from("stack: s\nsecurity_groups:\n");
        for (g, rules) in self.rules.iter().enumerate() {
            y += &format!("  g{g}:\n    description: group {g}\n");
            if rules.is_empty() {
                continue;
            }
            y += "    ingress:\n";
            for (r, src) in rules.iter().enumerate() {
                // Distinct ports: two rules with one permission are a load error.
                y += &format!("      - description: R{r}\n        port: {}\n", 1000 + r);
                match src {
                    None => y += "        cidr: 10.0.0.0/8\n",
                    Some(i) => y += &format!("        source_group: g{i}\n"),
                }
            }
        }
        y
    }

    fn addresses(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (g, rules) in self.rules.iter().enumerate() {
            out.push(format!("security_groups.g{g}"));
            for r in 0..rules.len() {
                out.push(format!("security_groups.g{g}.ingress.R{r}"));
            }
        }
        out
    }
}

/// A group someone made by hand under a name the stack does not declare.
fn bystander() -> Observed {
    Observed::Group(GroupObserved {
        id: "sg-bystander".into(),
        name: "bystander".into(),
        description: "made by hand".into(),
        vpc_id: "vpc-1".into(),
        tags: Default::default(),
        owned: false,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_fault_schedule_then_one_rerun_converges(
        shape in shape(),
        faults in proptest::collection::vec(fault(), 16),
        interrupt_after in proptest::option::of(0u64..40),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let s = stack(&shape.yaml());
            let fake = FakeProvider::default();
            fake.put("security_groups.bystander", Key::Group("bystander".into()), bystander());
            for (address, f) in shape.addresses().iter().zip(faults.iter().cycle()) {
                let script = match f {
                    Fault::None => continue,
                    Fault::Fail => Script { fail: Some(fake::Fault::Fail("InternalError".into())), ..Default::default() },
                    Fault::Throttled => Script { fail: Some(fake::Fault::Throttled), ..Default::default() },
                    Fault::Lose => Script { lose: true, ..Default::default() },
                    Fault::Delay(s) => Script { delay: Duration::from_secs(*s), ..Default::default() },
                };
                fake.script(address, script);
            }
            // The first run, cut short at a random moment (Ctrl-C, kill -9) or left to finish.
            match interrupt_after {
                Some(secs) => {
                    let _ = tokio::time::timeout(Duration::from_secs(secs), apply(&fake, &s)).await;
                }
                None => {
                    let _ = apply(&fake, &s).await;
                }
            }
            fake.clear_scripts();
            let second = apply(&fake, &s).await;
            prop_assert!(second.ok(), "the rerun failed: {second:?}");
            let left = pending(&fake, &s).await;
            prop_assert!(left.is_empty(), "a plan after the rerun still has {left:?}");
            prop_assert!(
                matches!(fake.get("security_groups.bystander"), Some(Observed::Group(g)) if !g.owned),
                "the untagged group was touched"
            );
            // Every declared node exists once, under its address (the fake keys by address; a
            // second resource would show as an undeclared owned node, which the plan would delete).
            for a in shape.addresses() {
                prop_assert!(fake.get(&a).is_some(), "{a} is missing");
            }
            Ok(())
        })?;
    }
}
