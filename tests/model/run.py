#!/usr/bin/python3
"""run.py: the verdict model test. Each seed's random history (history.py) is fed into a real
PostgreSQL the way the coordinator feeds it — results by COPY, one transaction per batch as
they arrive, heartbeats and gap records as they arrive, agents added and disabled — while a
virtual clock advances and parallax.merge_run(now) is called as the coordinator calls it.
At the end every bin and every outage is compared with the reference model (model.py).

  run.py --db CONNINFO --ctl PARALLAXCTL [--seed N | --first N --seeds N] [--jobs J]
         [--budget SECONDS --min-seeds N] [--patch FILE] [--verbose]

A difference prints the seed, what differs, a short timeline and the command that reruns it;
the exit status is 1 if any seed differed (or fewer than --min-seeds ran).
"""
import argparse
import io
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import history as hist  # noqa: E402
from model import Model  # noqa: E402

BASE = datetime(2031, 3, 3, tzinfo=timezone.utc)
DATA_TABLES = ("agents, targets, probes, results, heartbeats, gaps, batches, bins, outage_events, "
               "merge_dirty, merge_groups")


def h0_of(seed):
    # Histories on different days, aligned to the hour (every bin width divides an hour).
    return BASE + timedelta(hours=(seed % 500) * 7)


def ms_of(h0, ts):
    return int(round((ts - h0).total_seconds() * 1000))


class Db:
    def __init__(self, conninfo):
        self.conn = psycopg2.connect(conninfo)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("SET TimeZone = 'UTC'")

    def q(self, sql, args=None):
        self.cur.execute(sql, args)
        return self.cur.fetchall() if self.cur.description else None

    def reset(self):
        self.q(f"TRUNCATE {', '.join('parallax.' + t.strip() for t in DATA_TABLES.split(','))} "
               "RESTART IDENTITY CASCADE")
        self.q("UPDATE parallax.merge_state SET vantages_swept_to = NULL, vantages_swept_from = NULL")
        self.q("DELETE FROM parallax.merge_settings; INSERT INTO parallax.merge_settings DEFAULT VALUES")

    def settings(self):
        row = dict(self.q("SELECT name, value FROM parallax.merge_setting_list"))
        s = {}
        for k, v in row.items():
            if k in ("vantage_bin_s", "group_bin_s"):
                s[k] = None if v == "auto" else int(v)
            elif k in ("baseline_window", "sweep_max", "run_max"):
                continue
            else:
                s[k] = Fraction(v) if "." in v else int(v)
        s["baseline_window_s"] = int(self.q("SELECT extract(epoch FROM baseline_window) FROM parallax.merge_settings")[0][0])
        return s


