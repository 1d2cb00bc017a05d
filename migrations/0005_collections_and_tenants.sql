-- 0005: collections, tenants, and documents deduplicated within them.
--
-- A collection is what Qdrant calls a collection: pages embedded by one
-- model (by content, not by path), with one dimension and prompt format, so
-- vectors of different models never meet. A tenant is an application's
-- partition inside a collection, enforced by row-level security for roles in
-- colpali_tenant (sql/roles.sql). The same file is one document per
-- collection and tenant; its pages can be added range by range.
--
-- Distributable on Citus by document (docs/scale-out.md): documents and
-- pages keep the document id in every key; collections is small (a
-- reference table there).

CREATE TABLE collections (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    -- 'sha256:...' of the model's configuration, tokenizer and weights files
    -- (ColPaliModel's ModelIdentity). Collections carried over from before
    -- identities hold 'name:' and the model's name or path until the first
    -- ingest with that model records its identity.
    model_identity  text NOT NULL CHECK (model_identity ~ '^(sha256:[0-9a-f]{64}|name:.+)$'),
    -- The model's name when last used (Hub id with revision, or path), for people.
    model_name      text NOT NULL,
    embedding_dim   integer NOT NULL CHECK (embedding_dim > 0),
    prompt_format   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Existing documents: one collection per (model, dimension, prompt format),
-- the one with the most documents named 'default', the others 'default-2', ...
INSERT INTO collections (name, model_identity, model_name, embedding_dim, prompt_format)
SELECT CASE WHEN rank = 1 THEN 'default' ELSE 'default-' || rank END, 'name:' || model, model, embedding_dim, prompt_format
FROM (SELECT model, embedding_dim, prompt_format, row_number() OVER (ORDER BY count(*) DESC, min(id)) AS rank
      FROM documents GROUP BY model, embedding_dim, prompt_format) grouped
ORDER BY rank;

ALTER TABLE documents ADD COLUMN collection_id bigint REFERENCES collections (id) ON DELETE CASCADE;
UPDATE documents d SET collection_id = c.id
FROM collections c
WHERE c.model_name = d.model AND c.embedding_dim = d.embedding_dim AND c.prompt_format = d.prompt_format;
ALTER TABLE documents ALTER COLUMN collection_id SET NOT NULL;

-- '' is no tenant.
ALTER TABLE documents ADD COLUMN tenant text NOT NULL DEFAULT '' CHECK (length(tenant) <= 200);
-- Pages in the source file; page_count stays the number stored.
ALTER TABLE documents ADD COLUMN source_page_count integer CHECK (source_page_count >= 0);
UPDATE documents SET source_page_count = page_count;

-- Dedup within a collection and tenant, not across everything.
ALTER TABLE documents DROP CONSTRAINT documents_content_hash_key;
ALTER TABLE documents ADD CONSTRAINT documents_content UNIQUE (collection_id, tenant, content_hash);

-- The model columns now live on the collection.
DROP INDEX documents_status_model;
ALTER TABLE documents DROP COLUMN model, DROP COLUMN prompt_format, DROP COLUMN embedding_dim;
CREATE INDEX documents_collection_status ON documents (collection_id, status);

-- Pages carry their document's tenant (for row-level security without a
-- join), kept equal to it by the foreign key. A document's tenant is part of
-- its key and never changes (no ON UPDATE CASCADE: Citus refuses one on a
-- key that includes the distribution column).
ALTER TABLE documents ADD CONSTRAINT documents_id_tenant UNIQUE (id, tenant);
ALTER TABLE pages ADD COLUMN tenant text NOT NULL DEFAULT '';
UPDATE pages p SET tenant = d.tenant FROM documents d WHERE d.id = p.document_id;
ALTER TABLE pages ADD CONSTRAINT pages_document_tenant FOREIGN KEY (document_id, tenant)
    REFERENCES documents (id, tenant) ON DELETE CASCADE;

-- A page's vectors have its collection's dimension: one page of another
-- model would make every search of the collection fail.
CREATE FUNCTION pages_check_dimension() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    expected integer;
BEGIN
    SELECT c.embedding_dim INTO expected
    FROM documents d JOIN collections c ON c.id = d.collection_id WHERE d.id = NEW.document_id;
    IF expected IS DISTINCT FROM multivector_dim(NEW.embedding) THEN
        RAISE EXCEPTION 'page % of document % has % columns; its collection''s model makes %',
            NEW.page_number, NEW.document_id, multivector_dim(NEW.embedding), expected
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER pages_check_dimension BEFORE INSERT OR UPDATE OF embedding ON pages
    FOR EACH ROW EXECUTE FUNCTION pages_check_dimension();

-- Jobs name their document without a foreign key: on Citus the queue stays
-- on the coordinator while documents are distributed.
ALTER TABLE ingest_jobs DROP CONSTRAINT ingest_jobs_document_id_fkey;

-- Row-level security: roles in colpali_tenant see and write only the rows
-- of the tenant their session names (SET colpali.tenant = '...'); nothing
-- when it names none. Other roles are not restricted; the tables' owner
-- never is.
CREATE FUNCTION colpali_tenant_restricted() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = 'colpali_tenant'
                                            AND pg_has_role(current_user, r.oid, 'MEMBER'))
$$;
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE pages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON documents
    USING (NOT colpali_tenant_restricted() OR tenant = current_setting('colpali.tenant', true))
    WITH CHECK (NOT colpali_tenant_restricted() OR tenant = current_setting('colpali.tenant', true));
CREATE POLICY tenant_isolation ON pages
    USING (NOT colpali_tenant_restricted() OR tenant = current_setting('colpali.tenant', true))
    WITH CHECK (NOT colpali_tenant_restricted() OR tenant = current_setting('colpali.tenant', true));
