"""The Flask app's own queries (the seed's backend-flask) against the migrated and
seeded schema: the home feed, and creating activities and replies."""

import uuid

import psycopg2
import psycopg2.errors
import pytest

from conftest import (
    SEED_ACTIVITY_BAYKO,
    SEED_ACTIVITY_BROWN,
    SEED_ACTIVITY_REPLY,
    SEED_USERS,
)


# Copied from the seed's backend-flask/lib/db.py.
def query_wrap_object(template):
    sql = f"""
  (SELECT COALESCE(row_to_json(object_row),'{{}}'::json) FROM (
  {template}
  ) object_row);
  """
    return sql


def query_wrap_array(template):
    sql = f"""
  (SELECT COALESCE(array_to_json(array_agg(row_to_json(array_row))),'[]'::json) FROM (
  {template}
  ) array_row);
  """
    return sql


# Copied from the seed's backend-flask/services/home_activities.py.
HOME_ACTIVITIES = query_wrap_array("""
        SELECT
          activities.uuid,
          users.display_name,
          users.handle,
          activities.message,
          activities.replies_count,
          activities.reposts_count,
          activities.likes_count,
          activities.reply_to_activity_uuid,
          activities.expires_at,
          activities.created_at
        FROM public.activities
        LEFT JOIN public.users ON users.uuid = activities.user_uuid
        ORDER BY activities.created_at DESC
      """)

# The app's activity creation (services/create_activity.py, and its reply
# variant): the user is found by handle, as the app receives it.
CREATE_ACTIVITY = """
  INSERT INTO public.activities (user_uuid, message, expires_at)
  VALUES (
    (SELECT uuid FROM public.users WHERE users.handle = %(handle)s LIMIT 1),
    %(message)s,
    current_timestamp + %(ttl)s::interval
  ) RETURNING uuid;
"""

CREATE_REPLY = """
  INSERT INTO public.activities (user_uuid, message, reply_to_activity_uuid)
  VALUES (
    (SELECT uuid FROM public.users WHERE users.handle = %(handle)s LIMIT 1),
    %(message)s,
    %(reply_to_activity_uuid)s
  ) RETURNING uuid;
"""

# services/create_activity.py reads the new activity back with query_wrap_object.
ACTIVITY_OBJECT = query_wrap_object("""
  SELECT
    activities.uuid,
    users.display_name,
    users.handle,
    activities.message,
    activities.reply_to_activity_uuid,
    activities.created_at,
    activities.expires_at
  FROM public.activities
  INNER JOIN public.users ON users.uuid = activities.user_uuid
  WHERE activities.uuid = %(uuid)s
""")


def home_feed(conn):
    with conn.cursor() as cur:
        cur.execute(HOME_ACTIVITIES)
        # this will return a tuple, the first field being the data
        json = cur.fetchone()
    conn.rollback()
    return json[0]


def create(conn, sql, **params):
    with conn:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            (activity_uuid,) = cur.fetchone()
            cur.execute(ACTIVITY_OBJECT, {"uuid": activity_uuid})
            (obj,) = cur.fetchone()
    return activity_uuid, obj


def test_home_feed_returns_the_seeded_activities_newest_first(conn):
    feed = home_feed(conn)

    assert isinstance(feed, list)
    assert [a["uuid"] for a in feed] == [SEED_ACTIVITY_REPLY, SEED_ACTIVITY_BAYKO, SEED_ACTIVITY_BROWN]
    assert [(a["handle"], a["display_name"], a["message"]) for a in feed] == [
        ("londo", "Londo Mollari", "Welcome to Cruddur!"),
        ("bayko", "Andrew Bayko", "I am out of prune juice."),
        ("andrewbrown", "Andrew Brown", "This was imported as seed data!"),
    ]
    created = [a["created_at"] for a in feed]
    assert created == sorted(created, reverse=True)
    reply, _, original = feed
    assert reply["reply_to_activity_uuid"] == SEED_ACTIVITY_BROWN
    assert original["reply_to_activity_uuid"] is None
    assert original["replies_count"] == 1
    for a in feed:
        assert set(a) == {
            "uuid", "display_name", "handle", "message", "replies_count", "reposts_count",
            "likes_count", "reply_to_activity_uuid", "expires_at", "created_at",
        }
        assert isinstance(a["reposts_count"], int) and isinstance(a["likes_count"], int)
        assert a["expires_at"] is not None