def feed(db, h, h0, verbose=False):
    """Plays history h into the database on a virtual clock; returns what was delivered."""
    ids = {}
    for i, a in enumerate(h.agents):
        key = (f"k{h.seed:09d}{i:03d}" + "x" * 40)[:40]
        ids[a.name] = db.q("INSERT INTO parallax.agents (name, country, asn, public_key, created_at, clock_offset_ms) "
                           "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                           (a.name, a.country, a.asn, key, h0 + timedelta(seconds=a.created), a.offset_ms))[0][0]
    probe_ids = {}
    for t in h.targets:
        tid = db.q("INSERT INTO parallax.targets (name, address, group_name, role, control) "
                   "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                   (t.name, f"203.0.113.{len(probe_ids) % 250 + 1}", t.group, t.role, t.control))[0][0]
        for p in t.probes:
            probe_ids[(t.name, p.spec)] = db.q(
                "INSERT INTO parallax.probes (target_id, kind, spec, interval_s, timeout_ms) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (tid, p.kind, p.spec, p.interval, min(5000, p.interval * 500)))[0][0]
    day = (h0 - timedelta(days=1)).date()
    while day <= (h0 + timedelta(seconds=h.length + 86400)).date():
        db.q("SELECT parallax.ensure_partition(%s)", (day,))
        day += timedelta(days=1)
    control = {t.name: t.control for t in h.targets}

    # Events on the virtual clock: deliveries (one batch per agent and second), heartbeats,
    # gap records, agents disabled.
    events = []
    disabled_at = {a.name: a.disabled for a in h.agents if a.disabled is not None}
    delivered = []
    batches = {}
    for r in h.results:
        d = disabled_at.get(r.agent)
        if d is not None and r.deliver >= d:
            continue                       # refused once the agent is disabled: never stored
        batches.setdefault((int(r.deliver) + 1, r.agent), []).append(r)
        delivered.append(r)
    for (t, agent), rs in batches.items():
        events.append((t, 1, "batch", (agent, rs)))
    for agent, t in h.heartbeats:
        events.append((t, 0, "heartbeat", (agent, t)))
    for g in h.gaps:
        d = disabled_at.get(g.agent)
        if d is None or g.deliver < d:
            events.append((g.deliver, 2, "gap", g))
    for agent, t in disabled_at.items():
        events.append((t, 3, "disable", agent))
    events.sort(key=lambda e: (e[0], e[1]))
    gaps_in = [g for (_, _, kind, g) in events if kind == "gap"]

    widest = max(p.interval for t in h.targets for p in t.probes)
    # The coordinator merges about once a second; a history of hours would then take thousands
    # of calls. Each seed picks how often its merge runs (every half the shortest interval,
    # every interval, every half the widest bin: the last is a backlog after a pause), at
    # most about 80 times in all.
    shortest = min(p.interval for t in h.targets for p in t.probes)
    last_event = max(e[0] for e in events)
    end = max(h.length, last_event) + 6 * widest + 30
    tick = max(1.0, [shortest / 2.0, float(shortest), widest / 2.0][h.seed % 3], end / 80.0)
    # Like the coordinator, half the seeds merge from the start, before any result arrived.
    now, i, merges, started = 0.0, 0, 0, h.seed % 2 == 0
    while now <= end:
        now += tick
        pending = {}                       # agent -> its results due by now: one batch each
        beats = []                         # heartbeats due by now, stored in one statement
        while i < len(events) and events[i][0] <= now:
            t, _, kind, x = events[i]
            i += 1
            if kind == "batch":
                agent, rs = x
                pending.setdefault(agent, []).extend(rs)
                continue
            if kind == "heartbeat":
                agent, ht = x
                beats.append((ids[agent], h0 + timedelta(seconds=ht)))
            elif kind == "gap":
                g = x
                pid = probe_ids[(g.target, g.spec)] if g.target else None
                db.q("INSERT INTO parallax.gaps (agent_id, probe_id, ts_from, ts_to, dropped_count) "
                     "VALUES (%s, %s, %s, %s, 1)",
                     (ids[g.agent], pid, h0 + timedelta(milliseconds=g.from_ms),
                      h0 + timedelta(milliseconds=g.to_ms)))
            elif kind == "disable":
                # What the agent sent before it was disabled is stored first.
                started = ingest(db, pending, ids, probe_ids, control, h0) or started
                db.q("UPDATE parallax.agents SET enabled = false, disabled_at = %s WHERE name = %s",
                     (h0 + timedelta(seconds=t), x))
        started = ingest(db, pending, ids, probe_ids, control, h0) or started
        if beats:
            db.q("INSERT INTO parallax.heartbeats (agent_id, ts) SELECT * FROM unnest(%s::integer[], "
                 "%s::timestamptz[]) ON CONFLICT DO NOTHING", ([b[0] for b in beats], [b[1] for b in beats]))
        if started:
            at = h0 + timedelta(seconds=now)
            for _ in range(1000):
                merges += 1
                if db.q("SELECT parallax.merge_run(%s)", (at,))[0][0] == 0:
                    break
    # Everything of the history merged: nothing before its end still waits.
    left = db.q("SELECT count(*) FROM parallax.merge_dirty WHERE bin_start < %s",
                (h0 + timedelta(seconds=h.length),))[0][0]
    return delivered, gaps_in, merges, left


def ingest(db, pending, ids, probe_ids, control, h0):
    """Stores each agent's pending results as one batch: COPY in its own transaction, as the
    coordinator stores a batch (the insert trigger marks the bins it touches). Returns
    whether anything was stored, and empties pending."""
    stored_any = False
    for agent, rs in pending.items():
        buf = io.StringIO()
        for r in rs:
            ts = h0 + timedelta(milliseconds=r.ts_ms)
            rtt = "\\N" if r.rtt_ms is None else repr(r.rtt_ms)
            buf.write(f"{ts.isoformat()}\t{ids[agent]}\t{probe_ids[(r.target, r.spec)]}\t{r.status}\t"
                      f"{rtt}\t{'t' if control[r.target] else 'f'}\n")
        buf.seek(0)
        with db.conn:
            with db.conn.cursor() as c:
                c.copy_expert("COPY parallax.results (ts, agent_id, probe_id, status, rtt_ms, control) "
                              "FROM STDIN", buf)
        stored_any = True
    pending.clear()
    return stored_any


def stored(db, h0, end_ms):
    bins = {}
    for scope, subject, start, state in db.q(
            "SELECT b.scope, coalesce(a.name, t.name, g.name), b.bin_start, b.state FROM parallax.bins b "
            "LEFT JOIN parallax.agents a ON b.scope = 'vantage' AND a.id = b.subject_id "
            "LEFT JOIN parallax.targets t ON b.scope = 'target' AND t.id = b.subject_id "
            "LEFT JOIN parallax.merge_groups g ON b.scope = 'group' AND g.id = b.subject_id"):
        bins[(scope, subject, ms_of(h0, start))] = state
    outages = [{"scope": sc, "subject": su, "start": ms_of(h0, st), "end": None if en is None else ms_of(h0, en),
                "stage": sg}
               for sc, su, st, en, sg in db.q("SELECT scope, subject, started_at, ended_at, stage FROM parallax.outages")]
    return bins, outages


def compare(model_bins, model_outages, sql_bins, sql_outages, end_ms):
    diffs = []
    keys = {k for k in model_bins if 0 <= k[2] < end_ms} | {k for k in sql_bins if 0 <= k[2] < end_ms}
    for k in sorted(keys, key=lambda k: (k[2], k[0], k[1])):
        quiet = "no_data" if k[0] == "vantage" else "unknown"
        m, s = model_bins.get(k, quiet), sql_bins.get(k, quiet)
        if m != s and not ({m, s} <= {"no_data", "unknown"}):
            diffs.append(f"bin {k[0]} {k[1]} @{k[2] / 1000:g}s: model {m}, sql {s}")
    mo = {(o["scope"], o["subject"], o["start"]): o for o in model_outages if o["start"] < end_ms}
    so = {(o["scope"], o["subject"], o["start"]): o for o in sql_outages if o["start"] < end_ms}
    for k in sorted(set(mo) | set(so), key=lambda k: (k[2], k[0], k[1])):
        m, s = mo.get(k), so.get(k)
        what = f"outage {k[0]} {k[1]} from {k[2] / 1000:g}s"
        if m is None or s is None:
            diffs.append(f"{what}: model {'none' if m is None else m['stage']}, sql {'none' if s is None else s['stage']}")
            continue
        m_open = m["end"] is None or m["end"] >= end_ms
        s_open = s["end"] is None or s["end"] >= end_ms
        if m_open and s_open:
            continue                          # later bins decide its end and worst stage
        if (m["end"], m["stage"]) != (s["end"], s["stage"]):
            fmt = lambda o: f"{o['stage']} until {'open' if o['end'] is None else o['end'] / 1000}"
            diffs.append(f"{what}: model {fmt(m)}, sql {fmt(s)}")
    return diffs


def timeline(h, model_bins, sql_bins, diffs, end_ms):
    """A short picture of the subjects the first differences are about."""
    lines = ["history:"] + [f"  {n}" for n in h.notes]
    subjects = []
    for d in diffs:
        parts = d.split()
        subj = (parts[1], parts[2])
        if subj not in subjects:
            subjects.append(subj)
    letters = {"healthy": "h", "impaired": "i", "offline": "o", "no_data": "-", "up": "u", "degraded": "g",
               "partial": "p", "down": "D", "unknown": "?", "normal": "n", "servers_offline": "s",
               "dns_down": "d", "blackout": "B"}
    for scope, subject in subjects[:3]:
        ks = sorted(k[2] for k in set(model_bins) | set(sql_bins) if k[0] == scope and k[1] == subject and k[2] < end_ms)
        lines.append(f"{scope} {subject}, bins from {ks[0] / 1000 if ks else 0:g}s:")
        lines.append("  model " + "".join(letters.get(model_bins.get((scope, subject, k)), ".") for k in ks))
        lines.append("  sql   " + "".join(letters.get(sql_bins.get((scope, subject, k)), ".") for k in ks))
    return lines


def run_seed(db, seed, verbose=False):
    h = hist.generate(seed)
    h0 = h0_of(seed)
    db.reset()
    settings = db.settings()
    delivered, gaps, merges, left = feed(db, h, h0, verbose)
    end_ms = int(h.length * 1000)
    model = Model(h.agents, h.targets, settings)
    model_bins, model_outages = model.run(
        [(r.agent, r.target, r.spec, r.ts_ms, r.status, r.rtt_ms) for r in delivered],
        [(a, int(round(t * 1000))) for a, t in h.heartbeats],
        [(g.agent, g.target, g.spec, g.from_ms, g.to_ms) for g in gaps], 0, end_ms)
    sql_bins, sql_outages = stored(db, h0, end_ms)
    diffs = compare(model_bins, model_outages, sql_bins, sql_outages, end_ms)
    if left:
        diffs.insert(0, f"{left} bins of the history still waiting to be merged at the end")
    report = None
    if diffs:
        report = [f"seed {seed}: {len(diffs)} differences ({len(delivered)} results, {merges} merge calls)"]
        report += ["  " + d for d in diffs[:10]]
        report += ["  " + x for x in timeline(h, model_bins, sql_bins, diffs, end_ms)]
        report.append(f"  rerun: python3 tests/model/run.py --db ... --ctl ... --seed {seed} --verbose")
    return len(delivered), merges, report


def worker(args):
    conninfo, seeds, deadline, verbose = args
    db = Db(conninfo)
    done, reports = 0, []
    for seed in seeds:
        if deadline and time.time() > deadline:
            break
        _, _, report = run_seed(db, seed, verbose)
        done += 1
        if report:
            reports.append("\n".join(report))
            print(reports[-1], flush=True)
    return done, reports


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="conninfo of the cluster (databases are made in it)")
    ap.add_argument("--ctl", required=True, help="parallaxctl, to migrate the databases")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--budget", type=float, default=0, help="start no seed after this many seconds")
    ap.add_argument("--min-seeds", type=int, default=0)
    ap.add_argument("--prefix", default="pxmodel", help="names of the databases made")
    ap.add_argument("--patch", help="SQL file applied after migrating: break the merge on purpose "
                                    "to see that this test catches it")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    seeds = [a.seed] if a.seed is not None else list(range(a.first, a.first + a.seeds))
    jobs = max(1, min(a.jobs, len(seeds)))
    dbs = []
    for j in range(jobs):
        name = f"{a.prefix}_{os.getpid()}_{j}"
        admin = psycopg2.connect(a.db)
        admin.autocommit = True
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        admin.cursor().execute(f"CREATE DATABASE {name}")
        admin.close()
        conninfo = f"{a.db} dbname={name}"
        subprocess.run([a.ctl, "--db", conninfo, "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
        if a.patch:
            patch = psycopg2.connect(conninfo)
            patch.autocommit = True
            patch.cursor().execute(open(a.patch).read())
            patch.close()
        dbs.append((name, conninfo))
    t0 = time.time()
    deadline = t0 + a.budget if a.budget else None
    parts = [(dbs[j][1], seeds[j::jobs], deadline, a.verbose) for j in range(jobs)]
    try:
        if jobs == 1:
            outcomes = [worker(parts[0])]
        else:
            with multiprocessing.Pool(jobs) as pool:
                outcomes = pool.map(worker, parts)
    finally:
        admin = psycopg2.connect(a.db)
        admin.autocommit = True
        for name, _ in dbs:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    ran = sum(o[0] for o in outcomes)
    differing = sum(len(o[1]) for o in outcomes)
    print(f"seeds {ran}, differing {differing}, time {time.time() - t0:.0f} s")
    if ran < a.min_seeds:
        print(f"only {ran} seeds ran within the budget; at least {a.min_seeds} are required", file=sys.stderr)
        return 1
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
