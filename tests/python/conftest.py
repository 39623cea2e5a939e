"""Fixtures for the tests of the database schema, the seed data, the app's queries
and the post-confirmation Lambda, all against a real PostgreSQL.

The server is given by env DEPLOY_TEST_PG_URL, a superuser URL such as
postgresql://postgres@127.0.0.1:PORT/postgres (`make test` starts one with
scripts/pg-start.sh and sets it). Without it the tests fail: nothing is skipped.

Every test that asks for `db` gets a database of its own, created for it, with
sql/migrations/*.sql applied in order (each in its own transaction, as `deploy
apply` does) and then sql/seed.sql; it is dropped afterwards.
"""

import importlib.util
import os
import re
import socket
import sys
import urllib.parse
import uuid
from pathlib import Path

import psycopg2
import pytest

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = REPO / "sql" / "migrations"
SEED_FILE = REPO / "sql" / "seed.sql"
LAMBDA_DIR = REPO / "lambdas" / "cruddur-post-confirmation"
LAMBDA_FILE = LAMBDA_DIR / "lambda_function.py"

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

# The seed's fixed rows (sql/seed.sql).
SEED_USERS = {
    "andrewbrown": "00000000-0000-4000-8000-000000000001",
    "bayko": "00000000-0000-4000-8000-000000000002",
    "londo": "00000000-0000-4000-8000-000000000003",
}
SEED_ACTIVITY_BROWN = "00000000-0000-4000-8000-00000000a001"
SEED_ACTIVITY_BAYKO = "00000000-0000-4000-8000-00000000a002"
SEED_ACTIVITY_REPLY = "00000000-0000-4000-8000-00000000a003"


def migration_files():
    """sql/migrations/*.sql in the order deploy applies them (by number)."""
    files = sorted(p for p in MIGRATIONS_DIR.iterdir() if p.suffix == ".sql")
    bad = [p.name for p in files if not MIGRATION_NAME.match(p.name)]
    assert not bad, f"migration files not named NNNN_name.sql: {bad}"
    return files


def apply_sql_file(conn, path):
    """Run one file in its own transaction, as `deploy apply` does."""
    with conn:
        with conn.cursor() as cur:
            cur.execute(path.read_text(encoding="utf-8"))


def migrate_and_seed(url, **connect_kwargs):
    conn = psycopg2.connect(url, **connect_kwargs)
    try:
        for path in migration_files():
            apply_sql_file(conn, path)
        apply_sql_file(conn, SEED_FILE)
    finally:
        conn.close()


def url_for_database(server_url, dbname):
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="session")
def pg_url():
    """The superuser URL of the test server (DEPLOY_TEST_PG_URL)."""
    url = os.environ.get("DEPLOY_TEST_PG_URL")
    if not url:
        pytest.fail(
            "DEPLOY_TEST_PG_URL is not set. These tests need a real PostgreSQL: run "
            "`make test`, or start one with `scripts/pg-start.sh target/pg` and "
            "export DEPLOY_TEST_PG_URL=$(cat target/pg/url).",
            pytrace=False,
        )
    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.Error as e:
        pytest.fail(f"cannot connect to DEPLOY_TEST_PG_URL={url}: {e}", pytrace=False)
    return url


class Database:
    def __init__(self, server_url, name):
        self.server_url = server_url
        self.name = name
        self.url = url_for_database(server_url, name)

    def connect(self, **kwargs):
        return psycopg2.connect(self.url, **kwargs)


def _admin(pg_url):
    conn = psycopg2.connect(pg_url, connect_timeout=5)
    conn.autocommit = True
    return conn


@pytest.fixture
def empty_db(pg_url):
    """A fresh, empty database; dropped after the test."""
    name = "deploy_test_" + uuid.uuid4().hex[:16]
    admin = _admin(pg_url)
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield Database(pg_url, name)
    finally:
        with admin.cursor() as cur:
            # FORCE: also ends connections a test left open (the Lambda's cached one).
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def db(empty_db):
    """A fresh database with the migrations and the seed applied."""
    migrate_and_seed(empty_db.url)
    return empty_db


@pytest.fixture
def conn(db):
    """A connection to `db` (not autocommit), closed after the test."""
    c = db.connect()
    yield c
    c.close()


@pytest.fixture
def admin(pg_url):
    """A superuser connection to the server's `postgres` database, autocommit."""
    c = _admin(pg_url)
    yield c
    c.close()


def load_lambda_module():
    """A fresh copy of lambdas/cruddur-post-confirmation/lambda_function.py.

    No bytecode is written: a __pycache__ folder in the function's folder would
    be zipped into the deployed code.
    """
    spec = importlib.util.spec_from_file_location("lambda_function", LAMBDA_FILE)
    module = importlib.util.module_from_spec(spec)
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    return module


@pytest.fixture
def lambda_module(monkeypatch, db):
    """The Lambda module, freshly loaded (no cached connection), with
    CONNECTION_URL pointing at `db`. Its connection is closed afterwards."""
    monkeypatch.setenv("CONNECTION_URL", db.url)
    module = load_lambda_module()
    yield module
    if module._conn is not None:
        module._conn.close()


@pytest.fixture
def closed_port():
    """A loopback TCP port nothing listens on (bound by the kernel, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
