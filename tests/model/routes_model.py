#!/usr/bin/python3
"""routes_model: the SQL's BGP visibility against a reference written from docs/routes.md.

For each seed, a random history of collector peers (sessions starting and ending,
announcements and withdrawals of overlapping prefixes) is inserted into parallax.route_updates
as `parallaxctl routes` would; then, at random times and for random networks, what
parallax.route_visibility() says is compared with what this model says, and the group
classification (parallax.group_routes: unroutable, partly_routed, routed) with the model's,
and every visibility bin route_bins_refresh writes with the model's visibility at its end.
A difference prints the seed and the first sample that differs.

  routes_model.py --db CONNINFO --seeds N [--first S]
"""
import argparse
import ipaddress
import random
import sys
from datetime import datetime, timedelta, timezone

import psycopg2

T0 = datetime(2031, 3, 3, tzinfo=timezone.utc)
PREFIXES = ["203.0.113.0/24", "203.0.113.0/25", "203.0.113.128/25", "203.0.112.0/23",
            "198.51.100.0/24", "198.51.100.128/25"]
NETS = PREFIXES + ["203.0.113.64/26", "192.0.2.0/24", "198.51.0.0/16"]


def history(rng):
    """A list of (ts, peer, kind, prefix, origin), ts strictly increasing (so no two words of
    a peer share a time: their order is never in doubt)."""
    peers = rng.randint(1, 4)
    events = []
    t = T0
    for _ in range(rng.randint(5, 60)):
        t += timedelta(seconds=rng.randint(1, 90), microseconds=rng.randint(0, 999999))
        peer = rng.randrange(peers)
        r = rng.random()
        if r < 0.12:
            events.append((t, peer, rng.choice(["peer_up", "peer_down"]), None, None))
        elif r < 0.65:
            events.append((t, peer, "announce", rng.choice(PREFIXES), rng.choice([64501, 64502, 64503])))
        else:
            events.append((t, peer, "withdraw", rng.choice(PREFIXES), None))
    return peers, events


def overlaps(a, b):
    a, b = ipaddress.ip_network(a), ipaddress.ip_network(b)
    return a.subnet_of(b) or b.subnet_of(a)


def visibility(peers, events, net, at):
    """docs/routes.md, "Visibility": of the peers whose session was up just before `at`
    (heard from, no session end since their last session start), those whose latest word since
    the session began on some prefix overlapping `net` is an announcement."""
    seeing, total, origins, withdrawn = 0, 0, set(), []
    for p in range(peers):
        mine = [e for e in events if e[1] == p and e[0] < at]
        if not mine:
            continue
        ups = [e[0] for e in mine if e[2] == "peer_up"]
        downs = [e[0] for e in mine if e[2] == "peer_down"]
        up_at = max(ups) if ups else None
        down_at = max(downs) if downs else None
        if down_at is not None and (up_at is None or up_at < down_at):
            continue
        total += 1
        since = max(x for x in (up_at, down_at) if x is not None) if (ups or downs) else None
        latest = {}
        for e in mine:
            if e[2] in ("announce", "withdraw") and overlaps(e[3], net) and (since is None or e[0] >= since):
                latest[e[3]] = e  # time order: the last one stays
        if any(e[2] == "announce" for e in latest.values()):
            seeing += 1
            origins |= {e[4] for e in latest.values() if e[2] == "announce"}
        else:
            ws = [e[0] for e in latest.values() if e[2] == "withdraw"]
            withdrawn.append(max(ws) if ws else since)
    withdrawn = [w for w in withdrawn if w is not None]
    return seeing, total, sorted(origins), (max(withdrawn) if withdrawn else None)


def classify(peers, events, nets, at):
    """docs/routes.md, "In the verdicts": None without an up peer; unroutable when no peer
    had a route into any net, routed when each is seen by more than half, else partly."""
    vs = [visibility(peers, events, n, at) for n in nets]
    if not vs or max(v[1] for v in vs) == 0:
        return None
    if all(v[0] == 0 for v in vs):
        return "unroutable"
    if all(v[0] * 2 > v[1] for v in vs):
        return "routed"
    return "partly_routed"


def run_seed(conn, seed):
    rng = random.Random(seed)
    peers, events = history(rng)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE parallax.route_peers, parallax.route_updates, parallax.route_prefixes, "
                    "parallax.group_prefixes, parallax.route_bins CASCADE")
        ids = []
        for p in range(peers):
            cur.execute("INSERT INTO parallax.route_peers (collector, address, asn) VALUES "
                        "('model', %s, %s) RETURNING id", (f"198.51.100.{p + 1}", 64600 + p))
            ids.append(cur.fetchone()[0])
        # In random batches, as an importer commits them.
        i = 0
        while i < len(events):
            n = rng.randint(1, 8)
            for ts, p, kind, prefix, origin in events[i:i + n]:
                cur.execute("INSERT INTO parallax.route_updates (ts, peer_id, kind, prefix, origin_asn, as_path) "
                            "VALUES (%s, %s, %s, %s, %s, %s)",
                            (ts, ids[p], kind, prefix, origin,
                             f"{64600 + p} {origin}" if kind == "announce" else None))
            i += n
        group_nets = rng.sample(PREFIXES, rng.randint(1, 3))
        for n in group_nets:
            cur.execute("INSERT INTO parallax.group_prefixes (group_name, prefix) VALUES ('G', %s)", (n,))
        end = events[-1][0] + timedelta(seconds=60)
        for _ in range(40):
            at = T0 + (end - T0) * rng.random()
            net = rng.choice(NETS)
            cur.execute("SELECT peers_seeing, peers_total, origin_asns, withdrawn_at "
                        "FROM parallax.route_visibility(%s, %s)", (net, at))
            s, t, o, w = cur.fetchone()
            got = (s, t, sorted(o), w)
            want = visibility(peers, events, net, at)
            if got != want:
                return f"visibility of {net} at {at}: sql {got}, model {want}"
            cur.execute("SELECT parallax.group_routes('G', %s)->>'state'", (at,))
            got_state = cur.fetchone()[0]
            want_state = classify(peers, events, group_nets, at)
            if got_state != want_state:
                return f"group routes of {group_nets} at {at}: sql {got_state}, model {want_state}"
        # The visibility bins of the group's prefixes, refreshed in one go, are the model's
        # visibility at each bin's end.
        cur.execute("SELECT parallax.route_bins_refresh(%s, %s)", (T0, end))
        cur.execute("SELECT prefix::text, bin_end, peers_seeing, peers_total, origin_asns, withdrawn_at "
                    "FROM parallax.route_bins ORDER BY prefix, bin_start")
        rows = cur.fetchall()
        if not rows and any(e[2] == "announce" for e in events):
            return "no visibility bins written"
        for prefix, bin_end, s, t, o, w in rows:
            want = visibility(peers, events, prefix, bin_end)
            if (s, t, sorted(o), w) != want:
                return f"route_bins of {prefix} ending {bin_end}: sql {(s, t, sorted(o), w)}, model {want}"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--first", type=int, default=1)
    a = ap.parse_args()
    conn = psycopg2.connect(a.db)
    bad = 0
    for seed in range(a.first, a.first + a.seeds):
        why = run_seed(conn, seed)
        conn.rollback()
        if why:
            bad += 1
            print(f"seed {seed}: {why}\n  rerun: routes_model.py --db ... --first {seed} --seeds 1")
    print(f"{a.seeds} seeds, {bad} differing")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
