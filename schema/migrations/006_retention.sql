-- 006_retention: how long each kind of data is kept, and what retention has removed (issue 16).
-- Before, nothing was ever removed: results (a partition a day), heartbeats (a row each),
-- gaps and batch ids grew forever. parallax.retention_run() (schema/definitions/
-- 80_retention.sql), called by the coordinator's merge thread every few minutes, removes
-- what is older than these settings; `parallaxctl retention` shows what is kept.
-- Applied by `parallaxctl db migrate` inside one transaction.

-- The settings are merge settings (`parallaxctl settings`, merge_setting_set): one row, one
-- list. Empty (NULL) is "forever". Raw inputs are kept 31 days; batch ids longer than the
-- results they vouch for; verdicts (bins) over a year; outage events forever.
ALTER TABLE parallax.merge_settings
    ADD COLUMN keep_results    interval DEFAULT '31 days' CHECK (keep_results >= '1 day'),
    ADD COLUMN keep_heartbeats interval DEFAULT '31 days' CHECK (keep_heartbeats >= '1 day'),
    ADD COLUMN keep_gaps       interval DEFAULT '31 days' CHECK (keep_gaps >= '1 day'),
    ADD COLUMN keep_batches    interval DEFAULT '92 days' CHECK (keep_batches >= '1 day'),
    ADD COLUMN keep_bins       interval DEFAULT '400 days' CHECK (keep_bins >= '1 day'),
    ADD COLUMN keep_outages    interval DEFAULT NULL CHECK (keep_outages >= '1 day');
-- How the settings must relate (batch ids at least as long as results, bins as every raw
-- input, outages as bins) is checked at commit by a constraint trigger
-- (definitions/80_retention.sql), so that `settings set` may name them in any order.

COMMENT ON COLUMN parallax.merge_settings.keep_results IS
    'Raw results older than this are removed, a whole day (partition) at a time (empty: forever). The merge never judges a bin again once inputs before it may be gone (parallax.merge_floor()).';
COMMENT ON COLUMN parallax.merge_settings.keep_heartbeats IS
    'Heartbeats older than this are removed (empty: forever); they only tell an offline vantage from a silent one.';
COMMENT ON COLUMN parallax.merge_settings.keep_gaps IS
    'Gap records that ended longer ago than this are removed (empty: forever).';
COMMENT ON COLUMN parallax.merge_settings.keep_batches IS
    'Batch ids (agent, stream, seq) stored longer ago than this are forgotten (empty: forever); at least keep_results, so a resent batch is known while its results are kept.';
COMMENT ON COLUMN parallax.merge_settings.keep_bins IS
    'Merged bins (verdicts) older than this are removed (empty: forever); at least as long as every raw input.';
COMMENT ON COLUMN parallax.merge_settings.keep_outages IS
    'Outage events that ended longer ago than this are removed (empty: forever, the default); at least keep_bins. Open outages are never removed.';

-- What retention has done, per kind: the merge reads removed_before to leave alone the bins
-- whose inputs may be gone.
CREATE TABLE parallax.retention_state (
    kind           text PRIMARY KEY
                   CHECK (kind IN ('results', 'heartbeats', 'gaps', 'batches', 'bins', 'outages')),
    removed_before timestamptz,
    removed        bigint NOT NULL DEFAULT 0 CHECK (removed >= 0),
    last_removed_at timestamptz,
    last_error     text,
    last_error_at  timestamptz
);
INSERT INTO parallax.retention_state (kind)
VALUES ('results'), ('heartbeats'), ('gaps'), ('batches'), ('bins'), ('outages');
COMMENT ON TABLE parallax.retention_state IS
    'What parallax.retention_run() has removed, per kind of data.';
COMMENT ON COLUMN parallax.retention_state.removed_before IS
    'Rows of this kind older than this may have been removed (NULL: none ever were). For results, the start of the oldest day still kept.';
COMMENT ON COLUMN parallax.retention_state.removed IS
    'Rows removed so far (results: partitions dropped).';
COMMENT ON COLUMN parallax.retention_state.last_error IS
    'Why the latest removal was put off (a lock not granted in time); it is tried again at the next run.';

-- Batch ids are trimmed by age; the primary key leads with the agent and cannot find them.
CREATE INDEX batches_ingested_at ON parallax.batches (ingested_at);
