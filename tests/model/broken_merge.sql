-- broken_merge.sql: breaks the merge on purpose, to see the model test catch it (run.py --sql):
-- every target bin judged partial is stored as down. Never part of the schema.
CREATE OR REPLACE FUNCTION public.pxm_break() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.scope = 'target' AND NEW.state = 'partial' THEN NEW.state := 'down'; END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS pxm_break ON parallax.bins;
CREATE TRIGGER pxm_break BEFORE INSERT OR UPDATE ON parallax.bins FOR EACH ROW EXECUTE FUNCTION public.pxm_break();
