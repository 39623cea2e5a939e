"""The fidelity proxy (tests/support/fidelity_proxy.py) in front of a private moto server, checked
with boto3 the way an AWS client sees it: each realism behaviour and each fault, with short times.

One moto and one in-process proxy serve the whole module; each test resets moto and sets the
proxy's options from scratch. One test starts the proxy as a program, as the Rust tests do.
"""

import base64
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers
import pytest

REPO = Path(__file__).resolve().parents[2]
PROXY_FILE = REPO / "tests" / "support" / "fidelity_proxy.py"

spec = importlib.util.spec_from_file_location("fidelity_proxy", PROXY_FILE)
fp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fp)

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_server_bin():
    if os.environ.get("MOTO_SERVER_BIN"):
        return os.environ["MOTO_SERVER_BIN"]
    return str(Path(sys.executable).parent / "moto_server")


def wait_http(url, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answered at {url}")


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    proc = subprocess.Popen(
        [moto_server_bin(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/moto-api/")
        yield url
    finally:
        proc.kill()  # a throwaway server: SIGTERM costs moto two seconds
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(moto_url, tmp_path_factory):
    defaults = {k: v[0] for k, v in fp.OPTIONS.items()}
    srv = fp.Server(("127.0.0.1", 0), ("127.0.0.1", int(moto_url.rsplit(":", 1)[1])), fp.World(defaults))
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


class Proxy:
    def __init__(self, srv, moto_url, log):
        self.srv = srv
        self.url = f"http://127.0.0.1:{srv.server_address[1]}"
        self.moto_url = moto_url
        self.log_path = log
        self._clients = {}

    def set(self, **opts):
        world = self.srv.world
        with world.lock:
            world.opts = {k: v[0] for k, v in fp.OPTIONS.items()}
            world.opts["log"] = str(self.log_path)
            world.counts = {k: 0 for k in fp.FAULTS}
            world.reset_state()
        world.configure(opts)
        world.rng = fp.random.Random(world.opts["seed"])
        if self.log_path.exists():
            self.log_path.unlink()

    def client(self, service, attempts=1, read_timeout=20):
        key = (service, attempts, read_timeout)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,
                endpoint_url=self.url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=botocore.config.Config(
                    retries={"mode": "standard", "total_max_attempts": attempts},
                    read_timeout=read_timeout,
                    connect_timeout=5,
                ),
            )
        return self._clients[key]

    def direct(self, service):
        """A client that talks to moto itself, bypassing the proxy."""
        key = ("direct", service)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,
                endpoint_url=self.moto_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._clients[key]

    def log(self):
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]


@pytest.fixture(scope="module")
def _proxy(server, moto_url, tmp_path_factory):
    return Proxy(server, moto_url, tmp_path_factory.mktemp("fidelity") / "requests.jsonl")


@pytest.fixture
def proxy(_proxy):
    urllib.request.urlopen(urllib.request.Request(_proxy.moto_url + "/moto-api/reset", method="POST")).read()
    if _proxy.log_path.exists():
        _proxy.log_path.unlink()
    _proxy.set()
    return _proxy


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(*args, **kwargs)
    err = e.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def zipped():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.py", "def h(e, c):\n    return 1\n")
    return buf.getvalue()


def role_arn(proxy, name="fn-role"):
    return proxy.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def create_function(proxy, name, role, groups=()):
    kwargs = {}
    if groups:
        kwargs["VpcConfig"] = {"SubnetIds": ["subnet-12345678"], "SecurityGroupIds": list(groups)}
    return proxy.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Handler="a.h", Role=role, Code={"ZipFile": zipped()}, **kwargs
    )


def create_db(proxy, name="db1", groups=()):
    kwargs = {"VpcSecurityGroupIds": list(groups)} if groups else {}
    return proxy.client("rds").create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="root",
        MasterUserPassword="not-a-secret-1",
        **kwargs,
    )["DBInstance"]


