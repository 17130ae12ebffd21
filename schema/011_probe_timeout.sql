-- 011_probe_timeout: a probe's timeout is shorter than its interval. An agent does not start a
-- run while the previous run of the same probe is still going, so a timeout as long as the
-- interval (5 s every 5 s) lost every other run exactly when runs last until their timeout:
-- during an outage. Existing rows are clamped, and a CHECK keeps any insert or update from
-- bringing that hole back.

-- Clamped to half the interval, the default `parallaxctl target add` gives short intervals.
-- First, or adding the check below fails on these rows.
UPDATE parallax.probes SET timeout_ms = least(timeout_ms, interval_s * 500)
WHERE timeout_ms >= interval_s * 1000;

-- The column default (5000) cannot stay: with the check it would make every insert of a probe
-- run every 5 s or less that names no timeout fail. parallaxctl always passes a timeout
-- (min(5000, interval_s * 500) unless told otherwise), so the default is dropped and, for SQL
-- that names none (test fixtures, benchmarks, a hand-written INSERT), the trigger below fills
-- in that same rule. NOT NULL is checked after BEFORE triggers have run, so it still holds.
ALTER TABLE parallax.probes ALTER COLUMN timeout_ms DROP DEFAULT;

CREATE FUNCTION parallax.probes_default_timeout() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF NEW.timeout_ms IS NULL THEN
        NEW.timeout_ms := least(5000, NEW.interval_s * 500);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER probes_default_timeout BEFORE INSERT ON parallax.probes
    FOR EACH ROW EXECUTE FUNCTION parallax.probes_default_timeout();

ALTER TABLE parallax.probes ADD CONSTRAINT probes_timeout_below_interval
    CHECK (timeout_ms < interval_s * 1000);

COMMENT ON COLUMN parallax.probes.timeout_ms IS
    'Probe timeout in ms, shorter than the interval (an agent skips a run while the one before is still going); NULL on insert: min(5000, interval_s * 500).';
