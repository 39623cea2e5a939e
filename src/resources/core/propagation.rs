//! EC2's eventual consistency for the security groups a run creates.
//!
//! The EC2 API reference's "Eventual consistency in the Amazon EC2 API" page: right after
//! CreateSecurityGroup, calls naming the new group may answer `InvalidGroup.NotFound`, and clients
//! should retry with backoff. The SDK does not retry that code; Lambda wraps it ("EC2 Error Code:
//! InvalidGroup.NotFound") and RDS names the group in its refusal. A group that really does not
//! exist is still an error: only ids this run created are waited for, and only for a bounded time
//! (the Terraform AWS provider's EC2 propagation timeout, two minutes).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

pub const GROUP_PROPAGATION: Duration = Duration::from_secs(120);

/// The ids of the security groups this run created.
#[derive(Debug, Default)]
pub struct NewGroups(Mutex<BTreeSet<String>>);

impl NewGroups {
    pub fn record(&self, id: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(id.to_string());
        }
    }

    /// Whether an error answering a call that names `groups` can be EC2 not showing one of them
    /// yet: one of them is new, and the error says a group was not found or names the new one.
    pub fn not_yet_visible(&self, groups: &[&str], code: Option<&str>, message: &str) -> bool {
        let Ok(s) = self.0.lock() else {
            return false;
        };
        let new: Vec<&&str> = groups.iter().filter(|g| s.contains(**g)).collect();
        !new.is_empty()
            && (code == Some("InvalidGroup.NotFound")
                || message.contains("InvalidGroup.NotFound")
                || new.iter().any(|g| message.contains(**g)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_group_this_run_made_is_waited_for() {
        let new = NewGroups::default();
        new.record("sg-new");
        let nf = Some("InvalidGroup.NotFound");
        assert!(new.not_yet_visible(
            &["sg-old", "sg-new"],
            nf,
            "The security group 'sg-new' does not exist"
        ));
        assert!(!new.not_yet_visible(
            &["sg-old"],
            nf,
            "The security group 'sg-old' does not exist"
        ));
        // Lambda wraps EC2's code in its own.
        assert!(new.not_yet_visible(
            &["sg-new"],
            Some("InvalidParameterValueException"),
            "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. EC2 Error Message: The security group 'sg-new' does not exist"
        ));
        // RDS names the group in its own code.
        assert!(new.not_yet_visible(
            &["sg-new"],
            Some("InvalidParameterValue"),
            "Invalid security group , groupId= sg-new"
        ));
        assert!(!new.not_yet_visible(&["sg-new"], Some("InvalidParameterValue"), "Invalid port"));
    }
}
