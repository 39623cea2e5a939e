"""schema/stack.schema.json, the stack file's JSON Schema for editors, against the stack
files we ship: each is valid, and the schema rejects what the loader rejects for its shape
(unknown or misspelt keys, missing required keys). `deploy schema` printing exactly this file
is checked by the Rust test tests/cli/shipped.rs.

jsonschema and PyYAML are in .venv through moto's pins (requirements-dev.txt)."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schema" / "stack.schema.json"
EXAMPLES = [REPO / "stack.yaml", *sorted((REPO / "examples").rglob("stack.yaml"))]
SCHEMA_LINE = "# yaml-language-server: $schema="


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator, doc):
    """Every message, those of the alternatives of an anyOf (a layer: ARN or folder) included."""
    def walk(errs):
        for e in errs:
            yield e.message
            yield from walk(e.context or [])

    return sorted(walk(validator.iter_errors(doc)))


def test_there_are_examples():
    assert REPO / "examples" / "local" / "stack.yaml" in EXAMPLES and len(EXAMPLES) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_is_valid(validator, path):
    assert errors(validator, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_names_the_schema_on_its_first_line(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith(SCHEMA_LINE), first
    target = (path.parent / first[len(SCHEMA_LINE):].strip()).resolve()
    assert target == SCHEMA_FILE.resolve(), f"{first} does not lead to {SCHEMA_FILE}"


def test_a_misspelt_key_is_rejected_wherever_it_is(validator):
    doc = yaml.safe_load((REPO / "examples" / "local" / "stack.yaml").read_text())
    for where, key in [
        (lambda d: d, "stak"),
        (lambda d: next(iter(d["db_instances"].values())), "instance_clas"),
        (lambda d: next(iter(d["security_groups"].values()))["ingress"][0], "prot"),
        (lambda d: next(iter(d["functions"].values()))["vpc"], "subnet"),
        (lambda d: next(iter(d["functions"].values()))["layers"][0], "sources"),
        (lambda d: d["cognito_triggers"][0], "evnt"),
    ]:
        bad = copy.deepcopy(doc)
        where(bad)[key] = "x"
        assert any(f"'{key}' was unexpected" in m for m in errors(validator, bad)), key


def test_a_missing_required_key_is_rejected(validator):
    doc = yaml.safe_load((REPO / "examples" / "local" / "stack.yaml").read_text())
    del next(iter(doc["db_instances"].values()))["instance_class"]
    assert any("'instance_class' is a required property" in m for m in errors(validator, doc))


def test_the_corpus_file_of_unknown_keys_is_rejected(validator):
    doc = yaml.safe_load((REPO / "tests" / "corpus" / "unknown_keys.yaml").read_text())
    msgs = errors(validator, doc)
    assert any("'colour' was unexpected" in m for m in msgs), msgs
    assert any("'instance_type' was unexpected" in m for m in msgs), msgs


def test_values_from_the_environment_and_empty_optional_keys_are_accepted(validator):
    doc = {
        "stack": "s",
        "tags": None,
        "db_instances": {
            "d": {
                "engine": "postgres",
                "instance_class": "db.t3.micro",
                "allocated_storage": "${env:STORAGE}",
                "master_username": "root",
                "multi_az": "${env:MULTI_AZ:-false}",
                "engine_version": 16.4,
                "final_snapshot": "last-one",
            }
        },
    }
    assert errors(validator, doc) == []


def local_example():
    return yaml.safe_load((REPO / "examples" / "local" / "stack.yaml").read_text())


# (where in the Cruddur-like example, key, a value the loader refuses, a value it accepts):
# the schema flags the first while typing and accepts the second, also when written as ${env:...}.
BOUNDED = [
    (lambda d: d, "stack", "Bad_Name", "good-name"),
    (lambda d: next(iter(d["functions"].values())), "memory", 64, 256),
    (lambda d: next(iter(d["functions"].values())), "timeout", 901, 30),
    (lambda d: next(iter(d["db_instances"].values())), "port", 80, 6543),
    (lambda d: next(iter(d["db_instances"].values())), "storage_type", "gp4", "gp2"),
    (lambda d: next(iter(d["security_groups"].values()))["ingress"][0], "protocol", "sctp", "udp"),
    (lambda d: d["cognito_triggers"][0], "event", "bogus", "pre_sign_up"),
]


@pytest.mark.parametrize("where,key,bad,good", BOUNDED, ids=[b[1] for b in BOUNDED])
def test_values_the_loader_refuses_are_flagged_and_others_accepted(validator, where, key, bad, good):
    for value, ok in [(bad, False), (good, True), ("${env:X}", True)]:
        doc = local_example()
        where(doc)[key] = value
        assert (errors(validator, doc) == []) == ok, (key, value, errors(validator, doc))


def test_limits_on_lists_keys_and_exclusive_fields(validator):
    doc = local_example()
    fn = next(iter(doc["functions"].values()))
    fn["layers"] = [f"arn:aws:lambda:us-east-1:123456789012:layer:l{i}:1" for i in range(6)]
    assert any("is too long" in m for m in errors(validator, doc))

    for tags in [{"aws:owner": "me"}, {"deploy:stack": "other"}]:
        doc = local_example()
        doc["tags"] = tags
        assert errors(validator, doc) != [], tags
    doc = local_example()
    doc["tags"] = {"deploy:team": "web", "owner": "me"}
    assert errors(validator, doc) == []

    doc = local_example()
    doc["outputs"]["not-an-identifier"] = "x"
    assert errors(validator, doc) != []

    doc = local_example()
    rule = next(iter(doc["security_groups"].values()))["ingress"][0]
    rule["port"], rule["ports"] = 80, "80-81"
    assert errors(validator, doc) != []
