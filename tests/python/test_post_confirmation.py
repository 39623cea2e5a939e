"""The post-confirmation Lambda (lambdas/cruddur-post-confirmation) against a real
PostgreSQL with the migrated and seeded schema."""

import copy
import logging
import time
import uuid

import psycopg2
import pytest

from conftest import LAMBDA_DIR, SEED_USERS, load_lambda_module


def confirm_event(
    name="Jane Doe",
    email="jane.doe@example.org",
    preferred_username="janedoe",
    sub=None,
    trigger_source="PostConfirmation_ConfirmSignUp",
):
    """A Cognito post-confirmation event, shaped as Cognito sends it."""
    attributes = {
        "sub": sub or str(uuid.uuid4()),
        "email_verified": "true",
        "cognito:user_status": "CONFIRMED",
        "email": email,
    }
    if name is not None:
        attributes["name"] = name
    if preferred_username is not None:
        attributes["preferred_username"] = preferred_username
    return {
        "version": "1",
        "region": "us-east-1",
        "userPoolId": "us-east-1_TESTPOOL",
        "userName": attributes["sub"],
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": "testclientid",
        },
        "triggerSource": trigger_source,
        "request": {"userAttributes": attributes},
        "response": {},
    }


def user_row(conn, sub):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT display_name, email, handle, cognito_user_id "
            "FROM public.users WHERE cognito_user_id = %s",
            (sub,),
        )
        rows = cur.fetchall()
    conn.rollback()
    assert len(rows) <= 1
    return rows[0] if rows else None


