-- 007_probe_spec_check: the database itself refuses a probe spec no agent could be sent.
-- One probes row with a spec over 1,023 bytes or a control character, written by hand or by a
-- bug, once made the whole schedule unsendable to every agent (issue 16). The coordinator now
-- leaves such a row out of the schedule with a warning; this constraint keeps new ones from
-- being written at all. NOT VALID: rows from before are not checked here (the coordinator
-- reports and leaves them out), so the migration cannot fail on them.
-- parallaxctl's own checks (the probe spec grammar) are stricter; this is the floor for SQL.
-- Applied by `parallaxctl db migrate` inside one transaction.

ALTER TABLE parallax.probes ADD CONSTRAINT probes_spec_sendable
    CHECK (octet_length(spec) <= 1023 AND spec !~ '[[:cntrl:]]') NOT VALID;
