-- 004_merge_inbox_no_truncate: the inbox is emptied by every merge (four times a second) and
-- filled again by the next ingest, so its size is steady and giving its empty pages back to
-- the file system gains nothing. It cost the merge, though: a vacuum that truncates a table
-- takes an ACCESS EXCLUSIVE lock on it, and merge_collect's DELETE waited behind autovacuum's
-- truncation of the inbox it had just emptied (the merge bench's per-bin time rose from
-- ~150 ms to ~230 ms with migration 003; issue 15).
-- Applied by `parallaxctl db migrate` inside one transaction.

ALTER TABLE parallax.merge_inbox SET (vacuum_truncate = false);
