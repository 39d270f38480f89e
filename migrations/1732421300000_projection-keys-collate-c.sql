-- Up Migration

-- The entitlement read model's keys compare bytes, as the log's do since
-- 1732421200000_key-columns-collate-c: ent_subscriptions.key and .subject, ent_subjects.subject.
-- They are matched by equality only (a subject's row, a subscription's fold, `= ANY` of a
-- batch's keys), never sorted for a reader, and equality is the same under every database
-- collation; under a linguistic one (en_US.UTF-8) each comparison in their indexes went through
-- the locale. The projector upserts both tables for every event it applies.
--
-- Measured on a 2-core VM with PostgreSQL 15 initialised with en_US.UTF-8, `bench:project` with
-- 300,000 events over 30,000 subjects, two runs against two of the release before: the blue/green
-- rebuild through the admin API made 40,457 and 38,722 events/s against 28,640 and 31,530
-- (1.23-1.41x); the live projector's catch-up (8,191 and 8,014 against 6,827 and 8,360) and
-- the rebuild from zero (69,875 and 53,783 against 57,242 and 59,952) moved within the VM's
-- noise (its raw cursor read made 78,000-99,000 events/s across those runs).
--
-- A rebuild makes its generation (ent_*__<suffix>) LIKE the live tables, so generations made
-- after this have the same collations. One made before it, by a rebuild still running, is given
-- them here, so that swapping it in does not bring the default back.
--
-- The tables are not rewritten; their indexes on these columns are built again while the
-- migration holds their locks (the projector and entitlement reads wait meanwhile).
ALTER TABLE ent_subscriptions ALTER COLUMN key TYPE text COLLATE "C", ALTER COLUMN subject TYPE text COLLATE "C";
ALTER TABLE ent_subjects ALTER COLUMN subject TYPE text COLLATE "C";
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ '^ent_subscriptions__' LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN key TYPE text COLLATE "C", ALTER COLUMN subject TYPE text COLLATE "C"', t);
  END LOOP;
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ '^ent_subjects__' LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN subject TYPE text COLLATE "C"', t);
  END LOOP;
END $$;

-- Down Migration
ALTER TABLE ent_subscriptions ALTER COLUMN key TYPE text COLLATE "default", ALTER COLUMN subject TYPE text COLLATE "default";
ALTER TABLE ent_subjects ALTER COLUMN subject TYPE text COLLATE "default";
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ '^ent_subscriptions__' LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN key TYPE text COLLATE "default", ALTER COLUMN subject TYPE text COLLATE "default"', t);
  END LOOP;
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ '^ent_subjects__' LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN subject TYPE text COLLATE "default"', t);
  END LOOP;
END $$;
