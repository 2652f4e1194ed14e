-- Signaling state shared by app instances (frontdesk/signaling/postgres.py; schema in 0003_signaling.sql).

-- name: signaling_listen
-- A psycopg.sql template: the channel is filled in as an Identifier, never as text.
LISTEN {channel};

-- name: signaling_session_settings
-- For the signaling pool's connections. Signaling state is ephemeral (a crash costs clients a reconnect
-- anyway), so commits do not wait for the WAL flush: NOTIFYing commits are serialised by Postgres, and
-- waiting for an fsync under that lock would cap relaying at a few thousand frames a second.
SET synchronous_commit = off;

-- name: signaling_notify
SELECT pg_notify(%(channel)s, %(payload)s);

-- ---- instances ------------------------------------------------------------------------------------------

-- name: signaling_lock_instance
-- Exclusive: sends to this instance wait while it (re)registers its listener and takes what waited for it.
SELECT pg_advisory_xact_lock(1936287599, hashtext(%(instance_id)s));

-- name: signaling_register_instance
-- Run on the LISTEN connection itself: records that session's pid and start time.
INSERT INTO signaling_instances (instance_id, heartbeat_at, listener_pid, listener_started)
SELECT %(instance_id)s, now(), a.pid, a.backend_start FROM pg_stat_get_activity(pg_backend_pid()) a
ON CONFLICT (instance_id) DO UPDATE
SET heartbeat_at = excluded.heartbeat_at, listener_pid = excluded.listener_pid,
    listener_started = excluded.listener_started;

-- name: signaling_take_instance_frames
-- Frames that waited while this instance's listener was away, for the sockets attached to it.
DELETE FROM signaling_frames f USING signaling_inboxes i
WHERE i.address = f.address AND i.attached_instance = %(instance_id)s
RETURNING f.id, f.address, f.frame;

-- name: signaling_heartbeat
UPDATE signaling_instances SET heartbeat_at = now() WHERE instance_id = %(instance_id)s;

-- name: signaling_remove_instance
DELETE FROM signaling_instances WHERE instance_id = %(instance_id)s;

-- ---- rooms ----------------------------------------------------------------------------------------------

-- name: signaling_lock_room_count
SELECT pg_advisory_xact_lock(1936287600, 0);

-- name: signaling_count_rooms
SELECT count(*) AS rooms FROM signaling_rooms;

-- name: signaling_insert_room
INSERT INTO signaling_rooms (room_id, record, peer_count) VALUES (%(room_id)s, %(record)s::jsonb, %(peer_count)s);

-- name: signaling_get_room
SELECT record::text AS record FROM signaling_rooms WHERE room_id = %(room_id)s;

-- name: signaling_lock_room
SELECT record::text AS record FROM signaling_rooms WHERE room_id = %(room_id)s FOR UPDATE;

-- name: signaling_update_room
UPDATE signaling_rooms SET record = %(record)s::jsonb, peer_count = %(peer_count)s, updated_at = now()
WHERE room_id = %(room_id)s;

-- name: signaling_delete_room
DELETE FROM signaling_rooms WHERE room_id = %(room_id)s;

-- name: signaling_room_ids
SELECT room_id FROM signaling_rooms;

-- name: signaling_counts
SELECT count(*) AS rooms, coalesce(sum(peer_count), 0)::bigint AS peers FROM signaling_rooms;

-- ---- inboxes --------------------------------------------------------------------------------------------

-- name: signaling_open_inbox
INSERT INTO signaling_inboxes (address, room_id, peer_id) VALUES (%(address)s, %(room_id)s, %(peer_id)s)
ON CONFLICT (address) DO NOTHING;

-- name: signaling_lock_address
-- Exclusive: no send to this address is half done while it is attached or closed.
SELECT pg_advisory_xact_lock(1936287598, hashtext(%(address)s));

-- name: signaling_close_inbox
DELETE FROM signaling_inboxes WHERE address = %(address)s RETURNING attached_instance, attachment;

-- name: signaling_drop_frames
DELETE FROM signaling_frames WHERE address = %(address)s;

