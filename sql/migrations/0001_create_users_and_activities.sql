-- Cruddur's users and activities: the seed's db/schema.sql, made safe.
--
-- Applied by `deploy apply` in its own transaction (so: no BEGIN/COMMIT here),
-- once, and recorded with its checksum in deploy_migrations. Never edit this
-- file after it has been applied anywhere: add 0002_....sql instead.
--
-- Every name is schema-qualified, so the file does not depend on the session's
-- search_path.
--
-- Changes from the seed's schema:
--   * uuid-ossp is created here (the seed assumed it existed), in schema public.
--   * handle, email and cognito_user_id are unique: the post-confirmation Lambda
--     relies on ON CONFLICT (cognito_user_id), and handles name users in URLs.
--   * activities.user_uuid is a foreign key to users.
--   * the counters are NOT NULL DEFAULT 0 (the seed allowed NULL counters) and
--     cannot go negative.
--   * reply_to_activity_uuid is a UUID referencing activities (the seed
--     declared it integer, which cannot hold an activity's UUID).
--   * indexes for the home feed (newest first) and for the foreign keys.
-- Timestamps stay `timestamp` (without time zone) as in the seed, because the
-- app's JSON output and queries were written against that type.

CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;

CREATE TABLE public.users (
  uuid            uuid      NOT NULL DEFAULT public.uuid_generate_v4(),
  display_name    text      NOT NULL,
  handle          text      NOT NULL,
  email           text      NOT NULL,
  cognito_user_id text      NOT NULL,
  created_at      timestamp NOT NULL DEFAULT current_timestamp,
  CONSTRAINT users_pkey                PRIMARY KEY (uuid),
  CONSTRAINT users_handle_key          UNIQUE (handle),
  CONSTRAINT users_email_key           UNIQUE (email),
  CONSTRAINT users_cognito_user_id_key UNIQUE (cognito_user_id)
);

CREATE TABLE public.activities (
  uuid                   uuid      NOT NULL DEFAULT public.uuid_generate_v4(),
  user_uuid              uuid      NOT NULL,
  message                text      NOT NULL,
  replies_count          integer   NOT NULL DEFAULT 0,
  reposts_count          integer   NOT NULL DEFAULT 0,
  likes_count            integer   NOT NULL DEFAULT 0,
  reply_to_activity_uuid uuid,
  expires_at             timestamp,
  created_at             timestamp NOT NULL DEFAULT current_timestamp,
  CONSTRAINT activities_pkey PRIMARY KEY (uuid),
  CONSTRAINT activities_user_uuid_fkey
    FOREIGN KEY (user_uuid) REFERENCES public.users (uuid),
  CONSTRAINT activities_reply_to_activity_uuid_fkey
    FOREIGN KEY (reply_to_activity_uuid) REFERENCES public.activities (uuid),
  CONSTRAINT activities_counters_not_negative
    CHECK (replies_count >= 0 AND reposts_count >= 0 AND likes_count >= 0)
);

-- The home feed (services/home_activities.py) reads activities ORDER BY
-- created_at DESC; this index returns them in that order without a sort.
CREATE INDEX activities_created_at_idx
  ON public.activities (created_at DESC);

-- Foreign keys are not indexed automatically. These serve a user's own
-- activities, the replies to an activity, and the checks made when a user or
-- an activity is deleted.
CREATE INDEX activities_user_uuid_idx
  ON public.activities (user_uuid);
CREATE INDEX activities_reply_to_activity_uuid_idx
  ON public.activities (reply_to_activity_uuid)
  WHERE reply_to_activity_uuid IS NOT NULL;
