"""The conformance check (tests/support/conformance.py) on its own: the wire forms of each protocol
read back into the model's parameters, and the rules it adds to botocore's validator. The proxy's
use of it (AWS-shaped refusals, the log) is in test_fidelity_proxy.py."""

import sys
import urllib.parse
from pathlib import Path

import botocore.serialize
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
import conformance  # noqa: E402

SIGNED = {"authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/x/aws4_request"}


@pytest.fixture(scope="module")
def checker():
    return conformance.Checker()


def query(service, body, checker):
    headers = dict(SIGNED, **{"content-type": "application/x-www-form-urlencoded"})
    return checker.read(service, "POST", "/", headers, body.encode())


# Bodies as deploy's SDK (the Rust aws-sdk-* crates) sent them, captured at the proxy.
RUST_SDK_QUERY = [
    (
        "rds",
        "Action=CreateDBInstance&Version=2014-10-31&DBInstanceIdentifier=rl-db&AllocatedStorage=20"
        "&DBInstanceClass=db.t3.micro&Engine=postgres&MasterUsername=root&MasterUserPassword=pw-12345678"
        "&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-14e887285a1c2764b&PubliclyAccessible=false"
        "&Tags.Tag.1.Key=deploy%3Apassword-version&Tags.Tag.1.Value=1&Tags.Tag.2.Key=deploy%3Astack&Tags.Tag.2.Value=realism",
        {
            "DBInstanceIdentifier": "rl-db",
            "AllocatedStorage": 20,
            "DBInstanceClass": "db.t3.micro",
            "Engine": "postgres",
            "MasterUsername": "root",
            "MasterUserPassword": "pw-12345678",
            "VpcSecurityGroupIds": ["sg-14e887285a1c2764b"],
            "PubliclyAccessible": False,
            "Tags": [{"Key": "deploy:password-version", "Value": "1"}, {"Key": "deploy:stack", "Value": "realism"}],
        },
    ),
    (
        "ec2",
        "Action=CreateSecurityGroup&Version=2016-11-15&GroupDescription=Postgres%20access&GroupName=rl-db-sg"
        "&VpcId=vpc-1b25f8d9f07bd0014&TagSpecification.1.ResourceType=security-group"
        "&TagSpecification.1.Tag.1.Key=deploy%3Astack&TagSpecification.1.Tag.1.Value=realism",
        {
            "Description": "Postgres access",
            "GroupName": "rl-db-sg",
            "VpcId": "vpc-1b25f8d9f07bd0014",
            "TagSpecifications": [
                {"ResourceType": "security-group", "Tags": [{"Key": "deploy:stack", "Value": "realism"}]}
            ],
        },
    ),
    (
        "ec2",
        "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-14e887285a1c2764b"
        "&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=5432&IpPermissions.1.ToPort=5432"
        "&IpPermissions.1.Groups.1.Description=LAMBDA&IpPermissions.1.Groups.1.GroupId=sg-cf82f69d4e9f162ca",
        {
            "GroupId": "sg-14e887285a1c2764b",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "UserIdGroupPairs": [{"Description": "LAMBDA", "GroupId": "sg-cf82f69d4e9f162ca"}],
                }
            ],
        },
    ),
    (
        "iam",
        "Action=CreateRole&Version=2010-05-08&Path=%2Fdeploy%2Frealism%2F&RoleName=rl-fn-role"
        "&AssumeRolePolicyDocument=%7B%7D&Description=Execution%20role&Tags.member.1.Key=deploy%3Astack"
        "&Tags.member.1.Value=realism",
        {
            "Path": "/deploy/realism/",
            "RoleName": "rl-fn-role",
            "AssumeRolePolicyDocument": "{}",
            "Description": "Execution role",
            "Tags": [{"Key": "deploy:stack", "Value": "realism"}],
        },
    ),
]


@pytest.mark.parametrize("service,body,params", RUST_SDK_QUERY, ids=lambda x: x[:40] if isinstance(x, str) else None)
def test_the_rust_sdks_query_bodies_read_back_as_the_models_parameters(checker, service, body, params):
    op, _, read, found = query(service, body, checker)
    assert (read, found) == (params, [])
    assert checker.check(service, "POST", "/", dict(SIGNED), body.encode()) == (op, [])


