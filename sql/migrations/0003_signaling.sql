-- 0003: signaling state shared by app instances (SIGNALING_BACKEND=postgres; docs/signaling.md, "Scale-out").
--
-- Nothing here is customer data: rooms, which instance holds which peer's socket, and frames waiting for a
-- peer. All of it is short-lived: frames are deleted when delivered, inboxes when their peer leaves, rooms
-- IDLE_ROOM_SECONDS after their last peer left.
--
-- Advisory locks, two-key form (a key space apart from the migrator's one-key lock):
--   (1936287598, hashtext(address))     an inbox: sends take it shared, attach/close exclusive
--   (1936287599, hashtext(instance_id)) an instance's listener: sends take it shared, (re)registering exclusive
--   (1936287600, 0)                     the room count, while a room is created under MAX_ROOMS

-- One row per running app instance; its LISTEN channel is 'frontdesk_signaling_' || instance_id.
CREATE TABLE signaling_instances (
    instance_id text PRIMARY KEY CHECK (instance_id ~ '^[a-f0-9]+$' AND length(instance_id) = 16),
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    -- The LISTEN session: its backend pid and start time (a pid alone may be reused after a restart).
    listener_pid integer,
    listener_started timestamptz
);

-- A room as frontdesk.signaling.backend.RoomRecord (JSON), edited under SELECT ... FOR UPDATE.
CREATE TABLE signaling_rooms (
    room_id text PRIMARY KEY,
    record jsonb NOT NULL,
    peer_count integer NOT NULL CHECK (peer_count >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A peer's inbox, "room_id/peer_id". host_*: the instance holding the socket the room record names (set in
-- the same transaction as the record, so an instance that dies at any moment leaves its peers findable);
-- attached_*: where frames are notified to (NULL while no socket is attached: frames then wait below).
CREATE TABLE signaling_inboxes (
    address text PRIMARY KEY,
    room_id text NOT NULL,
    peer_id text NOT NULL,
    opened_at timestamptz NOT NULL DEFAULT now(),
    host_instance text,
    host_connection text,
    hosted_at timestamptz,
    attached_instance text,
    attachment text
);
CREATE INDEX signaling_inboxes_room_idx ON signaling_inboxes (room_id);
CREATE INDEX signaling_inboxes_host_idx ON signaling_inboxes (host_instance) WHERE host_instance IS NOT NULL;
CREATE INDEX signaling_inboxes_attached_idx ON signaling_inboxes (attached_instance)
    WHERE attached_instance IS NOT NULL;

-- Frames that cannot ride in a NOTIFY: too large for its payload (notified by id), or for a peer with no
-- listening socket (flushed, in id order, when one attaches or its instance listens again).
CREATE TABLE signaling_frames (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address text NOT NULL,
    frame text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signaling_frames_address_idx ON signaling_frames (address, id);

-- Route one frame to a peer, in one round trip. Returns
--   'notified'       (a NOTIFY to the instance its socket is attached to, the frame inline),
--   'notified_by_id' (the same, for a payload at or over NOTIFY's 8000-byte limit: stored, its id notified),
--   'waiting'  (no listening socket: stored until one attaches), 'full' (too much waits), 'no_inbox'.
-- not_here: an instance that has no socket for the address although the row may still say so (a frame it
-- got while detaching); it is treated as not listening, so the frame waits instead of bouncing back.
CREATE FUNCTION signaling_send(
    p_address text, p_frame text, p_sent_at double precision, p_not_here text,
    p_max_frames integer, p_max_bytes bigint
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    target text;
    pid integer;
    started timestamptz;
    listening boolean := false;
    payload text;
    frame_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1936287598, hashtext(p_address));
    SELECT attached_instance INTO target FROM signaling_inboxes WHERE address = p_address;
    IF NOT FOUND THEN
        RETURN 'no_inbox';
    END IF;
    IF target IS NOT NULL AND target IS DISTINCT FROM p_not_here THEN
        PERFORM pg_advisory_xact_lock_shared(1936287599, hashtext(target));
        SELECT listener_pid, listener_started INTO pid, started FROM signaling_instances WHERE instance_id = target;
        IF pid IS NOT NULL THEN
            -- Is that instance's LISTEN session alive now? (After a database restart it is not, until the
            -- instance reconnects; a NOTIFY meanwhile would be lost, so the frame waits instead.)
            SELECT EXISTS (SELECT 1 FROM pg_stat_get_activity(pid) a WHERE a.backend_start = started)
                INTO listening;
        END IF;
    END IF;
    IF listening THEN
        payload := 'f|' || p_sent_at || '|' || p_address || '|' || p_frame;
        IF octet_length(payload) >= 8000 THEN
            INSERT INTO signaling_frames (address, frame) VALUES (p_address, p_frame) RETURNING id INTO frame_id;
            PERFORM pg_notify('frontdesk_signaling_' || target, 'k|' || p_sent_at || '|' || frame_id);
            RETURN 'notified_by_id';
        END IF;
        PERFORM pg_notify('frontdesk_signaling_' || target, payload);
        RETURN 'notified';
    END IF;
    IF (SELECT count(*) >= p_max_frames OR coalesce(sum(octet_length(frame)), 0) + octet_length(p_frame) > p_max_bytes
        FROM signaling_frames WHERE address = p_address) THEN
        RETURN 'full';
    END IF;
    INSERT INTO signaling_frames (address, frame) VALUES (p_address, p_frame);
    RETURN 'waiting';
END
$$;
