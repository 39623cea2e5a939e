-- Development data: a few users and activities, one of them a reply.
--
-- Applied by `deploy apply` once, after the migrations, in one transaction (so:
-- no BEGIN/COMMIT here). The rows have fixed UUIDs and ON CONFLICT (uuid) DO
-- NOTHING, so running the file again changes nothing; a real user who already
-- holds one of these handles or emails makes it fail loudly instead.
--
-- The cognito_user_id values are placeholders, not Cognito subs: these users
-- cannot sign in. The emails use example.com, a domain reserved for examples.
-- Activity times are relative to now, so the feed order is fixed:
-- newest first is the reply, then Andrew Bayko's, then Andrew Brown's.

INSERT INTO public.users (uuid, display_name, handle, email, cognito_user_id)
VALUES
  ('00000000-0000-4000-8000-000000000001', 'Andrew Brown',  'andrewbrown', 'andrewbrown@example.com', 'MOCK-andrewbrown'),
  ('00000000-0000-4000-8000-000000000002', 'Andrew Bayko',  'bayko',       'bayko@example.com',       'MOCK-bayko'),
  ('00000000-0000-4000-8000-000000000003', 'Londo Mollari', 'londo',       'londo@example.com',       'MOCK-londo')
ON CONFLICT (uuid) DO NOTHING;

INSERT INTO public.activities
  (uuid, user_uuid, message, replies_count, reply_to_activity_uuid, expires_at, created_at)
VALUES
  ('00000000-0000-4000-8000-00000000a001', '00000000-0000-4000-8000-000000000001',
   'This was imported as seed data!', 1, NULL,
   current_timestamp + interval '10 days', current_timestamp - interval '3 hours'),
  ('00000000-0000-4000-8000-00000000a002', '00000000-0000-4000-8000-000000000002',
   'I am out of prune juice.', 0, NULL,
   current_timestamp + interval '10 days', current_timestamp - interval '2 hours'),
  -- A reply to Andrew Brown's activity (its replies_count is 1 above).
  ('00000000-0000-4000-8000-00000000a003', '00000000-0000-4000-8000-000000000003',
   'Welcome to Cruddur!', 0, '00000000-0000-4000-8000-00000000a001',
   current_timestamp + interval '10 days', current_timestamp - interval '1 hour')
ON CONFLICT (uuid) DO NOTHING;
