-- 001_stable: the data of the first stable schema (stable 1) — types, tables, indexes and the
-- settings rows. Functions, views and triggers are in schema/definitions/, which
-- `parallaxctl db migrate` installs again after the migrations on every run.
-- Databases made before this split recorded migrations 001_core … 012_gap_reason; db migrate
-- recognises that exact set as this migration (coordinator/ctl/ctl_migrate.c).
-- Applied by `parallaxctl db migrate` inside one transaction, after it created the schema.

-- The one status list. Mirrors PX_STATUS_LIST in proto/status.h (a test checks they agree).
CREATE TYPE parallax.status AS ENUM (
    'ok', 'timeout', 'refused', 'unreachable', 'local_error', 'protocol_error', 'app_error',
    'tls_error');

CREATE TYPE parallax.target_role AS ENUM ('web', 'mail', 'dns', 'router', 'host');

-- Each verdict enum is ordered from "nothing to say" to worst, so max() over a period gives
-- the worst verdict reached.
CREATE TYPE parallax.vantage_health AS ENUM ('no_data', 'healthy', 'impaired', 'offline');

CREATE TYPE parallax.target_state AS ENUM ('unknown', 'up', 'degraded', 'partial', 'down');

CREATE TYPE parallax.group_stage AS ENUM (
    'unknown', 'normal', 'degraded', 'servers_offline', 'dns_down', 'blackout');

-- The labels mirror the wire enum GapReason (proto/parallax.proto; wire_gap_reason_name()).
CREATE TYPE parallax.gap_reason AS ENUM ('spool_dropped', 'run_skipped');

-- ---------------------------------------------------------------- configuration

CREATE TABLE parallax.agents (
    id            serial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    country       text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    asn           bigint CHECK (asn BETWEEN 0 AND 4294967295),
    public_key    text NOT NULL UNIQUE CHECK (length(public_key) = 40),
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz,
    agent_version text,
    -- Agent clock minus coordinator clock, in milliseconds (positive: the agent is ahead), as
    -- measured from heartbeat timestamps. The merge places a result at ts - clock_offset_ms.
    -- The current value is applied to every result of the agent, old ones included, so a
    -- large change of offset only affects bins merged from then on (merge_mark re-merges).
    clock_offset_ms integer,
    -- What the coordinator knows of the agent's session.
    online          boolean NOT NULL DEFAULT false,
    rtt_ms          real CHECK (rtt_ms >= 0),
    clock_offset_at timestamptz,
    schedule_version_acked bigint,
    schedule_acked_at      timestamptz,
    disabled_at     timestamptz
);
COMMENT ON TABLE parallax.agents IS 'Vantages. An agent is known by its CURVE public key; only enabled agents may connect.';
COMMENT ON COLUMN parallax.agents.clock_offset_ms IS
    'Agent clock minus coordinator clock in ms (NULL: unknown, taken as 0); results fall in bins by ts - clock_offset_ms.';
COMMENT ON COLUMN parallax.agents.online IS
    'The agent has been heard from within the coordinator''s session_timeout_s; set false by the coordinator when it falls silent.';
COMMENT ON COLUMN parallax.agents.rtt_ms IS
    'Round-trip time of the heartbeat exchange that best measured the clock offset (NULL: unknown, e.g. an agent that does not echo heartbeat times).';
COMMENT ON COLUMN parallax.agents.clock_offset_at IS 'When clock_offset_ms was last changed.';
COMMENT ON COLUMN parallax.agents.schedule_version_acked IS
    'parallax.schedule_versions.version the agent last said it runs (hello or heartbeat); 0: none.';
COMMENT ON COLUMN parallax.agents.schedule_acked_at IS 'When schedule_version_acked last changed.';
COMMENT ON COLUMN parallax.agents.disabled_at IS
    'When the agent was last disabled (NULL while enabled): it has vantage bins only before this.';