-- name: signaling_attach
-- Returns where the inbox was attached before (to tell that socket it was replaced); no row: no inbox.
UPDATE signaling_inboxes i SET attached_instance = %(instance_id)s, attachment = %(attachment)s
FROM (SELECT address, attached_instance, attachment FROM signaling_inboxes WHERE address = %(address)s FOR UPDATE) p
WHERE i.address = p.address
RETURNING p.attached_instance AS previous_instance, p.attachment AS previous_attachment;

-- name: signaling_take_frames
DELETE FROM signaling_frames WHERE address = %(address)s RETURNING id, frame;

-- name: signaling_take_frame
-- A large frame notified by id; nothing when a newer attach of its inbox has taken it already.
DELETE FROM signaling_frames WHERE id = %(id)s RETURNING address, frame;

-- name: signaling_detach
UPDATE signaling_inboxes SET attached_instance = NULL, attachment = NULL
WHERE address = %(address)s AND attachment = %(attachment)s;

-- name: signaling_host
-- The room record now names a socket on this instance for the peer (same transaction as the record).
UPDATE signaling_inboxes SET host_instance = %(instance_id)s, host_connection = %(connection)s, hosted_at = now()
WHERE address = %(address)s;

-- name: signaling_unhost
-- The peer is away: nobody holds its socket. If it was attached where it was hosted (a dead instance, or a
-- socket lost without a detach), frames wait from now on instead of going to a listener that has no socket.
UPDATE signaling_inboxes
SET host_instance = NULL, host_connection = NULL, hosted_at = NULL,
    attached_instance = CASE WHEN attached_instance = host_instance THEN NULL ELSE attached_instance END,
    attachment = CASE WHEN attached_instance = host_instance THEN NULL ELSE attachment END
WHERE address = %(address)s AND host_connection = %(connection)s;

-- name: signaling_send
SELECT signaling_send(
    %(address)s, %(frame)s, %(sent_at)s, %(not_here)s, %(max_frames)s, %(max_bytes)s
) AS outcome;

-- ---- liveness and cleanup -------------------------------------------------------------------------------

-- name: signaling_stale_hosts
-- Peers whose socket is on another instance that has not beaten its heart within the liveness timeout
-- (or is gone), and for how long that instance has been silent.
SELECT i.room_id, i.peer_id, i.host_connection,
       extract(epoch FROM now() - coalesce(s.heartbeat_at, i.hosted_at))::float8 AS silent_for
FROM signaling_inboxes i
LEFT JOIN signaling_instances s ON s.instance_id = i.host_instance
WHERE i.host_instance IS NOT NULL AND i.host_instance <> %(instance_id)s
  AND (s.instance_id IS NULL OR s.heartbeat_at < now() - make_interval(secs => %(timeout)s))
ORDER BY i.room_id;

-- name: signaling_hosts_of
-- Peers the room records place on this instance (hosted a while ago: a join between its record and its
-- attach is not mistaken for a lost socket).
SELECT room_id, peer_id, host_connection FROM signaling_inboxes
WHERE host_instance = %(instance_id)s AND hosted_at < now() - make_interval(secs => %(settle)s);

-- name: signaling_attachments_of
SELECT address, attachment FROM signaling_inboxes WHERE attached_instance = %(instance_id)s;

-- name: signaling_inbox_attachments
SELECT address, attached_instance FROM signaling_inboxes WHERE address = ANY(%(addresses)s);

-- name: signaling_delete_orphan_frames
-- Frames whose inbox is gone (closed while a send was under way, or a large frame whose reader died).
DELETE FROM signaling_frames f
WHERE f.created_at < now() - make_interval(secs => %(age)s)
  AND NOT EXISTS (SELECT 1 FROM signaling_inboxes i WHERE i.address = f.address);

-- name: signaling_delete_orphan_inboxes
-- Inboxes opened for a room that was never created (an instance died between the two) or is gone.
DELETE FROM signaling_inboxes i
WHERE i.opened_at < now() - make_interval(secs => %(age)s)
  AND NOT EXISTS (SELECT 1 FROM signaling_rooms r WHERE r.room_id = i.room_id);

-- name: signaling_delete_dead_instances
DELETE FROM signaling_instances s
WHERE s.heartbeat_at < now() - make_interval(secs => %(age)s)
  AND NOT EXISTS (SELECT 1 FROM signaling_inboxes i WHERE i.host_instance = s.instance_id);