def test_the_rust_sdks_lambda_and_json_requests_read_back(checker):
    body = (
        b'{"Code":{"ZipFile":"UEsDBA=="},"Environment":{"Variables":{"DB_HOST":"h"}},"FunctionName":"rl-fn",'
        b'"Handler":"lambda_function.lambda_handler","MemorySize":128,"Role":"arn:aws:iam::123456789012:role/r",'
        b'"Runtime":"python3.12","Tags":{"deploy:stack":"realism"},"Timeout":3,'
        b'"VpcConfig":{"SubnetIds":["subnet-0919d44f8f1ac2e94"],"SecurityGroupIds":["sg-cf82f69d4e9f162ca"]}}'
    )
    op, _, params, found = checker.read("lambda", "POST", "/2015-03-31/functions", {}, body)
    assert (op, found) == ("CreateFunction", []) and params["VpcConfig"]["SecurityGroupIds"] == ["sg-cf82f69d4e9f162ca"]
    arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn"
    op, _, params, found = checker.read("lambda", "GET", f"/2015-03-31/functions/{arn}/policy?Qualifier=3", {}, b"")
    assert (op, params, found) == (
        "GetPolicy", {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:fn", "Qualifier": "3"}, []
    )
    op, _, params, found = checker.read("lambda", "GET", "/2015-03-31/functions/?Marker=m&MaxItems=50", {}, b"")
    assert (op, params, found) == ("ListFunctions", {"Marker": "m", "MaxItems": 50}, [])
    op, _, _, found = checker.read("lambda", "GET", "/2015-03-31/functions/?Bogus=1", {}, b"")
    assert op == "ListFunctions" and [v.member for v in found] == ["?Bogus"]
    target = {"x-amz-target": "AWSCognitoIdentityProviderService.DescribeUserPool"}
    assert checker.check("cognito-idp", "POST", "/", target, b'{"UserPoolId":"us-east-1_abc"}') == ("DescribeUserPool", [])


# Each protocol's serializer in botocore is the reference for its wire form: what it writes, the
# reader must give back unchanged.
ROUND_TRIPS = [
    ("ec2", "AuthorizeSecurityGroupIngress", {
        "GroupId": "sg-1",
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
             "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "a"}, {"CidrIp": "10.1.0.0/16"}],
             "UserIdGroupPairs": [{"GroupId": "sg-2", "Description": "b"}]},
            {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        ],
    }),
    ("ec2", "ModifySecurityGroupRules", {
        "GroupId": "sg-1",
        "SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-1", "SecurityGroupRule": {
            "IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "ReferencedGroupId": "sg-2", "Description": "d"}}],
    }),
    ("ec2", "DescribeSecurityGroups", {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1", "vpc-2"]}], "MaxResults": 5}),
    ("rds", "ModifyDBInstance", {
        "DBInstanceIdentifier": "db", "VpcSecurityGroupIds": ["sg-1", "sg-2"], "ApplyImmediately": True,
        "EngineVersion": "16", "AllowMajorVersionUpgrade": True, "MaxAllocatedStorage": 100,
    }),
    ("rds", "DescribeDBEngineVersions", {"Engine": "postgres", "Filters": [{"Name": "status", "Values": ["available"]}]}),
    ("iam", "TagRole", {"RoleName": "r", "Tags": [{"Key": "k", "Value": "v"}]}),
    ("lambda", "UpdateFunctionConfiguration", {
        "FunctionName": "f", "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:l:1"], "MemorySize": 256,
        "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
    }),
    ("lambda", "RemovePermission", {"FunctionName": "f", "StatementId": "s1", "RevisionId": "r"}),
    ("cognito-idp", "UpdateUserPool", {
        "UserPoolId": "us-east-1_abc", "LambdaConfig": {"PostConfirmation": "arn:aws:lambda:us-east-1:123456789012:function:f"},
        "UserPoolTags": {"k": "v"},
    }),
    ("ssm", "PutParameter", {"Name": "/deploy/lock", "Value": "{}", "Type": "String", "Overwrite": False}),
    ("tagging", "GetResources", {"TagFilters": [{"Key": "deploy:stack", "Values": ["s"]}], "ResourceTypeFilters": ["rds:db"]}),
]


@pytest.mark.parametrize("service,op,params", ROUND_TRIPS, ids=[f"{s}.{o}" for s, o, _ in ROUND_TRIPS])
def test_what_botocore_serialises_reads_back_unchanged(checker, service, op, params):
    model = checker.model(service)
    protocol = "json" if service == "tagging" else model.protocol  # the SDKs use awsJson1.1 for it
    request = botocore.serialize.create_serializer(protocol, include_validation=False).serialize_to_request(
        params, model.operation_model(op)
    )
    body = request["body"]
    body = urllib.parse.urlencode(body).encode() if isinstance(body, dict) else (body or b"")
    body = body.encode() if isinstance(body, str) else body
    path = request["url_path"]
    if request["query_string"]:
        path += "?" + urllib.parse.urlencode(request["query_string"], doseq=True)
    headers = dict(SIGNED, **{k.lower(): v for k, v in request["headers"].items()})
    got_op, _, read, found = checker.read(service, request["method"], path, headers, body)
    assert (got_op, read, found) == (op, params, [])


def test_the_rules_botocore_leaves_to_the_server_and_those_it_checks(checker):
    def kinds(body, service="rds"):
        return sorted((v.kind, v.member) for v in checker.check(service, "POST", "/", dict(SIGNED), body.encode())[1])

    ok = "Action=CreateDBInstance&DBInstanceIdentifier=db&DBInstanceClass=c&Engine=postgres"
    assert kinds(ok) == []
    assert kinds("Action=CreateDBInstance&DBInstanceIdentifier=db&Engine=postgres") == [("missing", "DBInstanceClass")]
    assert kinds(ok + "&AllocatedStorage=twenty") == [("type", "AllocatedStorage")]
    assert kinds(ok + "&Bogus=1&Tags.member.1.Key=k") == [("unknown", "Bogus"), ("unknown", "Tags.member.1.Key")]
    assert kinds(ok + "&VpcSecurityGroupIds=") == []  # the query protocol's empty list
    assert kinds("Action=GetRole&RoleName=" + "r" * 65, "iam") == [("length", "RoleName")]
    assert kinds("Action=GetRole&RoleName=", "iam") == [("length", "RoleName"), ("pattern", "RoleName")]
    assert kinds("Action=GetRole&RoleName=a%20b", "iam") == [("pattern", "RoleName")]
    assert kinds("Action=ListRoles&MaxItems=1001", "iam") == [("range", "MaxItems")]
    ingress = "Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.FromPort=x"
    assert kinds(ingress, "ec2") == [("type", "IpPermissions[0].FromPort")]
    assert kinds("Action=NoSuchCall", "ec2") == [("unknown", "NoSuchCall")]


def test_secrets_never_reach_a_message(checker):
    body = b"Action=CreateDBInstance&DBInstanceIdentifier=db&DBInstanceClass=c&Engine=postgres&MasterUserPassword.x=hunter2"
    _, found = checker.check("rds", "POST", "/", dict(SIGNED), body)
    assert found and all("hunter2" not in v.message() for v in found)
    v = conformance.Violation("pattern", "MasterUserPassword", "Member must ...", conformance.shown("MasterUserPassword", "hunter2", None))
    assert "hunter2" not in v.message() and "***" in v.message()


def test_every_pattern_of_the_checked_models_compiles(checker):
    for service in conformance.BOTOCORE_NAME:
        model = checker.model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                checker.compile_pattern(pattern)
    assert checker.patterns_skipped == set()


def test_an_allowed_finding_is_let_through_with_its_reason(monkeypatch):
    v = conformance.Violation("enum", "Engine", "Member must satisfy enum value set: [...]", "x")
    assert conformance.allowed("rds", "CreateDBInstance", v) is None
    monkeypatch.setitem(conformance.ALLOWED, ("rds", "CreateDBInstance", r"Engine", "enum"), "the model lags the SDK")
    assert conformance.allowed("rds", "CreateDBInstance", v) == "the model lags the SDK"
    assert conformance.allowed("rds", "ModifyDBInstance", v) is None