CREATE TABLE parallax.targets (
    id         serial PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    address    inet NOT NULL CHECK (masklen(address) = CASE family(address) WHEN 4 THEN 32 ELSE 128 END),
    group_name text,
    role       parallax.target_role NOT NULL DEFAULT 'host',
    control    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN parallax.targets.control IS 'A control target: a stable host outside the watched networks whose results measure the vantage itself.';

-- A probe's timeout is shorter than its interval: an agent does not start a run while the
-- previous run of the same probe is still going, so a timeout as long as the interval lost
-- every other run exactly when runs last until their timeout, during an outage. It has no
-- column default: parallaxctl always passes one, and a trigger fills in the same rule for SQL
-- that names none (schema/definitions/10_core.sql).
CREATE TABLE parallax.probes (
    id         bigserial PRIMARY KEY,
    target_id  integer NOT NULL REFERENCES parallax.targets (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('icmp', 'tcp', 'http', 'https', 'dns', 'smtp', 'trace')),
    spec       text NOT NULL CHECK (spec = kind OR spec LIKE kind || ':%'),
    interval_s integer NOT NULL DEFAULT 60 CHECK (interval_s BETWEEN 1 AND 86400),
    timeout_ms integer NOT NULL CHECK (timeout_ms BETWEEN 1 AND 600000),
    UNIQUE (target_id, spec),
    CONSTRAINT probes_timeout_below_interval CHECK (timeout_ms < interval_s * 1000)
);
COMMENT ON COLUMN parallax.probes.timeout_ms IS
    'Probe timeout in ms, shorter than the interval (an agent skips a run while the one before is still going); NULL on insert: min(5000, interval_s * 500).';

-- The coordinator's public key and the endpoint agents should connect to, written by the
-- coordinator on start so `parallaxctl agent add` can write complete agent configs.
CREATE TABLE parallax.coordinator (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    public_key text NOT NULL CHECK (length(public_key) = 40),
    endpoint   text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per distinct schedule the coordinator has served. The fingerprint is taken over
-- schedule_view, so unchanged probes keep their version across restarts, and any change gets
-- a larger one.
CREATE TABLE parallax.schedule_versions (
    version     bigserial PRIMARY KEY,
    fingerprint text NOT NULL,
    probes      integer NOT NULL CHECK (probes >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE parallax.schedule_versions IS 'Schedules served to agents; the largest version is the current one.';

-- ---------------------------------------------------------------- evidence

-- Results have no foreign keys on purpose: they are evidence and outlive the configuration
-- (a probe removed while an agent was cut off must not make its spooled results unstorable).
-- detail: kind-specific evidence of each run (HTTP phases, the TLS certificate, the DNS
-- answer, traceroute hops) as one jsonb document, so adding a probe kind adds keys, not
-- columns. Keys, when present: http {connect_ms, tls_ms, first_byte_ms, total_ms},
-- tls {verified, days_left, verify_error}, dns {rcode, aa, answers, soa_serial, over_tcp},
-- trace {reached, last_responsive_ttl, hops: [{ttl, address, rtt_ms}]}.
CREATE TABLE parallax.results (
    ts          timestamptz NOT NULL,
    agent_id    integer NOT NULL,
    probe_id    bigint NOT NULL,
    status      parallax.status NOT NULL,
    rtt_ms      double precision,
    app_code    integer,
    icmp_type   smallint,
    icmp_code   smallint,
    icmp_from   inet,
    message     text,
    control     boolean NOT NULL DEFAULT false,
    received_at timestamptz NOT NULL DEFAULT now(),
    detail      jsonb,
    PRIMARY KEY (agent_id, probe_id, ts)
) PARTITION BY RANGE (ts);
COMMENT ON COLUMN parallax.results.ts IS 'Scheduled start of the probe run, by the agent''s clock (UTC).';

-- The merge finds the results of one bin by time; the primary key leads with agent_id and
-- cannot. Results arrive roughly in ts order, so this index grows at its right edge.
CREATE INDEX results_ts ON parallax.results (ts);

-- Every batch ever stored, recorded in the same transaction as its rows: a resent batch is
-- found here, acknowledged and not stored again.
CREATE TABLE parallax.batches (
    agent_id    integer NOT NULL REFERENCES parallax.agents (id) ON DELETE CASCADE,
    stream      bigint NOT NULL,
    seq         bigint NOT NULL,
    results     integer NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    gaps        integer NOT NULL DEFAULT 0 CHECK (gaps >= 0),
    PRIMARY KEY (agent_id, stream, seq)
);
COMMENT ON COLUMN parallax.batches.gaps IS 'Gap records stored with the batch (parallax.gaps).';

-- One row per heartbeat received, timed by the coordinator's clock (so never offset-corrected).
-- A vantage bin with neither results nor heartbeats is "offline".
CREATE TABLE parallax.heartbeats (
    agent_id integer NOT NULL REFERENCES parallax.agents (id) ON DELETE CASCADE,
    ts       timestamptz NOT NULL,
    PRIMARY KEY (agent_id, ts)
);
COMMENT ON TABLE parallax.heartbeats IS 'Heartbeats received from agents (coordinator clock); absence of these and of results makes a vantage offline.';

-- Runs an agent has no results for: dropped from its spool, or never started on time. A bin a
-- gap overlaps is "no data" for that vantage (never a failure): for that probe, or for every
-- probe when probe_id is NULL. Times are the agent's clock, like results.ts.
CREATE TABLE parallax.gaps (
    id            bigserial PRIMARY KEY,
    agent_id      integer NOT NULL REFERENCES parallax.agents (id) ON DELETE CASCADE,
    probe_id      bigint,
    ts_from       timestamptz NOT NULL,
    ts_to         timestamptz NOT NULL CHECK (ts_to >= ts_from),
    dropped_count bigint NOT NULL DEFAULT 0 CHECK (dropped_count >= 0),
    reported_at   timestamptz NOT NULL DEFAULT now(),
    reason        parallax.gap_reason NOT NULL DEFAULT 'spool_dropped'
);
CREATE INDEX gaps_agent_ts ON parallax.gaps (agent_id, ts_from);
COMMENT ON COLUMN parallax.gaps.probe_id IS 'NULL: the gap covers every probe of the agent.';
COMMENT ON COLUMN parallax.gaps.reason IS
    'spool_dropped: results measured and lost (spool full or unreadable); run_skipped: runs never started on time (the one before still going, or the agent late for the slot).';
COMMENT ON COLUMN parallax.gaps.dropped_count IS
    'Runs whose results are missing: dropped results (spool_dropped) or runs not started (run_skipped).';

-- ---------------------------------------------------------------- the merge

-- Every knob of the merge, in one row; `parallaxctl settings` reads and changes them.
-- NULL widths are "auto": derived from the schedule (parallax.merge_settings_now()).
CREATE TABLE parallax.merge_settings (
    id                     boolean PRIMARY KEY DEFAULT true CHECK (id),
    min_vantages           integer NOT NULL DEFAULT 2 CHECK (min_vantages >= 1),
    min_networks           integer NOT NULL DEFAULT 2 CHECK (min_networks >= 1),
    open_after             integer NOT NULL DEFAULT 2 CHECK (open_after >= 1),
    close_after            integer NOT NULL DEFAULT 3 CHECK (close_after >= 1),
    grace_bins             real NOT NULL DEFAULT 1 CHECK (grace_bins >= 0),
    grace_s                integer NOT NULL DEFAULT 2 CHECK (grace_s >= 0),
    vantage_bin_s          integer DEFAULT NULL CHECK (vantage_bin_s BETWEEN 1 AND 86400),
    group_bin_s            integer DEFAULT NULL CHECK (group_bin_s BETWEEN 1 AND 86400),
    control_ok_min         real NOT NULL DEFAULT 0.5 CHECK (control_ok_min BETWEEN 0 AND 1),
    local_error_share      real NOT NULL DEFAULT 0.25 CHECK (local_error_share > 0 AND local_error_share <= 1),
    degraded_failure_share real NOT NULL DEFAULT 0.2 CHECK (degraded_failure_share > 0 AND degraded_failure_share <= 1),
    latency_factor         real NOT NULL DEFAULT 3 CHECK (latency_factor > 1),
    latency_min_ms         real NOT NULL DEFAULT 20 CHECK (latency_min_ms >= 0),
    baseline_bins          integer NOT NULL DEFAULT 30 CHECK (baseline_bins >= 1),
    baseline_min_bins      integer NOT NULL DEFAULT 5 CHECK (baseline_min_bins >= 1),
    baseline_window        interval NOT NULL DEFAULT '1 day',
    blackout_share         real NOT NULL DEFAULT 0.8 CHECK (blackout_share > 0 AND blackout_share <= 1),
    sweep_max              interval NOT NULL DEFAULT '1 day',
    run_max                interval NOT NULL DEFAULT '1 hour' CHECK (run_max > '0')
);
INSERT INTO parallax.merge_settings DEFAULT VALUES;
COMMENT ON TABLE parallax.merge_settings IS 'The merge''s knobs (one row); see the column comments for what each does.';
COMMENT ON COLUMN parallax.merge_settings.min_vantages IS 'Fewer healthy vantages reporting on a target than this: the target is unknown.';
COMMENT ON COLUMN parallax.merge_settings.min_networks IS 'A target is down only if the healthy vantages that all failed span this many countries or this many ASNs.';
COMMENT ON COLUMN parallax.merge_settings.open_after IS 'An outage opens after this many bad bins in a row (unknown/no-data bins neither count nor break the run).';
COMMENT ON COLUMN parallax.merge_settings.close_after IS 'An outage closes after this many good bins in a row; it ends where that run began.';
COMMENT ON COLUMN parallax.merge_settings.grace_bins IS 'A bin is merged grace_bins bin widths plus grace_s seconds after it ends, so on-time results from every vantage are in.';
COMMENT ON COLUMN parallax.merge_settings.grace_s IS
    'See grace_bins: a run''s results are due within its timeout (shorter than the interval) plus the agent''s batch interval (1 s).';
COMMENT ON COLUMN parallax.merge_settings.vantage_bin_s IS
    'Width of vantage-health bins in seconds; auto (empty): the longest interval of any control target''s probe, or 60 without control targets.';
COMMENT ON COLUMN parallax.merge_settings.group_bin_s IS
    'Width of group-stage bins in seconds; auto (empty): the longest interval of any probe of a grouped target, or 60. A target counts in a group bin with its worst state among its bins overlapping it.';
COMMENT ON COLUMN parallax.merge_settings.control_ok_min IS 'A vantage whose control results are ok less often than this share is impaired.';
COMMENT ON COLUMN parallax.merge_settings.local_error_share IS 'A vantage with at least this share of local_error results is impaired.';
COMMENT ON COLUMN parallax.merge_settings.degraded_failure_share IS 'A target every healthy vantage reaches is degraded when at least this share of their runs failed.';
COMMENT ON COLUMN parallax.merge_settings.latency_factor IS 'A reachable target is degraded when its median RTT exceeds latency_factor x its baseline (and by latency_min_ms).';
COMMENT ON COLUMN parallax.merge_settings.latency_min_ms IS 'See latency_factor: small absolute rises are never degradation.';
COMMENT ON COLUMN parallax.merge_settings.baseline_bins IS 'The baseline is the mean RTT of the target''s "up" bins: a plain mean over the first baseline_bins, then each new bin weighs 1/baseline_bins.';
COMMENT ON COLUMN parallax.merge_settings.baseline_min_bins IS 'With fewer "up" bins than this folded into the baseline there is no latency verdict.';
COMMENT ON COLUMN parallax.merge_settings.baseline_window IS 'A baseline whose last "up" bin is older than this is forgotten: a latency shift lasting longer becomes the new normal.';
COMMENT ON COLUMN parallax.merge_settings.blackout_share IS 'Blackout: every known router-role target down and at least this share of the group''s known targets down.';
COMMENT ON COLUMN parallax.merge_settings.sweep_max IS 'After a long pause the merge judges offline vantages for at most this much past time.';
COMMENT ON COLUMN parallax.merge_settings.run_max IS 'One merge_run takes the bins that closed within this span after the oldest waiting one; a backlog (after a pause, or merge_mark of a month) is worked off by the next calls, one short transaction each.';

-- Bins waiting to be merged (vantage: subject_id = agent id; target: target id; group:
-- parallax.merge_groups id). merge_run takes the rows whose closes_at has passed.
-- results/expected/last_run: a target bin every enabled vantage has reported every run of
-- is complete, and closes at its last run rather than after its grace.
CREATE TABLE parallax.merge_dirty (
    scope      text NOT NULL CHECK (scope IN ('vantage', 'target', 'group')),
    subject_id integer NOT NULL,
    bin_start  timestamptz NOT NULL,
    bin_end    timestamptz NOT NULL,
    closes_at  timestamptz NOT NULL,
    results    integer NOT NULL DEFAULT 0,
    expected   integer,
    last_run   timestamptz,
    PRIMARY KEY (scope, subject_id, bin_start)
);
CREATE INDEX merge_dirty_closes_at ON parallax.merge_dirty (closes_at);
COMMENT ON TABLE parallax.merge_dirty IS 'Bins whose inputs changed since they were last merged; filled by triggers, emptied by merge_run.';

-- Where the time-driven judging of vantages has got to: offline is the absence of anything,
-- so no insert can mark it; merge_run judges every enabled agent for every bin before
-- vantages_swept_to, from vantages_swept_from (the first bin it judged) on.
CREATE TABLE parallax.merge_state (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    vantages_swept_to   timestamptz,
    vantages_swept_from timestamptz
);
INSERT INTO parallax.merge_state DEFAULT VALUES;
COMMENT ON COLUMN parallax.merge_state.vantages_swept_from IS
    'The first vantage bin the offline sweep judged: merge_mark queues none before it.';

-- Groups are free text on targets; this gives each one a stable number for the bins.
CREATE TABLE parallax.merge_groups (
    id   serial PRIMARY KEY,
    name text NOT NULL UNIQUE
);

-- Every merged bin of every scope, so that outage tracking is one piece of code. Users read
-- the typed views (vantage_bins, target_bins, group_bins). The h_* columns hold the outage
-- tracker's state after this bin, so a re-merge restarts from the bin before instead of from
-- the beginning; a new bin starts as "no outage, no run of bad bins", which the tracker only
-- has to change for subjects with something going on. The base_* columns carry a target's
-- latency baseline from bin to bin, so judging a bin reads one earlier bin, not dozens.
-- fillfactor: the tracker updates most new bins once; room on the page keeps those
-- updates HOT (no new index entries).
CREATE TABLE parallax.bins (
    scope          text NOT NULL CHECK (scope IN ('vantage', 'target', 'group')),
    subject_id     integer NOT NULL,
    bin_start      timestamptz NOT NULL,
    bin_end        timestamptz NOT NULL,
    state          text NOT NULL,
    rank           smallint NOT NULL,
    bad            boolean,
    rtt_ms         double precision,
    evidence       jsonb NOT NULL,
    merged_at      timestamptz NOT NULL DEFAULT now(),
    h_open         boolean NOT NULL DEFAULT false,
    h_streak       integer NOT NULL DEFAULT 0,
    h_streak_start timestamptz,
    h_outage_start timestamptz,
    h_ended_at     timestamptz,
    base_ms        double precision,
    base_n         integer,
    base_at        timestamptz,
    provisional    integer[],
    last_ok        jsonb,
    PRIMARY KEY (scope, subject_id, bin_start)
) WITH (fillfactor = 80);
-- Bins by time: what the merge reads of the bins around the ones it merges, and what
-- people ask for ("last week's"), are dense ranges here, where the primary key spreads
-- them over one index page per subject.
CREATE INDEX bins_time ON parallax.bins (scope, bin_start, subject_id);
COMMENT ON COLUMN parallax.bins.bad IS 'true: counts towards opening an outage; false: towards closing it; NULL (unknown, no data): neither.';
COMMENT ON COLUMN parallax.bins.rank IS 'Severity within the scope, as the order of the scope''s enum.';
COMMENT ON COLUMN parallax.bins.base_ms IS 'Targets: latency baseline after this bin, a running mean of the RTT of its "up" bins (see merge_settings.baseline_bins).';
COMMENT ON COLUMN parallax.bins.base_n IS 'Targets: how many "up" bins the baseline holds (capped at baseline_bins).';
COMMENT ON COLUMN parallax.bins.base_at IS 'Targets: start of the last "up" bin folded into the baseline; older than baseline_window, the baseline is forgotten.';
COMMENT ON COLUMN parallax.bins.provisional IS
    'Targets: the agents whose health this bin assumed because their vantage bin was not merged yet; it is judged again when they are.';
COMMENT ON COLUMN parallax.bins.last_ok IS
    'Targets: probe id -> epoch seconds of the latest bin (within baseline_window) in which a healthy vantage had an ok run of it; says which probes are live.';

-- Outage events of every scope. Read them through parallax.outages.
CREATE TABLE parallax.outage_events (
    id         bigserial PRIMARY KEY,
    scope      text NOT NULL CHECK (scope IN ('vantage', 'target', 'group')),
    subject_id integer NOT NULL,
    subject    text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at   timestamptz,
    stage      text NOT NULL,
    detail     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (scope, subject_id, started_at)
);
CREATE INDEX outage_events_started ON parallax.outage_events (started_at);