def test_home_feed_of_an_empty_database_is_an_empty_array(conn):
    with conn:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM public.activities WHERE reply_to_activity_uuid IS NOT NULL")
            cur.execute("DELETE FROM public.activities")
    assert home_feed(conn) == []


def test_create_an_activity_and_see_it_first_in_the_feed(conn):
    new_uuid, obj = create(conn, CREATE_ACTIVITY, handle="bayko", message="Hello from a test", ttl="7 days")

    assert obj["uuid"] == new_uuid
    assert obj["handle"] == "bayko" and obj["display_name"] == "Andrew Bayko"
    assert obj["message"] == "Hello from a test"
    assert obj["reply_to_activity_uuid"] is None
    feed = home_feed(conn)
    assert feed[0]["uuid"] == new_uuid
    assert (feed[0]["replies_count"], feed[0]["reposts_count"], feed[0]["likes_count"]) == (0, 0, 0)
    assert len(feed) == 4


def test_create_a_reply_to_another_activity(conn):
    parent_uuid, _ = create(conn, CREATE_ACTIVITY, handle="andrewbrown", message="Parent", ttl="1 day")

    reply_uuid, obj = create(
        conn, CREATE_REPLY,
        handle="londo", message="A reply", reply_to_activity_uuid=parent_uuid,
    )

    assert obj["reply_to_activity_uuid"] == parent_uuid
    assert obj["handle"] == "londo"
    feed = home_feed(conn)
    by_uuid = {a["uuid"]: a for a in feed}
    assert by_uuid[reply_uuid]["reply_to_activity_uuid"] == parent_uuid
    assert feed[0]["uuid"] == reply_uuid


def test_a_reply_to_a_seeded_activity(conn):
    reply_uuid, obj = create(
        conn, CREATE_REPLY,
        handle="bayko", message="Me too", reply_to_activity_uuid=SEED_ACTIVITY_REPLY,
    )
    assert obj["reply_to_activity_uuid"] == SEED_ACTIVITY_REPLY


def test_a_reply_to_a_missing_activity_is_rejected(conn):
    with pytest.raises(psycopg2.errors.ForeignKeyViolation) as excinfo:
        create(
            conn, CREATE_REPLY,
            handle="bayko", message="Into the void", reply_to_activity_uuid=str(uuid.uuid4()),
        )
    assert excinfo.value.diag.constraint_name == "activities_reply_to_activity_uuid_fkey"
    assert len(home_feed(conn)) == 3


def test_an_activity_for_an_unknown_handle_is_rejected(conn):
    with pytest.raises(psycopg2.errors.NotNullViolation) as excinfo:
        create(conn, CREATE_ACTIVITY, handle="nobody", message="Who am I?", ttl="1 day")
    assert excinfo.value.diag.column_name == "user_uuid"


def test_an_activity_for_a_missing_user_uuid_is_rejected(conn):
    with pytest.raises(psycopg2.errors.ForeignKeyViolation) as excinfo:
        with conn:
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO public.activities (user_uuid, message) VALUES (%s, 'orphan')",
                    (str(uuid.uuid4()),),
                )
    assert excinfo.value.diag.constraint_name == "activities_user_uuid_fkey"


def test_seeded_users_are_there(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT handle, uuid::text FROM public.users ORDER BY handle")
        assert dict(cur.fetchall()) == SEED_USERS