def db_status(proxy, name="db1"):
    d = proxy.client("rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return d["DBInstanceStatus"], d


# ------------------------------------------------------------------------------------------------


def test_program_prints_its_url_reads_a_config_file_and_adds_latency(moto_url, tmp_path):
    config = tmp_path / "opts.json"
    config.write_text(json.dumps({"log": str(tmp_path / "log.jsonl")}))
    proc = subprocess.Popen(
        [sys.executable, str(PROXY_FILE), "--upstream", moto_url, "--config", str(config), "--latency-ms", "50"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        ec2 = boto3.client(
            "ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
        )
        ec2.describe_vpcs()
        started = time.monotonic()
        assert ec2.describe_vpcs()["Vpcs"]
        assert time.monotonic() - started >= 0.05
        opts = json.load(urllib.request.urlopen(url + "/__fidelity__"))["options"]
        assert opts["latency_ms"] == 50 and opts["log"] == str(tmp_path / "log.jsonl")
        records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
        assert [(r["service"], r["operation"], r["status"]) for r in records] == [("ec2", "DescribeVpcs", 200)] * 2
        assert all(r["ms"] >= 50 and r["end"] >= r["start"] for r in records)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_control_endpoint_changes_options_and_refuses_unknown_ones(proxy):
    req = urllib.request.Request(
        proxy.url + "/__fidelity__", data=json.dumps({"throttle_rate": 1.0}).encode(), method="POST"
    )
    assert json.load(urllib.request.urlopen(req))["options"]["throttle_rate"] == 1.0
    assert error_of(proxy.client("ec2").describe_vpcs)[0] == "RequestLimitExceeded"
    bad = urllib.request.Request(proxy.url + "/__fidelity__", data=b'{"throttle_rat": 1}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad)
    assert e.value.code == 400 and "throttle_rat" in e.value.read().decode()


def test_the_log_names_service_and_operation_of_every_protocol(proxy):
    proxy.client("ec2").describe_security_groups()
    proxy.client("rds").describe_db_instances()
    role = role_arn(proxy)
    proxy.client("sts").get_caller_identity()
    create_function(proxy, "fn1", role)
    proxy.client("lambda").get_function_configuration(FunctionName="fn1")
    proxy.client("lambda").list_functions()
    proxy.client("lambda").publish_layer_version(LayerName="l1", Content={"ZipFile": zipped()})
    proxy.client("cognito-idp").list_user_pools(MaxResults=10)
    proxy.client("ssm").put_parameter(Name="/deploy/lock", Value="x", Type="String")
    ops = [(r["service"], r["operation"], r["status"]) for r in proxy.log()]
    assert ops == [
        ("ec2", "DescribeSecurityGroups", 200),
        ("rds", "DescribeDBInstances", 200),
        ("iam", "CreateRole", 200),
        ("sts", "GetCallerIdentity", 200),
        ("lambda", "CreateFunction", 201),
        ("lambda", "GetFunctionConfiguration", 200),
        ("lambda", "ListFunctions", 200),
        ("lambda", "PublishLayerVersion", 201),
        ("cognito-idp", "ListUserPools", 200),
        ("ssm", "PutParameter", 200),
    ]


def test_off_by_default_moto_answers_as_itself(proxy):
    assert create_db(proxy)["DBInstanceStatus"] == "available"
    role = role_arn(proxy)
    assert create_function(proxy, "fn1", role)["State"] == "Active"
    assert all(r["realism"] is None and r["fault"] is None for r in proxy.log())


# --- RDS -----------------------------------------------------------------------------------------


def test_rds_create_goes_creating_then_backing_up_then_available(proxy):
    proxy.set(rds=True, rds_creating_s=0.4, rds_backing_up_s=0.4)
    created = create_db(proxy)
    assert created["DBInstanceStatus"] == "creating" and "Endpoint" not in created
    status, d = db_status(proxy)
    assert status == "creating" and "Endpoint" not in d
    listed = proxy.client("rds").describe_db_instances()["DBInstances"]
    assert [(i["DBInstanceStatus"], "Endpoint" in i) for i in listed] == [("creating", False)]
    code, http, message = error_of(
        proxy.client("rds").modify_db_instance, DBInstanceIdentifier="db1", AllocatedStorage=30, ApplyImmediately=True
    )
    assert (code, http) == ("InvalidDBInstanceState", 400), message
    d = until(lambda: db_status(proxy)[0] == "backing-up" and db_status(proxy)[1])
    assert d["Endpoint"]["Address"]
    until(lambda: db_status(proxy)[0] == "available")
    proxy.client("rds").get_waiter("db_instance_available").wait(
        DBInstanceIdentifier="db1", WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )


def test_rds_modify_stop_and_start_pass_through_their_states_and_refuse_the_wrong_ones(proxy):
    proxy.set(rds=True, rds_creating_s=0, rds_backing_up_s=0, rds_modifying_s=0.3, rds_stopping_s=0.3, rds_starting_s=0.3)
    rds = proxy.client("rds")
    create_db(proxy)
    rds.modify_db_instance(DBInstanceIdentifier="db1", AllocatedStorage=30, ApplyImmediately=True)
    assert db_status(proxy)[0] == "modifying"
    assert error_of(rds.stop_db_instance, DBInstanceIdentifier="db1")[:2] == ("InvalidDBInstanceState", 400)
    until(lambda: db_status(proxy)[0] == "available")

    rds.stop_db_instance(DBInstanceIdentifier="db1")
    assert db_status(proxy)[0] == "stopping"
    code, http, message = error_of(rds.start_db_instance, DBInstanceIdentifier="db1")
    assert (code, http) == ("InvalidDBInstanceState", 400) and "cannot be started" in message
    until(lambda: db_status(proxy)[0] == "stopped")
    assert error_of(rds.modify_db_instance, DBInstanceIdentifier="db1", AllocatedStorage=40)[0] == (
        "InvalidDBInstanceState"
    )

    rds.start_db_instance(DBInstanceIdentifier="db1")
    assert db_status(proxy)[0] == "starting"
    assert error_of(rds.start_db_instance, DBInstanceIdentifier="db1")[0] == "InvalidDBInstanceState"
    until(lambda: db_status(proxy)[0] == "available")
    assert any(r["realism"] and "InvalidDBInstanceState" in r["realism"] for r in proxy.log())


def test_a_storage_change_is_followed_by_storage_optimization_which_refuses_stop_and_storage_changes(proxy):
    proxy.set(rds=True, rds_creating_s=0, rds_backing_up_s=0, rds_modifying_s=0.2, rds_storage_optimization_s=0.8)
    rds = proxy.client("rds")
    create_db(proxy)
    rds.modify_db_instance(DBInstanceIdentifier="db1", StorageType="gp3", ApplyImmediately=True)
    until(lambda: db_status(proxy)[0] == "storage-optimization")
    code, http, message = error_of(rds.stop_db_instance, DBInstanceIdentifier="db1")
    assert (code, http) == ("InvalidDBInstanceState", 400) and "not in available state" in message
    code, http, message = error_of(
        rds.modify_db_instance, DBInstanceIdentifier="db1", AllocatedStorage=30, ApplyImmediately=True
    )
    assert (code, http) == ("InvalidParameterCombination", 400) and "being optimized" in message
    # Anything but storage may change meanwhile, and the optimization goes on after it.
    rds.modify_db_instance(DBInstanceIdentifier="db1", DBInstanceClass="db.t3.small", ApplyImmediately=True)
    assert db_status(proxy)[0] == "modifying"
    until(lambda: db_status(proxy)[0] == "storage-optimization")
    until(lambda: db_status(proxy)[0] == "available")
    rds.stop_db_instance(DBInstanceIdentifier="db1")
    assert any(r["realism"] == "rds:InvalidParameterCombination (storage-optimization)" for r in proxy.log())


def test_a_stopped_instance_cannot_be_modified_even_to_drop_its_protection(proxy):
    # rds_lazy_s=0: the protection shows at once (the lazy display has a test of its own).
    proxy.set(rds=True, rds_creating_s=0, rds_backing_up_s=0, rds_modifying_s=0, rds_stopping_s=0.1, rds_lazy_s=0)
    rds = proxy.client("rds")
    create_db(proxy)
    rds.modify_db_instance(DBInstanceIdentifier="db1", DeletionProtection=True, ApplyImmediately=True)
    until(lambda: db_status(proxy)[0] == "available")
    rds.stop_db_instance(DBInstanceIdentifier="db1")
    until(lambda: db_status(proxy)[0] == "stopped")
    code, http, _ = error_of(rds.modify_db_instance, DBInstanceIdentifier="db1", DeletionProtection=False)
    assert (code, http) == ("InvalidDBInstanceState", 400)
    assert db_status(proxy)[1]["DeletionProtection"] is True


def test_lazy_fields_keep_their_old_values_for_a_while_and_never_show_as_pending(proxy):
    proxy.set(rds=True, rds_creating_s=0, rds_backing_up_s=0, rds_modifying_s=0, rds_lazy_s=0.8)
    rds = proxy.client("rds")
    create_db(proxy)
    d = db_status(proxy)[1]
    # Performance Insights is reported on every instance, as RDS does (moto reports it on none).
    assert (d["PerformanceInsightsEnabled"], d.get("PubliclyAccessible", False), d["DeletionProtection"]) == (False, False, False)
    assert "PerformanceInsightsRetentionPeriod" not in d
    rds.modify_db_instance(
        DBInstanceIdentifier="db1",
        PubliclyAccessible=True,
        DeletionProtection=True,
        EnablePerformanceInsights=True,
        PerformanceInsightsRetentionPeriod=7,
        ApplyImmediately=True,
    )
    d = db_status(proxy)[1]
    assert (d["PerformanceInsightsEnabled"], d.get("PubliclyAccessible", False), d["DeletionProtection"]) == (False, False, False)
    assert d["DBInstanceStatus"] == "available" and not d.get("PendingModifiedValues")
    # Still protected as far as RDS is concerned: a delete that follows at once is refused.
    assert proxy.direct("rds").describe_db_instances()["DBInstances"][0]["DeletionProtection"] is True
    d = until(lambda: db_status(proxy)[1]["DeletionProtection"] and db_status(proxy)[1])
    assert (d["PerformanceInsightsEnabled"], d["PerformanceInsightsRetentionPeriod"], d["PubliclyAccessible"]) == (True, 7, True)
    rds.modify_db_instance(DBInstanceIdentifier="db1", DeletionProtection=False, ApplyImmediately=True)
    code, http, message = error_of(rds.delete_db_instance, DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    assert (code, http) == ("InvalidParameterCombination", 400) and "protected" in message
    until(lambda: db_status(proxy)[1]["DeletionProtection"] is False)
    rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    assert any((r["realism"] or "").startswith("rds:lazy") for r in proxy.log())


def test_a_deleted_instance_stays_listed_as_deleting_with_its_groups(proxy):
    proxy.set(rds=True, rds_creating_s=0, rds_backing_up_s=0, rds_deleting_s=0.6)
    sg = proxy.client("ec2").create_security_group(GroupName="db-sg", Description="d")["GroupId"]
    rds = proxy.client("rds")
    create_db(proxy, groups=[sg])
    rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    assert proxy.direct("rds").describe_db_instances()["DBInstances"] == []  # moto forgot it at once
    status, d = db_status(proxy)
    assert status == "deleting"
    assert [g["VpcSecurityGroupId"] for g in d["VpcSecurityGroups"]] == [sg]
    assert [i["DBInstanceStatus"] for i in rds.describe_db_instances()["DBInstances"]] == ["deleting"]
    filtered = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": ["db1"]}])
    assert [i["DBInstanceIdentifier"] for i in filtered["DBInstances"]] == ["db1"]
    code, _, message = error_of(rds.delete_db_instance, DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    assert code == "InvalidDBInstanceState" and "already being deleted" in message
    assert error_of(rds.stop_db_instance, DBInstanceIdentifier="db1")[0] == "InvalidDBInstanceState"
    assert error_of(create_db, proxy)[:2] == ("DBInstanceAlreadyExists", 400)  # the name is still taken
    until(lambda: rds.describe_db_instances()["DBInstances"] == [])
    assert error_of(rds.describe_db_instances, DBInstanceIdentifier="db1")[0] == "DBInstanceNotFound"


def post_control(proxy, path, body):
    req = urllib.request.Request(proxy.url + path, data=json.dumps(body).encode(), method="POST")
    return json.load(urllib.request.urlopen(req))


def create_pg(proxy, name, version=None):
    kwargs = {"EngineVersion": version} if version is not None else {}
    return proxy.client("rds").create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="root",
        MasterUserPassword="not-a-secret-1",
        **kwargs,
    )["DBInstance"]


def test_rds_versions_lists_what_rds_creates_refuses_the_rest_and_resolves_a_major(proxy):
    proxy.set(rds_versions=True, rds_available="15.13,16.9,16.10,16.11,17.5,17.6")
    rds = proxy.client("rds")
    # moto alone answers a 500; through the proxy, the listed versions, paged.
    listed = rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    assert [v["EngineVersion"] for v in listed] == ["15.13", "16.9", "16.10", "16.11", "17.5", "17.6"]
    assert {v["Status"] for v in listed} == {"available"}
    assert listed[1]["MajorEngineVersion"] == "16" and listed[1]["DBParameterGroupFamily"] == "postgres16"
    pages = rds.get_paginator("describe_db_engine_versions").paginate(
        Engine="postgres", PaginationConfig={"PageSize": 20}
    )
    assert sum(len(p["DBEngineVersions"]) for p in pages) == 6
    only = rds.describe_db_engine_versions(Engine="postgres", EngineVersion="16", DefaultOnly=True)
    assert [v["EngineVersion"] for v in only["DBEngineVersions"]] == ["16.11"]
    # A retired minor is refused as RDS refuses it, before moto sees the call.
    code, status, message = error_of(create_pg, proxy, "old", "16.4")
    assert (code, status, message) == ("InvalidParameterCombination", 400, "Cannot find version 16.4 for postgres")
    assert error_of(create_pg, proxy, "gone", "12")[0] == "InvalidParameterCombination"
    assert not proxy.direct("rds").describe_db_instances()["DBInstances"]
    # A major alone creates the major's default minor; no version, the newest major's.
    assert create_pg(proxy, "major", "16")["EngineVersion"] == "16.11"
    assert create_pg(proxy, "exact", "16.9")["EngineVersion"] == "16.9"
    assert create_pg(proxy, "none")["EngineVersion"] == "17.6"
    versions = {d["DBInstanceIdentifier"]: d["EngineVersion"] for d in rds.describe_db_instances()["DBInstances"]}
    assert versions == {"major": "16.11", "exact": "16.9", "none": "17.6"}


def test_rds_upgrades_a_minor_by_itself_until_a_modify_sets_the_version(proxy):
    proxy.set(rds_versions=True, rds_available="16.9,16.10,16.11,17.6")
    rds = proxy.client("rds")
    create_pg(proxy, "db1", "16.9")
    post_control(proxy, "/__fidelity__/rds-upgrade", {"id": "DB1", "engine_version": "16.11"})
    inst = rds.describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]
    assert inst["EngineVersion"] == "16.11"
    assert proxy.log()[-1]["realism"] == "rds:upgraded to 16.11"
    # moto itself still holds the version it was created with: the upgrade is what AWS shows.
    assert proxy.direct("rds").describe_db_instances()["DBInstances"][0]["EngineVersion"] == "16.9"
    # A major upgrade the user asks for replaces what RDS did; a major alone resolves.
    out = rds.modify_db_instance(
        DBInstanceIdentifier="db1", EngineVersion="17", AllowMajorVersionUpgrade=True, ApplyImmediately=True
    )["DBInstance"]
    assert rds.describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]["EngineVersion"] == "17.6"
    assert out["DBInstanceIdentifier"] == "db1"
    bad = urllib.request.Request(proxy.url + "/__fidelity__/rds-upgrade", data=b'{"id": "db1"}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad)
    assert e.value.code == 400


def test_rds_versions_off_leaves_engine_versions_to_moto(proxy):
    rds = proxy.client("rds")
    # moto answers an HTML 500 page, which botocore cannot even parse.
    with pytest.raises((botocore.exceptions.ClientError, botocore.parsers.ResponseParserError)):
        rds.describe_db_engine_versions(Engine="postgres")
    assert proxy.log()[-1]["status"] == 500
    assert create_pg(proxy, "db1", "16.4")["EngineVersion"] == "16.4"


# --- Lambda and IAM ------------------------------------------------------------------------------


def test_lambda_pending_after_create_and_in_progress_after_updates(proxy):
    proxy.set(**{"lambda": True, "lambda_pending_s": 0.4, "lambda_updating_s": 0.4})
    lam = proxy.client("lambda")
    role = role_arn(proxy)
    assert create_function(proxy, "fn1", role)["State"] == "Pending"
    assert lam.get_function(FunctionName="fn1")["Configuration"]["State"] == "Pending"
    cfg = lam.get_function_configuration(FunctionName="fn1")
    assert (cfg["State"], cfg["StateReasonCode"]) == ("Pending", "Creating")
    # As in AWS, ListFunctions carries no state at all.
    assert "State" not in lam.list_functions()["Functions"][0]
    code, http, message = error_of(lam.update_function_configuration, FunctionName="fn1", MemorySize=256)
    assert (code, http) == ("ResourceConflictException", 409) and "Pending" in message
    lam.get_waiter("function_active_v2").wait(FunctionName="fn1", WaiterConfig={"Delay": 0.1, "MaxAttempts": 20})

    updated = lam.update_function_configuration(FunctionName="fn1", MemorySize=256)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert lam.get_function_configuration(FunctionName="fn1")["LastUpdateStatus"] == "InProgress"
    code, http, message = error_of(lam.update_function_code, FunctionName="fn1", ZipFile=zipped())
    assert (code, http) == ("ResourceConflictException", 409) and "update is in progress" in message
    until(lambda: lam.get_function_configuration(FunctionName="fn1")["LastUpdateStatus"] == "Successful")
    lam.update_function_code(FunctionName="fn1", ZipFile=zipped())


def test_a_young_role_cannot_be_assumed_by_lambda(proxy):
    proxy.set(iam=True, iam_role_delay_s=0.5)
    role = role_arn(proxy)
    code, http, message = error_of(create_function, proxy, "fn1", role)
    assert (code, http) == ("InvalidParameterValueException", 400)
    assert message == "The role defined for the function cannot be assumed by Lambda."
    assert proxy.direct("lambda").list_functions()["Functions"] == []  # refused before moto saw it
    time.sleep(0.5)
    create_function(proxy, "fn1", role)
    other = role_arn(proxy, "other-role")
    code, _, _ = error_of(proxy.client("lambda").update_function_configuration, FunctionName="fn1", Role=other)
    assert code == "InvalidParameterValueException"


def test_minimum_refusals_hold_however_late_the_call_comes(proxy):
    proxy.set(iam=True, iam_role_delay_s=0, iam_min_refusals=2, ec2=True, ec2_eni_release_s=0, ec2_min_refusals=1)
    role = role_arn(proxy)
    for _ in range(2):
        assert error_of(create_function, proxy, "fn1", role)[0] == "InvalidParameterValueException"
    sg = proxy.client("ec2").create_security_group(GroupName="g", Description="d")["GroupId"]
    create_function(proxy, "fn1", role, groups=[sg])
    proxy.client("lambda").delete_function(FunctionName="fn1")
    assert error_of(proxy.client("ec2").delete_security_group, GroupId=sg)[0] == "DependencyViolation"
    proxy.client("ec2").delete_security_group(GroupId=sg)


# --- EC2 -----------------------------------------------------------------------------------------


def test_a_group_used_by_a_function_is_held_until_its_network_interfaces_are_released(proxy):
    proxy.set(ec2=True, ec2_eni_release_s=0.6)
    ec2 = proxy.client("ec2")
    sg = ec2.create_security_group(GroupName="fn-sg", Description="d")["GroupId"]
    role = role_arn(proxy)
    create_function(proxy, "fn1", role, groups=[sg])
    code, http, message = error_of(ec2.delete_security_group, GroupId=sg)
    assert (code, http, message) == ("DependencyViolation", 400, f"resource {sg} has a dependent object")
    proxy.client("lambda").delete_function(FunctionName="fn1")
    assert error_of(ec2.delete_security_group, GroupName="fn-sg")[0] == "DependencyViolation"
    until(lambda: not error_or_none(ec2.delete_security_group, GroupId=sg), timeout=3)
    assert not any(g["GroupId"] == sg for g in ec2.describe_security_groups()["SecurityGroups"])
    assert [r["realism"] for r in proxy.log() if r["operation"] == "DeleteSecurityGroup"][0].startswith(
        "ec2:dependency (function fn1)"
    )


def test_moving_a_function_off_a_group_holds_the_group_for_a_while(proxy):
    proxy.set(ec2=True, ec2_eni_release_s=0.5)
    ec2 = proxy.client("ec2")
    old = ec2.create_security_group(GroupName="old", Description="d")["GroupId"]
    new = ec2.create_security_group(GroupName="new", Description="d")["GroupId"]
    create_function(proxy, "fn1", role_arn(proxy), groups=[old])
    proxy.client("lambda").update_function_configuration(
        FunctionName="fn1", VpcConfig={"SubnetIds": ["subnet-12345678"], "SecurityGroupIds": [new]}
    )
    assert error_of(ec2.delete_security_group, GroupId=old)[0] == "DependencyViolation"
    until(lambda: not error_or_none(ec2.delete_security_group, GroupId=old), timeout=3)


def test_a_group_referenced_by_another_groups_rule_or_used_by_an_instance_cannot_go(proxy):
    proxy.set(ec2=True, rds=True, rds_creating_s=0, rds_backing_up_s=0, rds_deleting_s=0.5)
    ec2 = proxy.client("ec2")
    src = ec2.create_security_group(GroupName="src", Description="d")["GroupId"]
    dst = ec2.create_security_group(GroupName="dst", Description="d")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=dst, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": src}]}]
    )
    assert error_of(ec2.delete_security_group, GroupId=src)[0] == "DependencyViolation"
    create_db(proxy, groups=[dst])
    assert error_of(ec2.delete_security_group, GroupId=dst)[0] == "DependencyViolation"
    proxy.client("rds").delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    assert error_of(ec2.delete_security_group, GroupId=dst)[0] == "DependencyViolation"  # still deleting
    until(lambda: not error_or_none(ec2.delete_security_group, GroupId=dst), timeout=3)
    ec2.delete_security_group(GroupId=src)  # its only user is gone

    eni_sg = ec2.create_security_group(GroupName="eni", Description="d")["GroupId"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[eni_sg])["NetworkInterface"]["NetworkInterfaceId"]
    assert error_of(ec2.delete_security_group, GroupId=eni_sg)[0] == "DependencyViolation"
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_security_group(GroupId=eni_sg)


def error_or_none(call, **kwargs):
    try:
        call(**kwargs)
        return None
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


# --- Faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "service,call,code,status",
    [
        ("ec2", lambda c: c.describe_vpcs(), "RequestLimitExceeded", 503),
        ("rds", lambda c: c.describe_db_instances(), "Throttling", 400),
        ("iam", lambda c: c.list_roles(), "Throttling", 400),
        ("lambda", lambda c: c.list_functions(), "TooManyRequestsException", 429),
        ("cognito-idp", lambda c: c.list_user_pools(MaxResults=5), "TooManyRequestsException", 400),
        ("ssm", lambda c: c.describe_parameters(), "ThrottlingException", 400),
    ],
)
def test_throttling_uses_each_services_own_code_and_status(proxy, service, call, code, status):
    proxy.set(throttle_rate=1.0)
    assert error_of(call, proxy.client(service))[:2] == (code, status)
    assert [r["fault"] for r in proxy.log()] == ["throttle"]


def test_a_token_bucket_meters_mutating_calls_apart_and_refills(proxy):
    # EC2 "Request throttling": mutating actions share one bucket; Describe* have their own.
    proxy.set(bucket_ec2_mutating="3/2")
    ec2 = proxy.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]

    def create(i):
        return ec2.create_security_group(GroupName=f"b{i}", Description="d", VpcId=vpc)

    for i in range(3):
        create(i)
    assert error_of(create, 3)[:2] == ("RequestLimitExceeded", 503)
    # A throttled call takes no token; reads are not metered by the mutating bucket.
    assert error_of(create, 3)[:2] == ("RequestLimitExceeded", 503)
    for _ in range(5):
        ec2.describe_security_groups()
    time.sleep(0.6)  # refill: 2 a second, so one token
    create(3)
    assert error_of(create, 4)[0] == "RequestLimitExceeded"
    throttled = [r for r in proxy.log() if r["fault"] == "throttle"]
    assert len(throttled) == 3
    assert {r["realism"] for r in throttled} == {"bucket:ec2_mutating"}
    assert all(r["operation"] == "CreateSecurityGroup" for r in throttled)


def test_the_non_mutating_bucket_and_other_services_and_bad_values(proxy):
    proxy.set(bucket_ec2_other="2/0.1", bucket_lambda_mutating="1/0.1")
    ec2 = proxy.client("ec2")
    ec2.describe_vpcs()
    ec2.describe_subnets()
    assert error_of(ec2.describe_vpcs)[:2] == ("RequestLimitExceeded", 503)
    lam = proxy.client("lambda")
    lam.list_functions()  # reads are not in the mutating bucket
    lam.list_functions()
    with pytest.raises(ValueError):
        fp.check_options({"bucket_ec2_mutating": "20"})
    with pytest.raises(ValueError):
        fp.check_options({"bucket_ec2_mutating": "0/5"})
    assert fp.parse_bucket("20/5") == (20.0, 5.0)


@pytest.mark.parametrize(
    "service,call,code",
    [
        ("ec2", lambda c: c.describe_vpcs(), "InternalError"),
        ("rds", lambda c: c.describe_db_instances(), "InternalFailure"),
        ("lambda", lambda c: c.list_functions(), "ServiceException"),
        ("cognito-idp", lambda c: c.list_user_pools(MaxResults=5), "InternalErrorException"),
    ],
)
def test_500s_carry_the_services_error_code(proxy, service, call, code):
    proxy.set(error_rate=1.0)
    assert error_of(call, proxy.client(service))[:2] == (code, 500)


def test_faults_follow_the_rate_and_seed_and_stop_at_their_maximum(proxy):
    def schedule():
        proxy.set(error_rate=0.5, seed=7, fault_match=r"^ec2\.DescribeVpcs$")
        ec2 = proxy.client("ec2")
        return [error_or_none(ec2.describe_vpcs) for _ in range(20)]

    first = schedule()
    assert 4 <= first.count("InternalError") <= 16
    assert schedule() == first
    proxy.client("ec2").describe_subnets()  # not matched: never faulted
    assert proxy.log()[-1]["fault"] is None

    proxy.set(throttle_rate=1.0, throttle_max=2)
    ec2 = proxy.client("ec2")
    assert [error_or_none(ec2.describe_vpcs) for _ in range(3)] == ["RequestLimitExceeded"] * 2 + [None]
    assert [r["fault"] for r in proxy.log()] == ["throttle", "throttle", None]


def test_a_lost_answer_means_aws_acted_but_the_client_never_heard(proxy):
    proxy.set(lose_rate=1.0, lose_match="CreateSecurityGroup")
    with pytest.raises((botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        proxy.client("ec2").create_security_group(GroupName="lost", Description="d")
    names = [g["GroupName"] for g in proxy.direct("ec2").describe_security_groups()["SecurityGroups"]]
    assert "lost" in names
    assert [(r["operation"], r["status"], r["fault"]) for r in proxy.log()] == [("CreateSecurityGroup", None, "lost")]
    proxy.client("ec2").describe_vpcs()  # other calls are answered


def test_a_stalled_answer_outlasts_the_client_timeout(proxy):
    proxy.set(stall_rate=1.0, stall_s=1.0, stall_max=1)
    started = time.monotonic()
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        proxy.client("ec2", read_timeout=0.3).create_security_group(GroupName="slow", Description="d")
    assert time.monotonic() - started < 0.9
    until(lambda: proxy.log())  # logged when the stall ends
    assert proxy.log()[0]["fault"] == "stall" and proxy.log()[0]["ms"] >= 1000
    names = [g["GroupName"] for g in proxy.direct("ec2").describe_security_groups()["SecurityGroups"]]
    assert "slow" in names


# --- moto's own bugs, corrected ------------------------------------------------------------------


def test_cognito_username_attributes_stay_as_created_across_an_update(proxy):
    idp = proxy.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]["Id"]
    idp.update_user_pool(UserPoolId=pool, AutoVerifiedAttributes=["email"])
    # moto itself forgets them on the update...
    assert "UsernameAttributes" not in idp.describe_user_pool(UserPoolId=pool)["UserPool"]
    # ...and with the correction on, DescribeUserPool reports them as AWS does.
    proxy.set(cognito=True)
    pool2 = idp.create_user_pool(PoolName="p2", UsernameAttributes=["email"])["UserPool"]["Id"]
    idp.update_user_pool(UserPoolId=pool2, AutoVerifiedAttributes=["email"])
    assert idp.describe_user_pool(UserPoolId=pool2)["UserPool"]["UsernameAttributes"] == ["email"]


def test_modified_group_rule_description_shows_in_describe_security_groups(proxy):
    ec2 = proxy.client("ec2")
    db = ec2.create_security_group(GroupName="db", Description="d")["GroupId"]
    app = ec2.create_security_group(GroupName="app", Description="a")["GroupId"]
    perm = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}
    rule = ec2.authorize_security_group_ingress(
        GroupId=db, IpPermissions=[{**perm, "UserIdGroupPairs": [{"GroupId": app, "Description": "OLD"}]}]
    )["SecurityGroupRules"][0]["SecurityGroupRuleId"]

    def modify_and_describe(desc):
        ec2.modify_security_group_rules(
            GroupId=db,
            SecurityGroupRules=[
                {"SecurityGroupRuleId": rule, "SecurityGroupRule": {**perm, "ReferencedGroupId": app, "Description": desc}}
            ],
        )
        group = ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]
        return [p["Description"] for ip in group["IpPermissions"] for p in ip["UserIdGroupPairs"]]

    # moto itself keeps the old description in this view...
    assert modify_and_describe("NEW") == ["OLD"]
    # ...and with the correction on, it shows the new one, as AWS does.
    proxy.set(ec2_rules=True)
    assert modify_and_describe("NEWER") == ["NEWER"]
    # A revoke by permission needs no description (moto wants it; the proxy adds it).
    ec2.revoke_security_group_ingress(GroupId=db, IpPermissions=[{**perm, "UserIdGroupPairs": [{"GroupId": app}]}])
    assert ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]["IpPermissions"] == []


