"""`deploy policy` output linted with parliament (duo-labs' IAM policy linter, pinned in
requirements-test.txt), community auditors included: no finding of severity MEDIUM or higher,
except the documented ones below, each matched narrowly (issue, and what it names) and with the
reason it is the point of the policy rather than a flaw.

Runs the deploy binary that `cargo test` built (target/debug/deploy), or DEPLOY_BIN. Without it
the tests fail: nothing is skipped."""

import json
import os
import subprocess
from pathlib import Path

import parliament
import pytest
from parliament import analyze_policy_string, enhance_finding, override_config

REPO = Path(__file__).resolve().parents[2]
SEVERITIES = ["MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]

# The community auditors' severities (as `parliament --include-community-auditors` loads them).
override_config(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml")

MANAGED_DB = """stack: sm
region: us-east-1
db_instances:
  db1:
    engine: postgres
    instance_class: db.t3.micro
    allocated_storage: 20
    master_username: root
    manage_master_password: true
"""

# Every kind and every option with a permission of its own (the Rust policy tests use it too).
EVERY_KIND = (REPO / "tests" / "fixtures" / "every-kind.yaml").read_text()

# What deploy does to the file's functions and their auto roles (all scoped to the file's names;
# attaching is limited to the two Lambda execution policies and passing to Lambda, by condition).
ROLE_AND_PERMISSION_ACTIONS = {
    "iam:createrole",
    "iam:deleterole",
    "iam:updateassumerolepolicy",
    "iam:deleterolepolicy",
    "iam:attachrolepolicy",
    "iam:detachrolepolicy",
    "iam:passrole",
    "lambda:addpermission",
    "lambda:removepermission",
}


def documented_exception(finding, policy):
    """Why a MEDIUM+ finding is accepted, or None."""
    # The community auditors put what they found in `location`, the others in `detail`.
    issue, detail, where = finding.issue, finding.detail, finding.location
    if (
        issue == "PERMISSIONS_MANAGEMENT_ACTIONS"
        and set(where.get("actions", ["?"])) <= ROLE_AND_PERMISSION_ACTIONS
        and named_one_by_one(policy, where["actions"])
    ):
        return (
            "deploy creates the `auto` role of each of the file's functions (under /deploy/<stack>/), "
            "attaches only AWSLambdaBasicExecutionRole/AWSLambdaVPCAccessExecutionRole (iam:PolicyARN "
            "condition), passes roles only to Lambda, and adds Cognito's invoke permission to the "
            "file's functions: its job, on the file's names only"
        )
    if (
        issue == "PRIVILEGE_ESCALATION"
        and where.get("type") == "EditExistingLambdaFunctionWithRole"
        and where.get("actions") == ["lambda:updatefunctioncode"]
        and named_one_by_one(policy, where["actions"])
    ):
        return (
            "updating the code of the file's functions is what deploy is for; the statement names "
            "them one by one, and their roles are the file's"
        )
    if (
        issue == "PRIVILEGE_ESCALATION"
        and where.get("type") == "PassExistingRoleToNewLambdaThenInvoke"
        and set(where.get("actions", [])) == {"iam:passrole", "lambda:createfunction", "lambda:invokefunction"}
        and named_one_by_one(policy, where["actions"])
    ):
        return (
            "deploy creates the file's functions with the file's roles (PassRole only to Lambda, on "
            "those roles one by one), and `deploy invoke` invokes them (on those names only): "
            "running code as those roles is what the holder can already do by updating the "
            "functions' code"
        )
    if issue == "RESOURCE_MISMATCH" and detail == [
        {
            "action": "ec2:AuthorizeSecurityGroupIngress",
            "required_format": "arn:*:ec2:*:*:security-group/*",
        }
    ]:
        # The statement at that line must be the rule one, and nothing else.
        st = statement_at(policy, finding.location["line"])
        if st["Sid"] == "AuthorizeRulesThatTagThemselves":
            return (
                "this statement authorises the security-group-rule resource a tagged ingress rule "
                "creates (AWS checks it with the request's tags); the group itself is authorised by "
                "ChangeOnlyThisStacksSecurityGroups, on this stack's tag. parliament wants every "
                "statement naming the action to name its required resource type"
            )
    return None


def named_one_by_one(text, actions):
    """Whether every statement granting one of `actions` names its resources one by one: no `*`
    in the resource's own name (the account and region may be `*`)."""
    def as_list(v):
        return [v] if isinstance(v, str) else v

    for st in json.loads(text)["Statement"]:
        if not {a.lower() for a in as_list(st["Action"])} & set(actions):
            continue
        for r in as_list(st["Resource"]):
            name = r.split(":role/", 1)[-1] if ":role/" in r else r.split(":")[-1]
            if r == "*" or "*" in name:
                return False
    return True


def statement_at(text, line):
    """The statement of the policy text whose `{` is on `line` (parliament reports that line)."""
    doc = json.loads(text)
    lines = text.splitlines()
    # Each statement starts a line `    {`; count them up to `line`.
    index = sum(1 for l in lines[: line] if l.strip() == "{" and l.startswith("    {")) - 1
    return doc["Statement"][index]


def deploy_bin():
    b = Path(os.environ.get("DEPLOY_BIN", REPO / "target" / "debug" / "deploy"))
    assert b.exists(), f"{b} missing: run `cargo test` (it builds it) or set DEPLOY_BIN"
    return b


def policy_text(stack_dir):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(stack_dir)}
    r = subprocess.run(
        [deploy_bin(), "policy"], cwd=stack_dir, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def serious_findings(text):
    policy = analyze_policy_string(text, include_community_auditors=True)
    out, accepted = [], []
    for f in policy.findings:
        f = enhance_finding(f)
        if SEVERITIES.index(f.severity) < SEVERITIES.index("MEDIUM"):
            continue
        why = documented_exception(f, text)
        (accepted if why else out).append((f.issue, f.severity, f.detail, f.location))
    return out, accepted


def test_the_repos_stack_policy_has_no_medium_or_higher_finding():
    text = policy_text(REPO)
    assert text == (REPO / "docs" / "iam-policy.json").read_text()
    findings, accepted = serious_findings(text)
    assert findings == [], findings
    # The exceptions are real: the lint ran and found what the policy is for.
    assert {a[0] for a in accepted} >= {"PRIVILEGE_ESCALATION", "PERMISSIONS_MANAGEMENT_ACTIONS"}


def test_a_manage_master_password_stack_policy_has_no_medium_or_higher_finding(tmp_path):
    (tmp_path / "stack.yaml").write_text(MANAGED_DB)
    text = policy_text(tmp_path)
    assert "secretsmanager:CreateSecret" in text
    findings, _ = serious_findings(text)
    assert findings == [], findings


def test_a_stack_of_every_kind_has_no_medium_or_higher_finding(tmp_path):
    (tmp_path / "stack.yaml").write_text(EVERY_KIND)
    for d in ["fn", "lib"]:
        (tmp_path / d).mkdir()
        (tmp_path / d / "app.py").write_text("def h(e, c):\n    return e\n")
    text = policy_text(tmp_path)
    assert "cognito-idp:CreateUserPool" in text and "secretsmanager:TagResource" in text
    findings, _ = serious_findings(text)
    assert findings == [], findings


def test_the_lint_catches_the_old_takeover_policy():
    # What issue 15 item 2 described: writes on anything carrying any deploy:stack tag, and
    # UpdateUserPool on every pool. parliament must say something about a broad write.
    old = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["lambda:UpdateFunctionCode", "lambda:TagResource"],
                "Resource": "arn:aws:lambda:*:*:function:*",
            },
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        ],
    }
    findings, _ = serious_findings(json.dumps(old, indent=2))
    assert findings, "parliament found nothing in a policy that passes any role"


@pytest.mark.parametrize("sid", ["AuthorizeRulesThatTagThemselves", "ReadTheAccount"])
def test_statements_are_found_by_line(sid):
    text = (REPO / "docs" / "iam-policy.json").read_text()
    doc = json.loads(text)
    lines = text.splitlines()
    starts = [i + 1 for i, l in enumerate(lines) if l.startswith("    {")]
    index = [s["Sid"] for s in doc["Statement"]].index(sid)
    assert statement_at(text, starts[index])["Sid"] == sid
