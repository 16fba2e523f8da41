-- 0001_history: channel history, the state that lets a restart continue each stream, and
-- partition maintenance. Applied by storage/migrate.c inside one transaction, under the
-- migration advisory lock; never edit a migration once released (its checksum is recorded
-- in tidegate_schema_versions and checked on every run): add 0002_*.sql instead.
-- Explained in docs/storage.md.

-- Every stored message. A message is named for good by (channel, epoch, msg_offset); its
-- published_at is assigned once by the channel's owner together with the offset, so a
-- resent row is identical to the stored one. PostgreSQL requires the partition key in
-- every unique index of a partitioned table, hence published_at in the primary key: it
-- still makes a resend a no-op (ON CONFLICT DO NOTHING), which is all the writer needs.
-- `data` is the publisher's JSON exactly as sent (type json keeps the text byte for byte;
-- jsonb would re-serialize it).
CREATE TABLE tidegate_history (
    channel      text        NOT NULL,
    epoch        text        NOT NULL,
    msg_offset   bigint      NOT NULL CHECK (msg_offset > 0),
    published_at timestamptz NOT NULL,
    user_id      text,
    data         json        NOT NULL,
    PRIMARY KEY (channel, epoch, msg_offset, published_at)
) PARTITION BY RANGE (published_at);

-- Rows whose day has no partition yet (maintenance not run, a clock far off) land here
-- instead of failing the batch; maintenance moves them into their day when it creates it.
CREATE TABLE tidegate_history_default PARTITION OF tidegate_history DEFAULT;

-- One row per process-lifetime of a batch writer (a worker of a gateway). drained_at is
-- set when the writer stopped cleanly with every message it accepted stored.
CREATE TABLE tidegate_writer_runs (
    run_id     bigint      PRIMARY KEY,
    label      text        NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    drained_at timestamptz
);

-- The newest stored message of each channel, updated in the same transaction as the
-- history rows, and the run that last wrote or resumed the channel.
CREATE TABLE tidegate_channel_state (
    channel           text        PRIMARY KEY,
    epoch             text        NOT NULL,
    last_offset       bigint      NOT NULL,
    last_published_at timestamptz NOT NULL,
    run_id            bigint      NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Called by a channel's new owner before it continues the channel's stream: returns the
-- newest stored (epoch, offset) and whether the run that last owned the channel stopped
-- with everything stored (drained), and claims the channel for p_run_id, so that if this
-- run in turn dies before draining, the next owner knows the stored stream may be short.
-- No row: the channel has no stored state.
CREATE FUNCTION tidegate_channel_resume(p_channel text, p_run_id bigint)
RETURNS TABLE (epoch text, last_offset bigint, last_published_at timestamptz, drained boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    st tidegate_channel_state%ROWTYPE;
BEGIN
    SELECT * INTO st FROM tidegate_channel_state s WHERE s.channel = p_channel FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    epoch := st.epoch;
    last_offset := st.last_offset;
    last_published_at := st.last_published_at;
    drained := EXISTS (SELECT 1 FROM tidegate_writer_runs r
                       WHERE r.run_id = st.run_id AND r.drained_at IS NOT NULL);
    UPDATE tidegate_channel_state s SET run_id = p_run_id, updated_at = now()
        WHERE s.channel = p_channel;
    RETURN NEXT;
END
$$;

-- Daily partitions (UTC days) named tidegate_history_pYYYYMMDD. Creates the partitions of
-- today and the next p_days_ahead days that are missing (moving any of their rows out of
-- the default partition), and when p_retain_days > 0 drops every daily partition that
-- ended more than p_retain_days days ago, deletes such old rows from the default
-- partition, and forgets writer runs that old which no channel refers to. Safe to call
-- from many writers at once: one runs, the others return at once (advisory lock). Waits
-- at most 100 ms for a table lock, so it never stalls the writers for long; a run that
-- could not get its locks fails and is retried by the next call.
CREATE FUNCTION tidegate_history_maintain(p_days_ahead integer, p_retain_days integer)
RETURNS TABLE (created integer, dropped integer)
LANGUAGE plpgsql AS $$
DECLARE
    today   date := (now() AT TIME ZONE 'UTC')::date;
    day     date;
    name    text;
    lo      timestamptz;
    hi      timestamptz;
    cutoff  timestamptz;
    part    record;
BEGIN
    created := 0;
    dropped := 0;
    IF p_days_ahead < 0 OR p_days_ahead > 366 OR p_retain_days < 0 THEN
        RAISE EXCEPTION 'tidegate_history_maintain: days_ahead must be 0..366 and '
                        'retain_days >= 0 (got %, %)', p_days_ahead, p_retain_days;
    END IF;
    IF NOT pg_try_advisory_xact_lock(8388346167643173990) THEN
        RETURN NEXT;
        RETURN;
    END IF;
    PERFORM set_config('lock_timeout', '100ms', true);
    FOR i IN 0 .. p_days_ahead LOOP
        day := today + i;
        name := 'tidegate_history_p' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        lo := day::timestamp AT TIME ZONE 'UTC';
        hi := (day + 1)::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('CREATE TABLE %I (LIKE tidegate_history INCLUDING DEFAULTS '
                       'INCLUDING CONSTRAINTS)', name);
        EXECUTE format('WITH moved AS (DELETE FROM tidegate_history_default '
                       'WHERE published_at >= $1 AND published_at < $2 RETURNING *) '
                       'INSERT INTO %I SELECT * FROM moved', name) USING lo, hi;
        EXECUTE format('ALTER TABLE tidegate_history ATTACH PARTITION %I '
                       'FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
        created := created + 1;
    END LOOP;
    IF p_retain_days > 0 THEN
        cutoff := (today - p_retain_days)::timestamp AT TIME ZONE 'UTC';
        FOR part IN
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'tidegate_history'::regclass
              AND c.relname ~ '^tidegate_history_p[0-9]{8}$'
              AND (to_date(substr(c.relname, 19), 'YYYYMMDD') + 1)::timestamp
                  AT TIME ZONE 'UTC' <= cutoff
        LOOP
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END LOOP;
        DELETE FROM tidegate_history_default WHERE published_at < cutoff;
        DELETE FROM tidegate_writer_runs r
            WHERE r.started_at < cutoff
              AND NOT EXISTS (SELECT 1 FROM tidegate_channel_state s WHERE s.run_id = r.run_id);
    END IF;
    RETURN NEXT;
END
$$;

-- Today and the next three days, so the first writes find their partition.
SELECT * FROM tidegate_history_maintain(3, 0);