def test_small_pages_for_list_calls_moto_does_and_does_not_paginate(proxy):
    ec2, lam, idp = proxy.client("ec2"), proxy.client("lambda"), proxy.client("cognito-idp")
    role = role_arn(proxy)
    groups = [ec2.create_security_group(GroupName=f"g{i}", Description="d")["GroupId"] for i in range(7)]
    for i in range(5):
        ec2.authorize_security_group_ingress(
            GroupId=groups[0],
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1000 + i, "ToPort": 1000 + i, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
        )
    for i in range(5):
        create_function(proxy, f"f{i}", role)
    for i in range(5):
        idp.create_user_pool(PoolName=f"p{i}")
    all_groups = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    all_rules = {r["SecurityGroupRuleId"] for r in ec2.describe_security_group_rules()["SecurityGroupRules"]}
    proxy.set(page_size=2)

    def pages(paginator, key, **kwargs):
        got = [page[key] for page in paginator.paginate(**kwargs)]
        return len(got), [x for page in got for x in page]

    n, items = pages(ec2.get_paginator("describe_security_groups"), "SecurityGroups")
    assert n > 1 and {g["GroupId"] for g in items} == all_groups and len(items) == len(all_groups)
    n, items = pages(ec2.get_paginator("describe_security_group_rules"), "SecurityGroupRules")
    assert n > 1 and {r["SecurityGroupRuleId"] for r in items} == all_rules
    n, items = pages(lam.get_paginator("list_functions"), "Functions")
    assert n == 3 and sorted(f["FunctionName"] for f in items) == [f"f{i}" for i in range(5)]
    n, items = pages(idp.get_paginator("list_user_pools"), "UserPools", MaxResults=60)
    assert n == 3 and sorted(p["Name"] for p in items) == [f"p{i}" for i in range(5)]


