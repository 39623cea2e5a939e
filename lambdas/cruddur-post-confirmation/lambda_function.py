"""Cognito post-confirmation trigger: record the newly confirmed user in Cruddur's database.

Runtime python3.12; psycopg2 comes from the stack's layer; env CONNECTION_URL is
the database URL (postgresql://user:password@host:5432/cruddur).

What the seed's version got wrong, and what this one does instead:
  * It built the INSERT with an f-string: a display name like
    "Robert'); DROP TABLE users;--" was SQL. Here every value is a query parameter.
  * It printed the user's attributes (name, email) and the SQL: personal data in
    CloudWatch. Here logs carry at most the exception class, the PostgreSQL error
    code / constraint name and the user's `sub` (an opaque id).
  * It swallowed every error, so a user could be confirmed in Cognito with no row
    in the database and nobody would know. Here a failure is raised, so Cognito
    fails the confirmation call and the client sees it.
  * It referenced `conn` before assignment when connecting failed, and opened a
    new connection per call. Here one connection lives at module level, is reused
    by later invocations of the same execution environment, and is reopened when
    it is found closed or broken.
  * Cognito may deliver the same confirmation twice: ON CONFLICT
    (cognito_user_id) DO NOTHING makes the insert idempotent, which is also what
    makes it safe to retry the insert after reconnecting.
"""

import logging
import os

import psycopg2
import psycopg2.errors

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# Cognito waits about 5 seconds for a trigger, so a database that cannot be
# reached must fail fast rather than hang until the function's timeout.
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT = "4s"

INSERT_USER = (
    "INSERT INTO public.users (display_name, email, handle, cognito_user_id) "
    "VALUES (%s,%s,%s,%s) "
    "ON CONFLICT (cognito_user_id) DO NOTHING"
)
HANDLE_CONSTRAINT = "users_handle_key"

# The one connection of this execution environment (None until first use).
_conn = None


class PostConfirmationError(Exception):
    """Raised to Cognito when the user could not be recorded.

    Its message names no personal data: Lambda logs the message of an unhandled
    exception, and Cognito passes it on to the client. The original exception is
    deliberately not chained (`from None`), because psycopg2's messages can quote
    values, e.g. 'Key (email)=(...) already exists'.
    """


def _connect():
    url = os.environ.get("CONNECTION_URL")
    if not url:
        raise RuntimeError("CONNECTION_URL is not set")
    return psycopg2.connect(
        url,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name="cruddur-post-confirmation",
    )


def _discard_connection():
    global _conn
    if _conn is not None:
        try:
            _conn.close()
        except Exception:  # already broken: nothing more to release
            pass
    _conn = None


def _connection():
    """The cached connection, or a new one if there is none or it is closed.

    Returns (connection, reused): `reused` is True when the connection was opened
    by an earlier invocation and so may have been cut since (idle timeout,
    database restart, failover) without `closed` knowing it yet.
    """
    global _conn
    if _conn is not None and _conn.closed == 0:
        return _conn, True
    _discard_connection()
    _conn = _connect()
    return _conn, False


def _insert(conn, params):
    # `with conn` commits on success and rolls back on error; it does not close.
    with conn:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = %s", (STATEMENT_TIMEOUT,))
            cur.execute(INSERT_USER, params)
            return cur.rowcount


def _insert_user(params):
    conn, reused = _connection()
    try:
        return _insert(conn, params)
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        _discard_connection()
        if not reused:
            raise
        # The cached connection had gone stale. Reopen once and retry: the insert
        # is idempotent, so this is safe even if the first attempt committed.
        logger.info("cached database connection was broken; reconnecting")
        conn, _ = _connection()
        return _insert(conn, params)


def _user_values(attributes):
    """(display_name, email, handle, sub) from the Cognito user attributes.

    Only `sub` (always present) and `email` (the pool signs users in by email)
    are required. `name` and `preferred_username` are optional in a pool that
    does not mark them required, and users.display_name and users.handle are
    NOT NULL, so rather than fail a sign-up for a missing optional attribute:
      * display_name = name, else preferred_username, else the email's local
        part: the most human-readable value the user gave us;
      * handle = preferred_username, else the email's local part: the user's own
        choice of handle if they made one, else a stable, readable value they
        will recognise. If such a derived handle is already taken, the insert
        retries with a suffix from `sub` (see lambda_handler); a handle the user
        chose is never altered, its collision is an error.
    Returns also whether the handle was derived.
    """
    sub = attributes["sub"]
    email = attributes["email"].strip()
    local_part = email.split("@", 1)[0]
    name = (attributes.get("name") or "").strip()
    preferred = (attributes.get("preferred_username") or "").strip()
    display_name = name or preferred or local_part
    handle = preferred or local_part
    if not handle:
        raise ValueError("no usable handle: preferred_username and the email's local part are empty")
    return (display_name, email, handle, sub), not preferred


def lambda_handler(event, context):
    # A confirmed password reset (PostConfirmation_ConfirmForgotPassword) also
    # runs this trigger; the user was recorded at sign-up, and a database outage
    # must not block password resets.
    if event.get("triggerSource") == "PostConfirmation_ConfirmForgotPassword":
        return event

    sub = None
    try:
        attributes = event["request"]["userAttributes"]
        sub = attributes["sub"]
        (display_name, email, handle, sub), derived_handle = _user_values(attributes)
        try:
            inserted = _insert_user((display_name, email, handle, sub))
        except psycopg2.errors.UniqueViolation as e:
            if not (derived_handle and e.diag.constraint_name == HANDLE_CONSTRAINT):
                raise
            # The email's local part is someone else's handle already.
            inserted = _insert_user((display_name, email, f"{handle}-{sub[:8]}", sub))
    except Exception as e:
        # The exception's text may quote personal data; log only what is safe.
        pgcode = getattr(e, "pgcode", None)
        diag = getattr(e, "diag", None)
        constraint = getattr(diag, "constraint_name", None) if diag is not None else None
        logger.error(
            "could not record confirmed user sub=%s: %s (pgcode=%s, constraint=%s)",
            sub, type(e).__name__, pgcode, constraint,
        )
        raise PostConfirmationError(
            f"could not record the confirmed user ({type(e).__name__})"
        ) from None

    if inserted:
        logger.info("recorded confirmed user sub=%s", sub)
    else:
        logger.info("confirmed user sub=%s was already recorded", sub)
    return event
