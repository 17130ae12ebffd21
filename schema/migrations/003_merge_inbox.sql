-- 003_merge_inbox: what the ingest tells the merge, kept apart from what the merge works on.
-- The merge runs on a connection of its own, beside the ingest (issue 15). Before, the
-- triggers on results, gaps and heartbeats wrote parallax.merge_dirty with INSERT ... ON
-- CONFLICT DO UPDATE while merge_run deleted and inserted the same rows: two writers taking
-- row locks in opposite orders can deadlock, and an ingest that touched a row a long merge
-- had taken waited for the whole merge. Now the triggers (and merge_mark, merge_mark_agent)
-- only append here, with plain INSERTs that lock no existing row; merge_run, the only writer
-- of merge_dirty, folds this inbox into it first.
-- Applied by `parallaxctl db migrate` inside one transaction.

CREATE TABLE parallax.merge_inbox (
    scope      text NOT NULL CHECK (scope IN ('vantage', 'target', 'group')),
    subject_id integer NOT NULL,
    bin_start  timestamptz NOT NULL,
    bin_end    timestamptz NOT NULL,
    closes_at  timestamptz NOT NULL,
    results    integer NOT NULL DEFAULT 0,
    expected   integer,
    last_run   timestamptz
);
COMMENT ON TABLE parallax.merge_inbox IS
    'Bins that new inputs touched, appended by the ingest''s triggers and by merge_mark; merge_run (merge_collect) folds them into merge_dirty. Several rows may name one bin.';
COMMENT ON COLUMN parallax.merge_inbox.results IS
    'Results this insert added to a target bin (0 for other scopes and for gaps).';
COMMENT ON COLUMN parallax.merge_inbox.expected IS
    'Results that make the target bin complete, as counted when this insert was made.';