def test_ec2_refuses_names_and_descriptions_outside_its_character_set(proxy):
    proxy.set(ec2=True)
    ec2 = proxy.client("ec2")
    code, _, message = error_of(ec2.create_security_group, GroupName="db", Description="Andrew's db")
    assert code == "InvalidParameterValue" and "GroupDescription" in message
    assert error_of(ec2.create_security_group, GroupName="caf\u00e9", Description="d")[0] == "InvalidParameterValue"
    ok = "a-z A-Z 0-9 ._-:/()#,@[]+=;{}!$*"
    db = ec2.create_security_group(GroupName="db", Description=ok + "&")["GroupId"]
    app = ec2.create_security_group(GroupName="app", Description="a")["GroupId"]
    perm = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}

    def authorize(ranges=(), pairs=()):
        return ec2.authorize_security_group_ingress(
            GroupId=db,
            IpPermissions=[
                {
                    **perm,
                    "IpRanges": [{"CidrIp": c, "Description": d} for c, d in ranges],
                    "UserIdGroupPairs": [{"GroupId": app, "Description": d} for d in pairs],
                }
            ],
        )

    code, _, message = error_of(authorize, ranges=[("10.0.0.0/8", "Andrew's laptop")])
    assert code == "InvalidParameterValue" and "Invalid rule description" in message
    # "&" is allowed in a CIDR rule's description and refused in a group pair's.
    assert error_of(authorize, pairs=["lambda & co"])[0] == "InvalidParameterValue"
    authorize(ranges=[("10.0.0.0/8", ok + "&")], pairs=[ok])
    proxy.set(ec2=False)
    ec2.create_security_group(GroupName="loose", Description="Andrew's")


