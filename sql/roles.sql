-- colpali-pg roles: least privilege for a database shared by migrations,
-- ingest and search. Run once per database, as a superuser or as a role
-- with CREATEROLE that owns the database:
--
--     psql -d colpali -f sql/roles.sql
--
-- then let the owner log in (it runs `colpali migrate` itself, so that the
-- tables are its own and the default privileges below apply to them), and
-- give the other services logins of their own in the matching group:
--
--     ALTER ROLE colpali_owner LOGIN PASSWORD '...';
--     CREATE ROLE colpali_ingest LOGIN PASSWORD '...' IN ROLE colpali_writer;
--     CREATE ROLE colpali_search LOGIN PASSWORD '...' IN ROLE colpali_reader;
--
-- colpali_owner   creates the extension and the tables (`colpali migrate`).
-- colpali_writer  ingests: reads and writes documents, pages and the queue;
--                 cannot change the schema or the migration ledger.
-- colpali_reader  searches: reads documents and pages, nothing else.
-- colpali_tenant  a marker: logins in it (as well as in the writer or reader
--                 group) see and write only the rows of the tenant their
--                 session names with SET colpali.tenant = '...', and nothing
--                 while it names none (row-level security, migration 0005).
--
--     CREATE ROLE app_search LOGIN PASSWORD '...' IN ROLE colpali_reader, colpali_tenant;
--
-- colpali.tenant is set by the application, so the marker guards against an
-- application's mistakes (a query that forgot its tenant), not against an
-- application that chooses to name another tenant. Give mutually distrusting
-- clients their own databases, or name the tenant for them: an owner can pin
-- it with ALTER ROLE app_acme SET colpali.tenant = 'acme' only as a default,
-- which the session may still change.
--
-- Idempotent: safe to run again after upgrades. Privileges on tables that
-- later migrations create follow from the default privileges below.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'colpali_owner') THEN
        CREATE ROLE colpali_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'colpali_writer') THEN
        CREATE ROLE colpali_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'colpali_reader') THEN
        CREATE ROLE colpali_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'colpali_tenant') THEN
        CREATE ROLE colpali_tenant NOLOGIN;
    END IF;
    -- CREATE EXTENSION colpali (a trusted extension) needs CREATE on the database.
    EXECUTE format('GRANT CREATE, CONNECT ON DATABASE %I TO colpali_owner', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO colpali_writer, colpali_reader', current_database());
END
$$;

GRANT USAGE, CREATE ON SCHEMA public TO colpali_owner;
GRANT USAGE ON SCHEMA public TO colpali_writer, colpali_reader;

-- Tables the owner creates from now on.
ALTER DEFAULT PRIVILEGES FOR ROLE colpali_owner IN SCHEMA public
    GRANT SELECT ON TABLES TO colpali_reader, colpali_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE colpali_owner IN SCHEMA public
    GRANT INSERT, UPDATE, DELETE ON TABLES TO colpali_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE colpali_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO colpali_writer;

-- Tables that already exist (a database migrated before the roles).
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables
             WHERE schemaname = 'public' AND tablename IN ('collections', 'documents', 'pages', 'ingest_jobs', 'schema_migrations')
    LOOP
        EXECUTE format('GRANT SELECT ON public.%I TO colpali_reader, colpali_writer', t);
        IF t <> 'schema_migrations' THEN
            EXECUTE format('GRANT INSERT, UPDATE, DELETE ON public.%I TO colpali_writer', t);
        END IF;
    END LOOP;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO colpali_writer;
END
$$;

-- Only the owner writes the migration ledger (the default privileges above
-- would give the writer that too; the migrator revokes it when it creates
-- the table, and this covers a ledger made earlier).
DO $$
BEGIN
    IF to_regclass('public.schema_migrations') IS NOT NULL THEN
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.schema_migrations FROM colpali_writer;
    END IF;
END
$$;
