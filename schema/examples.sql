-- examples.sql: the questions people ask Parallax, as plain SQL. Not a migration; run it
-- with psql against a Parallax database (tests/integration/merge_contract.sh does, on a
-- synthetic blackout). Names in quotes ('IR', 'ir-web1') are examples: put your own.
--
-- What the verdicts mean: README "Reading the verdicts" and, rule by rule, docs/verdicts.md.
-- The settings in force (auto widths resolved): SELECT name, value, in_force, source FROM
-- parallax.merge_setting_list; whether the stored verdicts equal a merge from scratch:
-- BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT * FROM parallax.merge_verify(now() - interval
-- '1 hour'); ROLLBACK;

-- Outages going on now, worst first.
SELECT scope, subject, stage, started_at, now() - started_at AS lasting,
       detail->>'dominant_failure' AS failure, detail->'agreeing' AS seen_by
FROM parallax.outages
WHERE ended_at IS NULL
ORDER BY scope = 'vantage', started_at;

-- Which groups had blackouts last week, and for how long: the outages that reached
-- "blackout", when that stage began, and how long the group was actually blacked out.
SELECT o.subject AS group_name, o.started_at, o.ended_at,
       coalesce(o.ended_at, now()) - o.started_at AS outage_lasted,
       (o.detail->'first_reached'->>'blackout')::timestamptz AS blackout_from,
       (SELECT sum(g.bin_end - g.bin_start) FROM parallax.group_bins g
        WHERE g.group_name = o.subject AND g.stage = 'blackout'
          AND g.bin_start >= o.started_at AND g.bin_start < coalesce(o.ended_at, now())) AS blacked_out_for
FROM parallax.outages o
WHERE o.scope = 'group' AND o.stage = 'blackout'
  AND o.started_at < now() AND coalesce(o.ended_at, now()) > now() - interval '7 days'
ORDER BY o.started_at;

-- Which vantages were unreliable last week: the share of their bins they were impaired or
-- offline, and their outages.
SELECT v.agent, v.country, v.asn,
       round(avg((v.health IN ('impaired', 'offline'))::integer), 3) AS unreliable_share,
       count(*) FILTER (WHERE v.health = 'impaired') AS impaired_bins,
       count(*) FILTER (WHERE v.health = 'offline') AS offline_bins,
       (SELECT count(*) FROM parallax.outages o
        WHERE o.scope = 'vantage' AND o.subject = v.agent
          AND o.started_at > now() - interval '7 days') AS outages
FROM parallax.vantage_bins v
WHERE v.bin_start > now() - interval '7 days'
GROUP BY v.agent, v.country, v.asn
ORDER BY unreliable_share DESC;

-- The timeline of one outage (here: the latest group outage): when each stage was first
-- reached ...
SELECT s.key AS stage, s.value #>> '{}' AS first_reached
FROM parallax.outages o, jsonb_each(o.detail->'first_reached') s
WHERE o.id = (SELECT max(id) FROM parallax.outages WHERE scope = 'group')
ORDER BY 2;

-- ... and bin by bin: the group's stage, which targets were down and who saw it.
SELECT g.bin_start, g.stage, g.evidence->'down_targets' AS down_targets,
       g.evidence->'failing_vantages' AS failing_vantages, g.evidence->>'failure' AS failure
FROM parallax.outages o
JOIN parallax.group_bins g ON g.group_name = o.subject
     AND g.bin_start >= o.started_at AND g.bin_start < coalesce(o.ended_at, now())
WHERE o.id = (SELECT max(id) FROM parallax.outages WHERE scope = 'group')
ORDER BY g.bin_start;

-- One target's story over the last day: its state per bin with the evidence (vantages that
-- failed, reached it, or were left out as unhealthy; median RTT against its baseline).
SELECT bin_start, state, rtt_ms, evidence->'failed' AS failed, evidence->'reached' AS reached,
       evidence->'excluded' AS excluded, evidence->>'baseline_ms' AS baseline_ms
FROM parallax.target_bins
WHERE target = 'ir-web1' AND bin_start > now() - interval '1 day'
ORDER BY bin_start;

-- Per-vantage latency to a target, hour by hour: median and 95th percentile RTT of the
-- answers, and how many runs failed.
SELECT r.agent, date_trunc('hour', r.ts) AS hour,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.rtt_ms)::numeric, 1) AS median_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY r.rtt_ms)::numeric, 1) AS p95_ms,
       count(*) FILTER (WHERE r.status <> 'ok') AS failed, count(*) AS runs
FROM parallax.result_view r
WHERE r.target = 'ir-web1' AND r.ts > now() - interval '1 day'
GROUP BY r.agent, hour
ORDER BY hour, r.agent;

-- How long each group spent in each stage last week.
SELECT group_name, stage, sum(bin_end - bin_start) AS time_in_stage
FROM parallax.group_bins
WHERE bin_start > now() - interval '7 days'
GROUP BY group_name, stage
ORDER BY group_name, stage;

-- The merge settings that differ from their defaults, and what each does (parallaxctl
-- settings shows the same; parallax.merge_setting_set(name, value) changes one).
SELECT name, value, default_value, description
FROM parallax.merge_setting_list
WHERE value IS DISTINCT FROM default_value
ORDER BY position;

-- What the coordinator refused from each agent: whole batches, and results or gaps stamped
-- outside the window of time around their receipt it accepts (a clock far off, or a stolen
-- key writing history). parallaxctl agent show NAME says the same.
SELECT a.name AS agent, j.kind, j.count, j.first_at, j.last_at, j.reason
FROM parallax.rejections j
JOIN parallax.agents a ON a.id = j.agent_id
ORDER BY j.last_at DESC;

-- What is in maintenance now, and what is to come (parallaxctl maintenance list): vantages
-- in a window are left out of every target verdict and get no outage; targets and groups in
-- one are still judged, their outages flagged detail.maintenance (and not notified).
SELECT w.id, w.scope, w.subject, w.starts_at, w.ends_at, w.active, w.reason
FROM parallax.maintenance_windows w
WHERE w.ends_at > now()
ORDER BY w.active DESC, w.starts_at;

-- Outages of the last week that fell in a maintenance window.
SELECT id, scope, subject, stage, started_at, ended_at
FROM parallax.outages
WHERE (detail->>'maintenance')::boolean AND coalesce(ended_at, now()) > now() - interval '7 days'
ORDER BY started_at;