def test_cognito_refuses_the_deprecated_unused_account_validity_days_whenever_sent(proxy):
    idp = proxy.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="p")["UserPool"]["Id"]
    legacy = {"AllowAdminCreateUserOnly": False, "UnusedAccountValidityDays": 0}
    idp.update_user_pool(UserPoolId=pool, AdminCreateUserConfig=legacy)
    proxy.set(cognito=True)
    code, http, message = error_of(idp.update_user_pool, UserPoolId=pool, AdminCreateUserConfig=legacy)
    assert (code, http) == ("InvalidParameterException", 400)
    assert "instead of UnusedAccountValidityDays" in message
    assert error_of(idp.create_user_pool, PoolName="q", AdminCreateUserConfig=legacy)[0] == "InvalidParameterException"
    idp.update_user_pool(UserPoolId=pool, AdminCreateUserConfig={"AllowAdminCreateUserOnly": False})


def test_a_new_group_is_not_seen_at_once_by_ec2_lambda_or_rds(proxy):
    proxy.set(ec2_unseen_calls=1)
    ec2 = proxy.client("ec2")
    db = ec2.create_security_group(GroupName="db", Description="d")["GroupId"]
    app = ec2.create_security_group(GroupName="app", Description="a")["GroupId"]
    perm = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}
    authorize = lambda: ec2.authorize_security_group_ingress(  # noqa: E731
        GroupId=db, IpPermissions=[{**perm, "UserIdGroupPairs": [{"GroupId": app, "Description": "x"}]}]
    )
    # Each new group is refused once, whichever of the named groups it is.
    assert error_of(authorize)[0] == "InvalidGroup.NotFound"
    assert error_of(authorize)[0] == "InvalidGroup.NotFound"
    authorize()
    fn_sg = ec2.create_security_group(GroupName="fn", Description="f")["GroupId"]
    role = role_arn(proxy)
    code, _, message = error_of(create_function, proxy, "f", role, groups=[fn_sg])
    assert code == "InvalidParameterValueException" and "InvalidGroup.NotFound" in message
    create_function(proxy, "f", role, groups=[fn_sg])
    rds_sg = ec2.create_security_group(GroupName="rds", Description="r")["GroupId"]
    code, _, message = error_of(create_db, proxy, groups=[rds_sg])
    assert code == "InvalidParameterValue" and rds_sg in message
    create_db(proxy, groups=[rds_sg])
    # An old group is never refused.
    proxy.set(ec2_unseen_calls=0)
    ec2.authorize_security_group_ingress(GroupId=app, IpPermissions=[{**perm, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])


# --- Conformance to the AWS API models ------------------------------------------------------------


def unvalidated(proxy, service):
    """A client that sends what it is given: boto3 itself checks required members and minima."""
    return boto3.client(
        service,
        endpoint_url=proxy.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


def conformance_log(proxy):
    return [r["realism"] for r in proxy.log() if (r["realism"] or "").startswith("conformance")]


def test_conformance_refuses_an_over_long_string_as_aws_would_and_moto_never_sees_it(proxy):
    iam = proxy.client("iam")
    name = "r" * 65  # RoleName: max 64 in the IAM model; boto3 does not check maxima
    proxy.set(conformance=True)
    code, http, message = error_of(iam.create_role, RoleName=name, AssumeRolePolicyDocument=TRUST)
    assert (code, http) == ("ValidationError", 400)
    assert "CreateRole" in message and "'RoleName'" in message
    assert "Member must have length less than or equal to 64" in message
    assert conformance_log(proxy) == [
        "conformance: iam.CreateRole RoleName: length (Member must have length less than or equal to 64)"
    ]
    assert not [r for r in proxy.direct("iam").list_roles()["Roles"] if r["RoleName"] == name]
    # Off, the same request reaches moto, which takes it: the check is the proxy's, not moto's.
    proxy.set(conformance=False)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)


def test_conformance_refuses_an_out_of_range_number_on_each_side(proxy):
    role = role_arn(proxy)
    proxy.set(conformance=True)
    lam = unvalidated(proxy, "lambda")
    base = {"Runtime": "python3.12", "Handler": "a.h", "Role": role, "Code": {"ZipFile": zipped()}}
    code, http, message = error_of(lam.create_function, FunctionName="f1", MemorySize=64, **base)
    assert (code, http) == ("ValidationException", 400)
    assert "CreateFunction" in message and "'MemorySize'" in message and "greater than or equal to 128" in message
    code, _, message = error_of(proxy.client("lambda").create_function, FunctionName="f1", Timeout=5401, **base)
    assert code == "ValidationException" and "'Timeout'" in message and "less than or equal to 5400" in message
    assert proxy.direct("lambda").list_functions()["Functions"] == []
    proxy.client("lambda").create_function(FunctionName="f1", Timeout=5400, MemorySize=128, **base)


def test_conformance_refuses_a_value_outside_the_enum(proxy):
    proxy.set(conformance=True)
    code, http, message = error_of(proxy.client("ssm").put_parameter, Name="/p", Value="v", Type="Strin")
    assert (code, http) == ("ValidationException", 400)
    assert "'Type'" in message and "[String, StringList, SecureString]" in message
    ec2 = proxy.client("ec2")
    tags = [{"ResourceType": "security-groups", "Tags": [{"Key": "k", "Value": "v"}]}]
    code, _, message = error_of(ec2.create_security_group, GroupName="g", Description="d", TagSpecifications=tags)
    assert code == "InvalidParameterValue" and "'TagSpecifications[0].ResourceType'" in message
    tags[0]["ResourceType"] = "security-group"
    ec2.create_security_group(GroupName="g", Description="d", TagSpecifications=tags)


def test_conformance_refuses_a_missing_required_member_with_the_services_code(proxy):
    proxy.set(conformance=True)
    rds = unvalidated(proxy, "rds")
    code, http, message = error_of(rds.create_db_instance, DBInstanceIdentifier="db1", Engine="postgres")
    assert (code, http) == ("MissingParameter", 400)
    assert "CreateDBInstance" in message and "'DBInstanceClass'" in message
    code, _, message = error_of(unvalidated(proxy, "ec2").create_security_group, GroupName="g")
    assert code == "MissingParameter" and "'Description'" in message
    code, _, message = error_of(unvalidated(proxy, "cognito-idp").create_user_pool)
    assert code == "InvalidParameterException" and "'PoolName'" in message


def test_conformance_checks_patterns_path_and_query_members_and_hides_sensitive_values(proxy):
    proxy.set(conformance=True)
    idp = proxy.client("cognito-idp")
    code, _, message = error_of(idp.describe_user_pool, UserPoolId="no underscore")
    assert code == "InvalidParameterException" and "'UserPoolId'" in message and "regular expression" in message
    lam = proxy.client("lambda")
    # Lambda's members in the path and the query string are read back from the URL.
    code, _, message = error_of(lam.get_function, FunctionName="f", Qualifier="bad qualifier!")
    assert code == "ValidationException" and "'Qualifier'" in message
    code, _, message = error_of(lam.get_function, FunctionName="x" * 257)
    assert code == "ValidationException" and "'FunctionName'" in message
    # An environment variable's name is sensitive in the model: never echoed.
    role = role_arn(proxy)
    env = {"Variables": {"S3CRET_X!": "hunter2"}}
    code, _, message = error_of(
        lam.create_function, FunctionName="f", Runtime="python3.12", Handler="a.h", Role=role,
        Code={"ZipFile": zipped()}, Environment=env,
    )
    assert code == "ValidationException" and "Environment.Variables" in message
    assert "S3CRET" not in message and "hunter2" not in message and "***" in message
    assert not any("S3CRET" in r for r in conformance_log(proxy))


def test_conformance_refuses_a_member_the_model_does_not_have(proxy):
    proxy.set(conformance=True)
    auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"
    body = b"Action=GetRole&Version=2010-05-08&RoleName=r&RoleNames.member.1=r"
    req = urllib.request.Request(proxy.url + "/", data=body, method="POST", headers={
        "Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    text = e.value.read().decode()
    assert e.value.code == 400 and "<Code>ValidationError</Code>" in text and "RoleNames.member.1" in text


def test_conformance_passes_valid_requests_of_every_protocol_untouched(proxy):
    proxy.set(conformance=True)
    ec2 = proxy.client("ec2")
    sg = ec2.create_security_group(GroupName="db", Description="Postgres access")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                        "IpRanges": [{"CidrIp": "203.0.113.10/32", "Description": "home"}]}],
    )
    create_db(proxy, groups=[sg])
    role = role_arn(proxy)
    create_function(proxy, "fn1", role, groups=[sg])
    proxy.client("lambda").get_function(FunctionName="fn1")
    proxy.client("lambda").list_functions(MaxItems=50)
    pool = proxy.client("cognito-idp").create_user_pool(PoolName="p", UserPoolTags={"deploy:stack": "s"})
    proxy.client("cognito-idp").describe_user_pool(UserPoolId=pool["UserPool"]["Id"])
    proxy.client("ssm").put_parameter(Name="/deploy/lock", Value="x", Type="String")
    proxy.client("resourcegroupstaggingapi").get_resources(ResourceTypeFilters=["lambda:function"])
    proxy.client("sts").get_caller_identity()
    records = proxy.log()
    assert len(records) == 12 and all(200 <= r["status"] < 300 for r in records)
    assert conformance_log(proxy) == []
    stats = json.load(urllib.request.urlopen(proxy.url + "/__fidelity__"))["conformance"]
    assert stats["checked"] >= 12 and stats["patterns_skipped"] == []