def count_users(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM public.users")
        (n,) = cur.fetchone()
    conn.rollback()
    return n


def sub_of(event):
    return event["request"]["userAttributes"]["sub"]


def assert_nothing_personal(texts, *secrets):
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"personal data {secret!r} leaked into: {text!r}"


# --- the insert -------------------------------------------------------------------


def test_records_the_user_and_returns_the_event(lambda_module, conn):
    event = confirm_event()
    before = copy.deepcopy(event)

    result = lambda_module.lambda_handler(event, None)

    assert result is event
    assert result == before, "the handler must hand the event back unchanged"
    assert user_row(conn, sub_of(event)) == (
        "Jane Doe",
        "jane.doe@example.org",
        "janedoe",
        sub_of(event),
    )


def test_sql_injection_in_attributes_is_stored_literally(lambda_module, conn):
    evil_name = "Robert'); DROP TABLE users;--"
    evil_handle = "bobby'); DELETE FROM public.users;--"
    evil_email = "o'brien+x@example.org"
    event = confirm_event(name=evil_name, email=evil_email, preferred_username=evil_handle)

    lambda_module.lambda_handler(event, None)

    assert user_row(conn, sub_of(event)) == (evil_name, evil_email, evil_handle, sub_of(event))
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.users') IS NOT NULL")
        assert cur.fetchone() == (True,), "the users table was dropped"
    conn.rollback()
    assert count_users(conn) == len(SEED_USERS) + 1, "the seeded users must survive"


def test_the_same_confirmation_twice_gives_one_row(lambda_module, conn):
    event = confirm_event()

    assert lambda_module.lambda_handler(event, None) is event
    assert lambda_module.lambda_handler(copy.deepcopy(event), None) == event

    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM public.users WHERE cognito_user_id = %s", (sub_of(event),))
        assert cur.fetchone() == (1,)
    assert count_users(conn) == len(SEED_USERS) + 1


def test_a_redelivery_with_changed_attributes_keeps_the_first_row(lambda_module, conn):
    event = confirm_event(name="First Name")
    lambda_module.lambda_handler(event, None)
    again = confirm_event(name="Second Name", sub=sub_of(event))

    lambda_module.lambda_handler(again, None)

    assert user_row(conn, sub_of(event))[0] == "First Name"


# --- missing optional attributes ----------------------------------------------------


def test_display_name_falls_back_to_preferred_username(lambda_module, conn):
    event = confirm_event(name=None, preferred_username="janed")

    lambda_module.lambda_handler(event, None)

    assert user_row(conn, sub_of(event))[:3] == ("janed", "jane.doe@example.org", "janed")


def test_blank_name_counts_as_missing(lambda_module, conn):
    event = confirm_event(name="   ", preferred_username="janed")

    lambda_module.lambda_handler(event, None)

    assert user_row(conn, sub_of(event))[0] == "janed"


def test_without_name_and_preferred_username_the_email_local_part_is_used(lambda_module, conn):
    event = confirm_event(name=None, preferred_username=None, email="jane.doe@example.org")

    lambda_module.lambda_handler(event, None)

    assert user_row(conn, sub_of(event))[:3] == ("jane.doe", "jane.doe@example.org", "jane.doe")


def test_a_taken_derived_handle_gets_a_suffix_from_sub(lambda_module, conn):
    # 'andrewbrown' is a seeded user's handle; this is a different person.
    event = confirm_event(name=None, preferred_username=None, email="andrewbrown@elsewhere.example")
    sub = sub_of(event)

    lambda_module.lambda_handler(event, None)

    assert user_row(conn, sub)[2] == f"andrewbrown-{sub[:8]}"
    # ... and Cognito delivering it again still gives one row.
    lambda_module.lambda_handler(copy.deepcopy(event), None)
    assert count_users(conn) == len(SEED_USERS) + 1


def test_a_taken_chosen_handle_is_an_error_not_altered(lambda_module, conn, caplog):
    event = confirm_event(name="Another Andrew", preferred_username="andrewbrown", email="aa@example.org")

    with pytest.raises(lambda_module.PostConfirmationError):
        lambda_module.lambda_handler(event, None)

    assert user_row(conn, sub_of(event)) is None
    assert "users_handle_key" in caplog.text


def test_forgot_password_confirmation_does_not_touch_the_database(monkeypatch, closed_port):
    # The database is unreachable: a confirmed password reset must still pass.
    monkeypatch.setenv("CONNECTION_URL", f"postgresql://cruddur@127.0.0.1:{closed_port}/cruddur")
    module = load_lambda_module()
    event = confirm_event(trigger_source="PostConfirmation_ConfirmForgotPassword")

    assert module.lambda_handler(event, None) is event
    assert module._conn is None


# --- failures -----------------------------------------------------------------------


def test_unreachable_database_raises_and_logs_nothing_personal(monkeypatch, closed_port, caplog, capfd):
    monkeypatch.setenv("CONNECTION_URL", f"postgresql://cruddur@127.0.0.1:{closed_port}/cruddur")
    module = load_lambda_module()
    event = confirm_event(name="Jane Secretname", email="jane.secret@example.org", preferred_username="janesecret")
    caplog.set_level(logging.DEBUG)

    started = time.monotonic()
    with pytest.raises(Exception) as excinfo:
        module.lambda_handler(event, None)
    elapsed = time.monotonic() - started

    assert isinstance(excinfo.value, module.PostConfirmationError)
    assert "OperationalError" in str(excinfo.value)
    # Not chained: Lambda prints the whole chain of an unhandled exception.
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    assert elapsed < 5, "a refused connection must fail fast (Cognito waits ~5 s)"
    out, err = capfd.readouterr()
    assert "OperationalError" in caplog.text
    assert sub_of(event) in caplog.text
    assert_nothing_personal(
        [caplog.text, out, err, str(excinfo.value), repr(excinfo.value)],
        "Jane", "Secretname", "jane.secret@example.org", "jane.secret", "janesecret",
    )


def test_a_database_error_quoting_the_email_is_not_logged(lambda_module, conn, caplog, capfd):
    # A second account with a seeded user's email: PostgreSQL's message says
    # 'Key (email)=(bayko@example.com) already exists.' That must not reach the logs.
    caplog.set_level(logging.DEBUG)
    event = confirm_event(name="Copy Cat", email="bayko@example.com", preferred_username="copycat")

    with pytest.raises(lambda_module.PostConfirmationError) as excinfo:
        lambda_module.lambda_handler(event, None)

    out, err = capfd.readouterr()
    assert "UniqueViolation" in caplog.text and "users_email_key" in caplog.text
    assert_nothing_personal(
        [caplog.text, out, err, str(excinfo.value)],
        "bayko@example.com", "Copy Cat", "copycat",
    )
    assert user_row(conn, sub_of(event)) is None
    # The connection survives an integrity error and serves the next user.
    ok = confirm_event()
    assert lambda_module.lambda_handler(ok, None) is ok
    assert user_row(conn, sub_of(ok)) is not None


def test_missing_connection_url_raises(monkeypatch, caplog):
    monkeypatch.delenv("CONNECTION_URL", raising=False)
    module = load_lambda_module()
    event = confirm_event(email="jane.secret@example.org")

    with pytest.raises(module.PostConfirmationError):
        module.lambda_handler(event, None)
    assert "RuntimeError" in caplog.text
    assert_nothing_personal([caplog.text], "jane.secret@example.org", "Jane Doe")


def test_an_event_without_email_raises(lambda_module, conn):
    event = confirm_event()
    del event["request"]["userAttributes"]["email"]

    with pytest.raises(lambda_module.PostConfirmationError):
        lambda_module.lambda_handler(event, None)
    assert user_row(conn, sub_of(event)) is None


# --- the cached connection ------------------------------------------------------------


def test_the_connection_is_reused_across_invocations(lambda_module):
    lambda_module.lambda_handler(confirm_event(), None)
    first = lambda_module._conn
    pid = first.get_backend_pid()

    lambda_module.lambda_handler(confirm_event(email="b@example.org", preferred_username="b"), None)

    assert lambda_module._conn is first
    assert first.get_backend_pid() == pid


def test_a_closed_cached_connection_is_reopened(lambda_module, conn):
    lambda_module.lambda_handler(confirm_event(), None)
    old = lambda_module._conn
    old.close()

    event = confirm_event(email="second@example.org", preferred_username="second")
    assert lambda_module.lambda_handler(event, None) is event

    assert lambda_module._conn is not old and lambda_module._conn.closed == 0
    assert user_row(conn, sub_of(event)) is not None


def test_a_terminated_backend_is_reconnected(lambda_module, conn, admin):
    lambda_module.lambda_handler(confirm_event(), None)
    old = lambda_module._conn
    old_pid = old.get_backend_pid()
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (old_pid,))
        assert cur.fetchone() == (True,)
        # Wait until the server has really ended it.
        for _ in range(100):
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (old_pid,))
            if cur.fetchone() == (0,):
                break
            time.sleep(0.05)
    # psycopg2 has not noticed yet: the handler finds out when it uses it.
    assert old.closed == 0

    event = confirm_event(email="after@example.org", preferred_username="after")
    assert lambda_module.lambda_handler(event, None) is event

    assert user_row(conn, sub_of(event)) is not None
    assert lambda_module._conn is not old
    assert lambda_module._conn.get_backend_pid() != old_pid


def test_a_fresh_connection_that_fails_is_not_retried(monkeypatch, closed_port):
    monkeypatch.setenv("CONNECTION_URL", f"postgresql://cruddur@127.0.0.1:{closed_port}/cruddur")
    module = load_lambda_module()
    calls = []
    real_connect = module._connect

    def counting_connect():
        calls.append(1)
        return real_connect()

    monkeypatch.setattr(module, "_connect", counting_connect)

    with pytest.raises(module.PostConfirmationError):
        module.lambda_handler(confirm_event(), None)
    assert len(calls) == 1
    assert module._conn is None


def test_connect_timeout_is_short(lambda_module):
    lambda_module.lambda_handler(confirm_event(), None)
    params = lambda_module._conn.get_dsn_parameters()
    assert 0 < int(params["connect_timeout"]) <= 5


# --- packaging ------------------------------------------------------------------------


def test_the_function_folder_holds_only_the_function():
    # The folder is zipped as the function's code: tests, caches or notes in it
    # would be deployed (and change its CodeSha256).
    names = sorted(p.name for p in LAMBDA_DIR.iterdir())
    assert names == ["lambda_function.py"], names
