-- 010_notify: telling people (issue 17). Every outage event is written to notify_events by a
-- trigger on outage_events, in the verdict's own transaction; the sender (parallax-notifier)
-- fans each out to the receivers whose route matches (notify_route) and delivers it, at least
-- once, marking a delivery sent only after the receiver accepted it. docs/notifications.md.

CREATE TYPE parallax.notify_kind AS ENUM ('alertmanager', 'webhook', 'email');

-- A receiver is one route: where to send and which events. Several routes to the same place
-- are several receivers.
CREATE TABLE parallax.notify_receivers (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    kind        parallax.notify_kind NOT NULL,
    url         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    secret      text,
    mail_from   text,
    mail_to     text[],
    scopes      text[] CHECK (scopes <@ ARRAY['vantage', 'target', 'group'] AND cardinality(scopes) > 0),
    group_name  text,
    min_stage   text,
    with_group_targets boolean NOT NULL DEFAULT false,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'webhook' OR length(secret) > 0),
    CHECK (kind <> 'email' OR (mail_from IS NOT NULL AND cardinality(mail_to) > 0))
);
COMMENT ON TABLE parallax.notify_receivers IS
    'Where outage events are sent (kind, url) and which (scopes, group_name, min_stage; with_group_targets: target events also while their group has an outage). Managed with parallaxctl notify.';
COMMENT ON COLUMN parallax.notify_receivers.secret IS 'Webhook: the HMAC-SHA256 key the body is signed with. Not readable by parallax_read or parallax_ingest.';

-- One row per outage event.
CREATE TABLE parallax.notify_events (
    id          bigserial PRIMARY KEY,
    key         text NOT NULL UNIQUE,
    outage_id   bigint NOT NULL,
    event       text NOT NULL CHECK (event IN ('opened', 'stage', 'closed', 'reopened', 'withdrawn', 'test')),
    scope       text NOT NULL CHECK (scope IN ('vantage', 'target', 'group', 'test')),
    subject_id  integer NOT NULL,
    subject     text NOT NULL,
    group_name  text,
    role        text,
    stage       text NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    late        boolean NOT NULL,
    maintenance boolean NOT NULL,
    detail      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    routed_at   timestamptz
);
-- What notify_route has still to fan out, oldest first.
CREATE INDEX notify_events_unrouted ON parallax.notify_events (id) WHERE routed_at IS NULL;
CREATE INDEX notify_events_outage ON parallax.notify_events (outage_id);
COMMENT ON TABLE parallax.notify_events IS
    'Outage events to tell: opened, stage (a worse stage reached), closed, reopened, withdrawn (late results took the outage back); key = outage_id:event:stage, the idempotency key every message carries.';
COMMENT ON COLUMN parallax.notify_events.late IS
    'Re-judged: the outage began or ended further in the past than the merge takes to see it (late results), was inserted already ended, or was withdrawn.';
COMMENT ON COLUMN parallax.notify_events.maintenance IS 'The subject (its group, its vantage) was in a maintenance window: recorded, not notified.';

CREATE TABLE parallax.notify_deliveries (
    event_id    bigint NOT NULL REFERENCES parallax.notify_events ON DELETE CASCADE,
    receiver_id integer NOT NULL REFERENCES parallax.notify_receivers ON DELETE CASCADE,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead', 'suppressed')),
    reason      text,
    attempts    integer NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    sent_at     timestamptz,
    PRIMARY KEY (event_id, receiver_id)
);
CREATE INDEX notify_deliveries_due ON parallax.notify_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX notify_deliveries_receiver ON parallax.notify_deliveries (receiver_id, event_id);
COMMENT ON TABLE parallax.notify_deliveries IS
    'One event to one receiver: pending (next_at: when to try), sent, dead (a permanent failure: reason, last_error), suppressed (reason maintenance or group_outage).';