# ------------------------------------------------------------------------------------------------
# lambda_run


def test_lambda_run_invokes_the_handler_with_its_environment_and_logs_its_output(proxy):
    proxy.set(lambda_run=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "app.py",
            "import os\n"
            "def h(event, context):\n"
            "    print('hello', event['user'], os.environ['GREETING'], context.function_name)\n"
            "    if event.get('fail'):\n"
            "        raise ValueError('no such user')\n"
            "    return {'seen': event['user']}\n",
        )
    lam = proxy.client("lambda")
    lam.create_function(
        FunctionName="runner",
        Runtime="python3.12",
        Handler="app.h",
        Role=role_arn(proxy),
        Code={"ZipFile": buf.getvalue()},
        Environment={"Variables": {"GREETING": "bonjour"}},
    )
    r = lam.invoke(FunctionName="runner", Payload=json.dumps({"user": "andrew"}), LogType="Tail")
    assert json.loads(r["Payload"].read()) == {"seen": "andrew"}
    assert "FunctionError" not in r
    tail = base64.b64decode(r["LogResult"]).decode()
    assert "hello andrew bonjour runner" in tail
    assert tail.startswith("START RequestId:") and "REPORT RequestId:" in tail

    r = lam.invoke(FunctionName="runner", Payload=json.dumps({"user": "x", "fail": True}))
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(r["Payload"].read())["errorType"] == "ValueError"
    assert "LogResult" not in r

    # Both runs are in the function's log group, as Lambda writes them.
    events = proxy.client("logs").filter_log_events(logGroupName="/aws/lambda/runner")["events"]
    messages = [e["message"] for e in events]
    assert "hello andrew bonjour runner" in messages
    assert any(m.startswith("[ERROR] ValueError: no such user") for m in messages)
    assert all("/[$LATEST]" in e["logStreamName"] for e in events)

