-- 0001: the extension and the core tables.
--
-- Every page row carries its document id and the page key starts with it, so
-- both tables can be distributed by document (e.g. Citus) without changes.

CREATE EXTENSION IF NOT EXISTS colpali;

CREATE TABLE documents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_uri      text NOT NULL,
    -- SHA-256 of the source file's bytes: the same file is stored once.
    content_hash    bytea NOT NULL UNIQUE CHECK (length(content_hash) = 32),
    title           text,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    page_count      integer CHECK (page_count >= 0),
    -- Which model embedded the pages (Hub id or path, with revision), with
    -- which prompt format, and the vector dimension: pages from different
    -- models must never be compared.
    model           text NOT NULL,
    prompt_format   text NOT NULL,
    embedding_dim   integer NOT NULL CHECK (embedding_dim > 0),
    -- Pages are searchable only once the document is 'ready'.
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'failed') = (error IS NOT NULL))
);

CREATE INDEX documents_status_model ON documents (status, model);
CREATE INDEX documents_source_uri ON documents (source_uri text_pattern_ops);
CREATE INDEX documents_created_at ON documents (created_at);
CREATE INDEX documents_metadata ON documents USING gin (metadata jsonb_path_ops);

CREATE TABLE pages (
    document_id     bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    page_number     integer NOT NULL CHECK (page_number >= 1),
    -- Size of the rendered page image handed to the model, in pixels.
    width           integer NOT NULL CHECK (width > 0),
    height          integer NOT NULL CHECK (height > 0),
    -- Optional compressed rendering (PNG or JPEG), to show the page or pass it to a VLM.
    image           bytea,
    image_type      text CHECK (image_type IN ('image/png', 'image/jpeg')),
    -- The multi-vector: a rows x dim real[][], every token the model returns.
    embedding       real[] NOT NULL CHECK (array_ndims(embedding) = 2),
    -- The leading rows that are image patches, on a patch_grid x patch_grid grid
    -- (1024 rows, 32 x 32 for ColPali): what similarity maps are drawn from.
    patch_grid      integer NOT NULL CHECK (patch_grid >= 0),
    -- Sign-bit codes for the prefilter, always derived from the embedding.
    embedding_codes bytea GENERATED ALWAYS AS (binary_quantize(embedding)) STORED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, id),
    UNIQUE (document_id, page_number),
    CHECK ((image IS NULL) = (image_type IS NULL)),
    CHECK (patch_grid * patch_grid <= array_length(embedding, 1))
);

CREATE INDEX pages_id ON pages (id);

-- The vectors are float noise to a compressor: store them out of line
-- without trying to compress (pgvector does the same for its large types).
ALTER TABLE pages ALTER COLUMN embedding SET STORAGE EXTERNAL;
ALTER TABLE pages ALTER COLUMN embedding_codes SET STORAGE EXTERNAL;
ALTER TABLE pages ALTER COLUMN image SET STORAGE EXTERNAL;
