-- 0003: the ingest queue.
--
-- Work for colpali-ingest daemons. Anyone may enqueue with plain SQL:
--     INSERT INTO ingest_jobs (source_uri) VALUES ('/data/inbox/report.pdf');
-- A daemon claims the oldest claimable job with FOR UPDATE SKIP LOCKED (so
-- several daemons share the queue without contention), holds it under a
-- lease it renews while working, and marks it done in the same transaction
-- that stores the document. A daemon that dies stops renewing; once the lease
-- has expired any daemon takes the job over, so nothing queued is lost.

CREATE TABLE ingest_jobs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_uri          text NOT NULL CHECK (source_uri <> ''),
    -- Per-job settings: {"force": true, "pages": "1-5", "dpi": 150,
    -- "store_images": true, "title": "...", "metadata": {...}}
    options             jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(options) = 'object'),
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts            integer NOT NULL DEFAULT 0,
    claimed_by          text,
    lease_expires_at    timestamptz,
    document_id         bigint REFERENCES documents (id) ON DELETE SET NULL,
    error               text,
    enqueued_at         timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    CHECK ((status = 'running') = (lease_expires_at IS NOT NULL))
);

-- What a claim looks for: queued jobs, and running ones whose lease ran out.
CREATE INDEX ingest_jobs_claimable ON ingest_jobs (id) WHERE status IN ('queued', 'running');

-- Wake sleeping daemons when work arrives (they also poll, in case a
-- notification is missed).
CREATE FUNCTION ingest_jobs_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('colpali_ingest', NEW.id::text);
    RETURN NEW;
END;
$$;

CREATE TRIGGER ingest_jobs_notify AFTER INSERT ON ingest_jobs
    FOR EACH ROW EXECUTE FUNCTION ingest_jobs_notify();
