//! The test support's own guarantees, checked through the binary's environment: through the
//! fidelity proxy, a request the AWS API model forbids fails the test even when the client takes
//! AWS's refusal in its stride.

use super::common::Env;

/// The conformance check (tests/support/conformance.py) is on in every test through the proxy: a
/// request the AWS API model forbids gets AWS's refusal, and fails the test even when the client
/// takes the refusal in its stride. IAM's model: RoleName is at most 64 characters.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_the_aws_model_forbids_is_refused_and_fails_the_test() {
    use aws_sdk_iam::error::ProvideErrorMetadata;
    let env = Env::with_fidelity(serde_json::json!({}));
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    let err = iam
        .create_role()
        .role_name("r".repeat(65))
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"), "{err:?}");
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(env)));
    let why = dropped.expect_err("the forbidden request did not fail the test");
    let why = why.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        why.contains("conformance: iam.CreateRole RoleName: length"),
        "{why}"
    );
}
