"""sql/migrations and sql/seed.sql: the files themselves, and the schema they make."""

import re

import psycopg2
import psycopg2.errors
import pytest

from conftest import (
    SEED_FILE,
    SEED_USERS,
    apply_sql_file,
    migrate_and_seed,
    migration_files,
)

TRANSACTION_CONTROL = re.compile(
    r"(?:\A|;)\s*(BEGIN|COMMIT|ROLLBACK|END|START\s+TRANSACTION|SAVEPOINT|RELEASE|ABORT)\b",
    re.IGNORECASE,
)


def without_comments_and_bodies(sql):
    """The SQL without comments and dollar-quoted bodies (a function's or a DO
    block's BEGIN ... END is not transaction control)."""
    sql = re.sub(r"/\*.*?\*/", "", sql, flags=re.DOTALL)
    sql = re.sub(r"--[^\n]*", "", sql)
    return re.sub(r"\$([A-Za-z_]\w*)?\$.*?\$\1\$", "", sql, flags=re.DOTALL)


# --- the files --------------------------------------------------------------------------


def test_migrations_are_numbered_without_gaps():
    files = migration_files()
    assert files, "sql/migrations has no NNNN_name.sql files"
    numbers = [int(p.name[:4]) for p in files]
    assert numbers == list(range(1, len(files) + 1)), [p.name for p in files]


@pytest.mark.parametrize("path", migration_files() + [SEED_FILE], ids=lambda p: p.name)
def test_no_transaction_control_in_the_files(path):
    # deploy wraps each file in its own transaction.
    found = TRANSACTION_CONTROL.findall(without_comments_and_bodies(path.read_text(encoding="utf-8")))
    assert not found, f"{path.name} contains {found}"


# --- applying them --------------------------------------------------------------------


def test_migrations_do_not_depend_on_search_path(empty_db):
    # A search_path without `public`: every name must be schema-qualified.
    migrate_and_seed(empty_db.url, options="-c search_path=pg_catalog")

    with empty_db.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM public.users")
        assert cur.fetchone() == (len(SEED_USERS),)
    conn.close()


def test_running_the_seed_again_changes_nothing(conn):
    def counts():
        with conn.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM public.users), (SELECT count(*) FROM public.activities)")
            return cur.fetchone()

    before = counts()
    conn.rollback()
    apply_sql_file(conn, SEED_FILE)
    assert counts() == before == (3, 3)


def test_uuid_ossp_is_installed(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'uuid-ossp'")
        assert cur.fetchone() == ("public",)


# --- users --------------------------------------------------------------------------------


def insert_user(conn, handle, email, cognito_user_id, display_name="Someone"):
    with conn:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO public.users (display_name, handle, email, cognito_user_id) "
                "VALUES (%s, %s, %s, %s) RETURNING uuid",
                (display_name, handle, email, cognito_user_id),
            )
            return cur.fetchone()[0]


def test_a_new_user_gets_a_uuid_and_created_at(conn):
    new_uuid = insert_user(conn, "fresh", "fresh@example.org", "sub-fresh")
    with conn.cursor() as cur:
        cur.execute("SELECT uuid::text, created_at IS NOT NULL FROM public.users WHERE handle = 'fresh'")
        assert cur.fetchone() == (new_uuid, True)


@pytest.mark.parametrize(
    "handle, email, cognito_user_id, constraint",
    [
        ("bayko", "new@example.org", "sub-new", "users_handle_key"),
        ("newhandle", "bayko@example.com", "sub-new", "users_email_key"),
        ("newhandle", "new@example.org", "MOCK-bayko", "users_cognito_user_id_key"),
    ],
    ids=["handle", "email", "cognito_user_id"],
)
def test_duplicate_user_identifiers_are_rejected(conn, handle, email, cognito_user_id, constraint):
    with pytest.raises(psycopg2.errors.UniqueViolation) as excinfo:
        insert_user(conn, handle, email, cognito_user_id)
    assert excinfo.value.diag.constraint_name == constraint


@pytest.mark.parametrize("column", ["display_name", "handle", "email", "cognito_user_id"])
def test_user_columns_are_required(conn, column):
    values = {"display_name": "X", "handle": "x", "email": "x@example.org", "cognito_user_id": "sub-x"}
    values[column] = None
    with pytest.raises(psycopg2.errors.NotNullViolation):
        insert_user(conn, values["handle"], values["email"], values["cognito_user_id"], values["display_name"])


# --- activities -----------------------------------------------------------------------------

COUNTERS = ["replies_count", "reposts_count", "likes_count"]


def test_counters_are_not_null_integers_defaulting_to_0(conn):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'activities' AND column_name = ANY(%s) "
            "ORDER BY column_name",
            (COUNTERS,),
        )
        assert cur.fetchall() == [(c, "integer", "NO", "0") for c in sorted(COUNTERS)]


def test_a_new_activity_has_zero_counters(conn):
    with conn:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO public.activities (user_uuid, message) VALUES (%s, 'hi') "
                "RETURNING replies_count, reposts_count, likes_count, created_at IS NOT NULL",
                (SEED_USERS["bayko"],),
            )
            assert cur.fetchone() == (0, 0, 0, True)


@pytest.mark.parametrize("counter", COUNTERS)
def test_a_null_counter_is_rejected(conn, counter):
    with pytest.raises(psycopg2.errors.NotNullViolation):
        with conn:
            with conn.cursor() as cur:
                cur.execute(
                    f"INSERT INTO public.activities (user_uuid, message, {counter}) VALUES (%s, 'hi', NULL)",
                    (SEED_USERS["bayko"],),
                )


@pytest.mark.parametrize("counter", COUNTERS)
def test_a_negative_counter_is_rejected(conn, counter):
    with pytest.raises(psycopg2.errors.CheckViolation):
        with conn:
            with conn.cursor() as cur:
                cur.execute(f"UPDATE public.activities SET {counter} = -1")


def test_reply_to_activity_uuid_is_a_uuid_foreign_key(conn):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 'activities' AND column_name = 'reply_to_activity_uuid'"
        )
        assert cur.fetchone() == ("uuid",)
        cur.execute(
            "SELECT conname, confrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'public.activities'::regclass AND contype = 'f' ORDER BY conname"
        )
        assert cur.fetchall() == [
            ("activities_reply_to_activity_uuid_fkey", "activities",
             "FOREIGN KEY (reply_to_activity_uuid) REFERENCES activities(uuid)"),
            ("activities_user_uuid_fkey", "users", "FOREIGN KEY (user_uuid) REFERENCES users(uuid)"),
        ]


def test_the_home_feed_order_is_served_by_an_index(conn):
    with conn.cursor() as cur:
        # The tables are tiny, so make the planner show what it could do at scale.
        cur.execute("SET enable_seqscan = off")
        cur.execute("SET enable_sort = off")
        cur.execute(
            "EXPLAIN SELECT activities.uuid, users.handle FROM public.activities "
            "LEFT JOIN public.users ON users.uuid = activities.user_uuid "
            "ORDER BY activities.created_at DESC"
        )
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "activities_created_at_idx" in plan, plan
