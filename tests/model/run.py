#!/usr/bin/python3
"""run.py: the SQL merge against the reference model (model.py) on random histories.

Each seed's history (history.py) is played into a real PostgreSQL as the coordinator plays
it: agents and targets as configured, a COPY into parallax.results per delivered batch (one
transaction each), heartbeats and gap records as they arrive, agents added and disabled,
and parallax.merge_run(now) called on a virtual clock after every delivery and whenever a
bin closes. Then every bin starting in [H0, H1) and every outage starting before H1 is
compared with what model.py computes from the same data and docs/verdicts.md alone.

  run.py --db CONNINFO --ctl PARALLAXCTL (--seed N | [--first N] --seeds N) [--jobs J]
         [--budget SECONDS] [--min-seeds N] [--prefix NAME] [--verbose]

Prints "seeds N, differing D, time T s"; exit status 1 if any seed differed or fewer than
--min-seeds ran.
"""
import argparse
import io
import multiprocessing as mp
import os
import queue
import shlex
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import history as hist  # noqa: E402
import model as mdl  # noqa: E402

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Everything the merge reads or writes; truncated between seeds.
DATA_TABLES = ["agents", "targets", "probes", "results", "heartbeats", "gaps", "batches", "bins",
               "outage_events", "merge_dirty", "merge_inbox", "merge_groups", "schedule_versions",
               "maintenance"]
MAX_DIFFS = 10
EVIDENCE_LISTS = ("excluded", "failed", "reached", "mixed", "chronic")
CHARS = {"healthy": ".", "impaired": "i", "offline": "o", "no_data": "_",
         "up": ".", "degraded": "d", "partial": "p", "down": "D", "unknown": "?",
         "normal": ".", "servers_offline": "s", "dns_down": "n", "blackout": "B"}


def iso(ms):
    return (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


def rel(h, ms):
    return f"{(ms - h.h0) / 1000:g}s"


def conninfo_db(base, db):
    return f"{base} dbname={db}"     # a later dbname wins


class Db:
    def __init__(self, conninfo):
        self.conn = psycopg2.connect(conninfo)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("SET TimeZone = 'UTC'")
        self.q("SELECT 1")
        self.tables = [r[0] for r in self.q(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'parallax' AND c.relkind IN ('r', 'p') AND NOT c.relispartition")]
        self.has_disabled_at = bool(self.q(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = 'parallax' "
            "AND table_name = 'agents' AND column_name = 'disabled_at'"))
        self.state_cols = [r[0] for r in self.q(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'parallax' "
            "AND table_name = 'merge_state' AND column_name <> 'id'")]

    def q(self, sql, args=None):
        self.cur.execute(sql, args)
        return self.cur.fetchall() if self.cur.description else None

    def reset(self):
        tables = [t for t in DATA_TABLES if t in self.tables]
        self.q("TRUNCATE " + ", ".join("parallax." + t for t in tables) + " RESTART IDENTITY CASCADE")
        if self.state_cols:
            self.q("UPDATE parallax.merge_state SET " + ", ".join(f"{c} = NULL" for c in self.state_cols))
        self.q("DELETE FROM parallax.merge_settings; INSERT INTO parallax.merge_settings DEFAULT VALUES")

    def settings(self):
        rows = self.q("SELECT name, value, default_value FROM parallax.merge_setting_list")
        s = {}
        changed = []
        for name, value, default in rows:
            if value != default:
                changed.append(name)
            if name in ("vantage_bin_s", "group_bin_s"):
                s[name] = None if value in (None, "", "auto", "0") else int(value)
            else:
                s[name] = value
        s["baseline_window_ms"] = int(self.q(
            "SELECT (extract(epoch FROM baseline_window) * 1000)::bigint FROM parallax.merge_settings")[0][0])
        grace = self.q("SELECT grace_bins, grace_s FROM parallax.merge_settings")[0]
        return s, float(grace[0]), int(grace[1]), changed


# ------------------------------------------------------------------ feeding a history
class Feed:
    def __init__(self, db, h, verbose=False):
        self.db, self.h, self.verbose = db, h, verbose
        self.agent_id, self.target_id, self.probe_id = {}, {}, {}
        self.merge_calls = 0
        self.merged = 0
        self.batches = 0
        self.notes = []

    def setup(self):
        db, h = self.db, self.h
        days = set()
        d = EPOCH + timedelta(milliseconds=h.h0 - 86400000)
        while d <= EPOCH + timedelta(milliseconds=h.h_end + 86400000):
            days.add(d.date())
            d += timedelta(days=1)
        for day in sorted(days):
            db.q("SELECT parallax.ensure_partition(%s::date)", (day.isoformat(),))
        for t in h.targets:
            if t.created_ms is None:
                self.add_target(t)

    def add_target(self, t):
        h, db = self.h, self.db
        created = h.h0 - 86400000 if t.created_ms is None else t.created_ms
        self.target_id[t.idx] = db.q(
            "INSERT INTO parallax.targets (name, address, group_name, role, control, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (t.name, t.address + "/32", t.group, t.role, t.control, iso(created)))[0][0]
        for p in t.probes:
            self.probe_id[p.idx] = db.q(
                "INSERT INTO parallax.probes (target_id, kind, spec, interval_s, timeout_ms) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (self.target_id[t.idx], p.kind, p.spec, p.interval_s, p.timeout_ms))[0][0]

    def add_agent(self, a):
        key = (f"k{self.h.seed:010d}{a.idx:03d}" + "K" * 40)[:40]
        self.agent_id[a.idx] = self.db.q(
            "INSERT INTO parallax.agents (name, country, asn, public_key, enabled, created_at, clock_offset_ms) "
            "VALUES (%s, %s, %s, %s, true, %s, %s) RETURNING id",
            (a.name, a.country, a.asn, key, iso(a.created_ms), None if a.offset_null else a.offset_ms))[0][0]

    def add_window(self, w):
        """A maintenance window, if the schema has them (before: the model ignores it too)."""
        if self.db.q("SELECT to_regclass('parallax.maintenance') IS NOT NULL")[0][0]:
            self.db.q("INSERT INTO parallax.maintenance (agent_id, starts_at, ends_at, reason) "
                      "VALUES (%s, %s, %s, 'model')", (self.agent_id[w[0]], iso(w[1]), iso(w[2])))

    def disable_agent(self, a):
        if self.db.has_disabled_at:
            self.db.q("UPDATE parallax.agents SET enabled = false, disabled_at = %s WHERE id = %s",
                      (iso(a.disabled_ms), self.agent_id[a.idx]))
        else:
            self.db.q("UPDATE parallax.agents SET enabled = false WHERE id = %s", (self.agent_id[a.idx],))

    def copy(self, a_idx, rows):
        h = self.h
        buf = io.StringIO()
        aid = self.agent_id[a_idx]
        for r in rows:
            p = h.probes[r.probe]
            f = [iso(r.ts), str(aid), str(self.probe_id[r.probe]), r.status,
                 "\\N" if r.rtt is None else repr(r.rtt),
                 "\\N" if r.app_code is None else str(r.app_code),
                 "\\N" if r.icmp_type is None else str(r.icmp_type),
                 "\\N" if r.icmp_code is None else str(r.icmp_code),
                 "\\N" if r.icmp_from is None else r.icmp_from,
                 "\\N" if r.message is None else r.message,
                 "t" if p.target.control else "f", iso(r.deliver)]
            buf.write("\t".join(f) + "\n")
        buf.seek(0)
        # One delivered batch, one transaction (autocommit: the COPY is its own transaction).
        self.db.cur.copy_expert(
            "COPY parallax.results (ts, agent_id, probe_id, status, rtt_ms, app_code, icmp_type, "
            "icmp_code, icmp_from, message, control, received_at) FROM STDIN", buf)
        self.batches += 1

    def merge(self, now):
        for _ in range(1000):
            self.merge_calls += 1
            n = self.db.q("SELECT parallax.merge_run(%s)", (iso(now),))[0][0]
            self.merged += n or 0
            if not n or n <= 0:
                return
        self.notes.append(f"merge_run({rel(self.h, now)}) still merging after 1000 calls")

    def play(self, grace_bins, grace_s):
        """Plays the history on a virtual clock. The coordinator merges about once a second
        and after every batch; here merge_run runs at every moment something arrives and at
        every moment a bin of some width closes (rounded up to the history's merge tick)."""
        h, db = self.h, self.db
        tick = h.merge_tick_ms
        up = lambda t: -(-t // tick) * tick  # noqa: E731
        ev = {}

        def at(t, kind, x):
            ev.setdefault(up(t), []).append((kind, x))

        for t in h.targets:
            if t.created_ms is not None:
                at(t.created_ms, -1, t)
        for a in h.agents:
            at(a.created_ms, 0, a)
            if a.disabled_ms is not None:
                at(a.disabled_ms, 1, a)
        for hb in h.heartbeats:
            at(hb[1], 2, hb)
        for g in h.gaps:
            at(g.report, 3, g)
        for r in h.results:
            at(r.deliver, 4, r)
        # A window is added once its agent exists (0.5: after an agent added at the same
        # tick), before the history or at the time it is known.
        for w in h.windows:
            created = next(a.created_ms for a in h.agents if a.idx == w[0])
            at(max(h.h0 if w[3] is None else w[3], created), 0.5, w)
        widths = {h.vw, h.gw} | {max(p.interval_s for p in t.probes) for t in h.targets}
        for w in widths:
            wm = w * 1000
            e = (h.h0 // wm + 1) * wm
            while e - wm < h.h_end:
                at(e + int(grace_bins * wm) + grace_s * 1000, 5, None)
                e += wm
        started = False
        for now in sorted(ev):
            items = sorted(ev[now], key=lambda x: x[0])
            hbs, gaps, batches = [], [], {}
            for kind, x in items:
                if kind == 0.5:
                    self.add_window(x)
                elif kind == -1:
                    self.add_target(x)
                elif kind == 0:
                    self.add_agent(x)
                elif kind == 1:
                    self.disable_agent(x)
                elif kind == 2:
                    hbs.append(x)
                elif kind == 3:
                    gaps.append(x)
                elif kind == 4:
                    batches.setdefault(x.agent, []).append(x)
            if hbs:
                db.q("INSERT INTO parallax.heartbeats (agent_id, ts) VALUES "
                     + ", ".join(db.cur.mogrify("(%s, %s)", (self.agent_id[a], iso(t))).decode()
                                 for a, t in hbs) + " ON CONFLICT DO NOTHING")
            if gaps:
                has_reason = "reason" in self.gap_cols()
                vals = []
                for g in gaps:
                    row = (self.agent_id[g.agent], None if g.probe is None else self.probe_id[g.probe],
                           iso(g.ts_from), iso(g.ts_to), g.count, iso(g.report))
                    if has_reason:
                        vals.append(db.cur.mogrify("(%s, %s, %s, %s, %s, %s, %s)", row + (g.reason,)).decode())
                    else:
                        vals.append(db.cur.mogrify("(%s, %s, %s, %s, %s, %s)", row).decode())
                db.q("INSERT INTO parallax.gaps (agent_id, probe_id, ts_from, ts_to, dropped_count, reported_at"
                     + (", reason" if has_reason else "") + ") VALUES " + ", ".join(vals))
            for a_idx in sorted(batches):
                self.copy(a_idx, batches[a_idx])
                started = True
            if started:
                self.merge(now)
        # Work off what remains: advance the clock until no dirty bin starts before the
        # history's data ends (H1 and two of the widest bins; bins from H1 on are not compared).
        now = max(ev)
        for _ in range(200):
            left = db.q("SELECT count(*) FROM parallax.merge_queue WHERE bin_start < %s", (iso(h.h_end),))[0][0]
            if not left:
                break
            now += h.widest * 1000
            self.merge(now)
        else:
            self.notes.append(f"bins are still queued before the history's end at {rel(h, now)}")
        self.end = now

    _gap_cols = None

    def gap_cols(self):
        if Feed._gap_cols is None:
            Feed._gap_cols = {r[0] for r in self.db.q(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'parallax' "
                "AND table_name = 'gaps'")}
        return Feed._gap_cols


# ------------------------------------------------------------------ one seed
def model_of(h, settings, has_disabled_at):
    agents = [dict(id=a.idx, name=a.name, country=a.country, asn=a.asn,
                   offset_ms=None if a.offset_null else a.offset_ms, created_ms=a.created_ms,
                   disabled_ms=a.disabled_ms if has_disabled_at else None) for a in h.agents]
    targets = [dict(id=t.idx, name=t.name, group=t.group, role=t.role, control=t.control,
                    probes=[dict(id=p.idx, kind=p.kind, interval_s=p.interval_s) for p in t.probes])
               for t in h.targets]
    results = [(r.agent, r.probe, r.ts, r.status, r.rtt) for r in h.results]
    gaps = [(g.agent, g.probe, g.ts_from, g.ts_to) for g in h.gaps]
    windows = [(a, f, to) for a, f, to, _known in h.windows]
    return mdl.Model(settings, agents, targets, results, h.heartbeats, gaps, h.h_end, windows)


def sql_side(db, h):
    h0, h1 = iso(h.h0), iso(h.h1)
    ms = lambda c: f"(extract(epoch FROM {c}) * 1000)::bigint"  # noqa: E731
    bins = {}
    for scope, view, subj, col, more in (("vantage", "vantage_bins", "agent", "health", "NULL, NULL"),
                                         ("target", "target_bins", "target", "state", "rtt_ms, evidence"),
                                         ("group", "group_bins", "group_name", "stage", "NULL, NULL")):
        for s, b, e, st, r, ev in db.q(f"SELECT {subj}, {ms('bin_start')}, {ms('bin_end')}, {col}::text, {more} "
                                       f"FROM parallax.{view} WHERE bin_start >= %s AND bin_start < %s", (h0, h1)):
            if ev is not None:
                ev = {k: set(ev.get(k) or ()) for k in EVIDENCE_LISTS} | {"service_down": bool(ev.get("service_down"))}
            bins[(scope, s, b)] = (e, st, r, ev)
    outs = {}
    for scope, s, b, e, st in db.q(f"SELECT scope, subject, {ms('started_at')}, {ms('ended_at')}, stage "
                                   "FROM parallax.outages WHERE started_at < %s", (h1,)):
        outs[(scope, s, b)] = (e, st)
    return bins, outs


def model_side(m, h):
    bins = {}
    names_a = {a.idx: a.name for a in h.agents}
    names_t = {t.idx: t.name for t in h.targets}
    spec = {p.idx: p.spec for p in h.probes}
    for (a, b), v in m.vbins.items():
        bins[("vantage", names_a[a], b)] = v + (None, None)
    for (t, b), v in m.tbins.items():
        info = m.tinfo[(t, b)]
        ev = {k: {spec[x] if k == "chronic" else names_a[x] for x in info[k]} for k in EVIDENCE_LISTS}
        ev["service_down"] = info["service_down"]
        bins[("target", names_t[t], b)] = v + (m.trtt[(t, b)], ev)
    for (g, b), v in m.gbins.items():
        bins[("group", g, b)] = v + (None, None)
    bins = {k: v for k, v in bins.items() if h.h0 <= k[2] < h.h1}
    outs = {(sc, s, b): (e, st) for sc, s, b, e, st in m.outage_list if b < h.h1}
    return bins, outs


def lacking(scope):
    return "no_data" if scope == "vantage" else "unknown"


def compare(h, sql_bins, sql_outs, mod_bins, mod_outs):
    """[(subject (scope, name), kind, text)]: every bin and outage that differs."""
    diffs = []
    controls = {t.name for t in h.targets if t.control}
    tag = lambda scope, name: " (control target)" if scope == "target" and name in controls else ""  # noqa: E731
    for k in sorted(set(sql_bins) | set(mod_bins), key=lambda k: (k[2], k[0], k[1])):
        scope, name = k[0], k[1]
        se, ss, sr, sev = sql_bins.get(k, (None, lacking(scope), None, None))
        me, ms_, mr, mev = mod_bins.get(k, (None, lacking(scope), None, None))
        if ss != ms_:
            diffs.append(((scope, name), f"{scope} bin: model {ms_}, sql {ss}{tag(scope, name)}",
                          f"bin {scope} {name} @{rel(h, k[2])}: model {ms_}, sql {ss}"))
        elif se is not None and me is not None and se != me:
            diffs.append(((scope, name), f"{scope} bin: another end{tag(scope, name)}",
                          f"bin {scope} {name} @{rel(h, k[2])}: ends model {rel(h, me)}, sql {rel(h, se)}"))
        elif se is not None and me is not None and (
                (sr is None) != (mr is None) or (sr is not None and abs(sr - mr) > 1e-6 * max(1.0, abs(mr)))):
            # Beyond the state: the bin's RTT is the median of the runs that count (a check
            # on which runs count).
            diffs.append(((scope, name), f"{scope} bin: another RTT{tag(scope, name)}",
                          f"bin {scope} {name} @{rel(h, k[2])}: RTT model {mr}, sql {sr}"))
        elif sev is not None and mev is not None and sev != mev:
            # And what its evidence lists: which vantages were left out, failed, reached,
            # mixed; which probes were chronic; service_down.
            for key in [x for x in EVIDENCE_LISTS + ("service_down",) if sev[x] != mev[x]][:1]:
                show_ = lambda v: " ".join(sorted(v)) if isinstance(v, set) else str(v).lower()  # noqa: E731
                diffs.append(((scope, name), f"{scope} bin: another evidence {key}{tag(scope, name)}",
                              f"bin {scope} {name} @{rel(h, k[2])}: {key} model [{show_(mev[key])}], "
                              f"sql [{show_(sev[key])}]"))
    show = lambda o: "-" if o is None else f"{rel(h, o[0]) if o[0] is not None else 'open'} {o[1]}"  # noqa: E731
    for k in sorted(set(sql_outs) | set(mod_outs), key=lambda k: (k[2], k[0], k[1])):
        scope, name = k[0], k[1]
        so, mo = sql_outs.get(k), mod_outs.get(k)
        if so == mo:
            continue
        if so is None:
            kind = "only in the model"
        elif mo is None:
            kind = "only in sql"
        elif so[0] != mo[0]:
            kind = "another end" + (" (open in sql)" if so[0] is None else " (open in the model)" if mo[0] is None else "")
        else:
            kind = "another stage"
        diffs.append(((scope, name), f"{scope} outage: {kind}{tag(scope, name)}",
                      f"outage {scope} {name} from {rel(h, k[2])}: model {show(mo)}, sql {show(so)}"))
    return diffs


def timeline(h, subject, sql_bins, mod_bins, m):
    scope, name = subject
    if scope == "vantage":
        w = m.vw
    elif scope == "group":
        w = m.gw
    else:
        t = next(t for t in h.targets if t.name == name)
        w = 1000 * max(p.interval_s for p in t.probes)
    first = -(-h.h0 // w) * w
    starts = list(range(first, h.h1, w))
    line = lambda bins: "".join(CHARS.get(bins.get((scope, name, b), (None, lacking(scope)))[1], "?")  # noqa: E731,E501
                                for b in starts)
    out = [f"  {scope} {name}, {w // 1000}s bins from {rel(h, first)} "
           "(. good, i impaired, o offline, _ no_data, ? unknown, d degraded, p partial, D down, "
           "s servers_offline, n dns_down, B blackout):"]
    ml, sl = line(mod_bins), line(sql_bins)
    for i in range(0, len(starts), 100):
        out.append(f"    model {ml[i:i + 100]}")
        out.append(f"    sql   {sl[i:i + 100]}")
    return out


def run_seed(db, seed, ctx):
    t0 = time.time()
    db.reset()
    settings, grace_bins, grace_s, changed = db.settings()
    h = hist.History(seed)
    feed = Feed(db, h)
    feed.setup()
    feed.play(grace_bins, grace_s)
    sql_bins, sql_outs = sql_side(db, h)
    # The model is fed the history itself: check that the database holds exactly that.
    counts = db.q("SELECT (SELECT count(*) FROM parallax.results), (SELECT count(*) FROM parallax.gaps), "
                  "(SELECT count(*) FROM parallax.heartbeats), (SELECT count(*) FROM parallax.agents "
                  "WHERE enabled = (disabled_at IS NULL))")[0] if db.has_disabled_at else None
    if counts and tuple(counts) != (len(h.results), len(h.gaps), len(set(h.heartbeats)), len(h.agents)):
        feed.notes.append(f"the database holds {tuple(counts)} results, gaps, heartbeats, agents; "
                          f"the history {(len(h.results), len(h.gaps), len(set(h.heartbeats)), len(h.agents))}")
    m = model_of(h, settings, db.has_disabled_at)
    mod_bins, mod_outs = model_side(m, h)
    diffs = compare(h, sql_bins, sql_outs, mod_bins, mod_outs)
    for n in feed.notes:
        diffs.append((None, "harness: " + n.split(" at ")[0], "harness: " + n))
    # What the control targets alone show comes last: it is the same in every seed.
    # The first difference of each kind first (what the control targets alone show last:
    # it is the same in every seed), then the rest in time order.
    firsts, seen = [], set()
    for i, d in enumerate(diffs):
        if d[1] not in seen:
            seen.add(d[1])
            firsts.append(i)
    order = sorted(firsts, key=lambda i: "(control target)" in diffs[i][1])
    order += [i for i in range(len(diffs)) if i not in set(firsts)]
    diffs = [diffs[i] for i in order]
    lines = []
    dt = time.time() - t0
    if changed:
        lines.append(f"seed {seed}: note: settings differ from their defaults: {', '.join(changed)}")
    if not db.has_disabled_at and any(a.disabled_ms for a in h.agents):
        lines.append(f"seed {seed}: note: agents.disabled_at is missing; the agent is disabled without it")
    if diffs:
        lines.append(f"seed {seed}: {len(diffs)} differences ({len(h.results)} results, "
                     f"{feed.batches} batches, {feed.merge_calls} merge calls, {feed.merged} bins merged, "
                     f"{dt:.2f} s)")
        for _, _, d in diffs[:MAX_DIFFS]:
            lines.append("  " + d)
        if len(diffs) > MAX_DIFFS:
            lines.append(f"  ... and {len(diffs) - MAX_DIFFS} more")
        lines.append("  history:")
        lines += ["  " + x for x in h.describe()]
        subjects = []
        for s, _, _ in diffs:
            if s is not None and s not in subjects:
                subjects.append(s)
        for s in subjects[:2]:
            lines += timeline(h, s, sql_bins, mod_bins, m)
        lines.append(f"  rerun: /usr/bin/python3 {shlex.quote(os.path.join(HERE, 'run.py'))} --db "
                     f"{shlex.quote(ctx['db'])} --ctl {shlex.quote(ctx['ctl'])} --seed {seed} --verbose"
                     + (f" --sql {shlex.quote(ctx['sql'])}" if ctx.get("sql") else ""))
    elif ctx["verbose"]:
        lines.append(f"seed {seed}: same ({len(h.results)} results, {feed.batches} batches, "
                     f"{feed.merge_calls} merge calls, {feed.merged} bins merged, {len(sql_bins)} bins, {len(sql_outs)} outages, "
                     f"{dt:.2f} s)")
        if ctx.get("single"):
            lines += h.describe()
    return sorted({k for _, k, _ in diffs}), lines


# ------------------------------------------------------------------ workers
def admin(base):
    c = psycopg2.connect(base)
    c.autocommit = True
    return c


def prepare_db(ctx, name):
    c = admin(ctx["db"])
    cur = c.cursor()
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
    created = False
    if not cur.fetchone():
        cur.execute(f'CREATE DATABASE "{name}"')
        created = True
    c.close()
    r = subprocess.run([ctx["ctl"], "--db", conninfo_db(ctx["db"], name), "db", "migrate"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"run.py: parallaxctl db migrate failed on {name}: {r.stderr.strip()}")
    if ctx.get("sql"):
        Db(conninfo_db(ctx["db"], name)).q(open(ctx["sql"]).read())
    return created


def drop_db(ctx, name):
    c = admin(ctx["db"])
    c.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
    c.close()


def worker(i, ctx, seeds_q, out_q, t_start):
    name = f"{ctx['prefix']}_{i}"
    try:
        created = prepare_db(ctx, name)
        db = Db(conninfo_db(ctx["db"], name))
        while True:
            if ctx["budget"] and time.time() - t_start > ctx["budget"]:
                break
            try:
                seed = seeds_q.get_nowait()
            except queue.Empty:
                break
            try:
                differs, lines = run_seed(db, seed, ctx)
            except Exception as e:  # a harness or database error is a failure of that seed
                import traceback
                differs, lines = ["harness: error"], [f"seed {seed}: error: {e!r}"] + \
                    ["  " + x for x in traceback.format_exc().splitlines()[-6:]]
                db = Db(conninfo_db(ctx["db"], name))
            out_q.put(("seed", seed, differs, lines))
        db.conn.close()
        if created and not ctx["keep"]:
            drop_db(ctx, name)
    except BaseException as e:
        out_q.put(("error", i, ["harness: worker error"], [f"worker {i}: {e!r}"]))
    out_q.put(("done", i, [], []))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="conninfo of the cluster (its dbname: where databases are made)")
    ap.add_argument("--ctl", required=True, help="path to parallaxctl (db migrate)")
    ap.add_argument("--seed", type=int, help="run this seed alone")
    ap.add_argument("--seeds", type=int, default=100, help="how many seeds (default 100)")
    ap.add_argument("--first", type=int, default=1, help="the first seed (default 1)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel workers, each with its own database")
    ap.add_argument("--budget", type=float, default=0, help="start no seed after this many seconds")
    ap.add_argument("--min-seeds", type=int, default=0, help="fail if fewer seeds ran")
    ap.add_argument("--prefix", default=f"px_model_{os.getpid()}", help="database name prefix (+ _worker)")
    ap.add_argument("--keep", action="store_true", help="keep the databases this run made")
    ap.add_argument("--sql", help="SQL file run after migrating (to try the harness on a broken merge)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    ctx = dict(db=args.db, ctl=os.path.abspath(args.ctl) if os.path.exists(args.ctl) else args.ctl,
               prefix=args.prefix, budget=args.budget, verbose=args.verbose, keep=args.keep,
               sql=args.sql and os.path.abspath(args.sql), single=args.seed is not None)
    seeds = [args.seed] if args.seed is not None else list(range(args.first, args.first + args.seeds))
    jobs = max(1, min(args.jobs, len(seeds)))
    t_start = time.time()
    seeds_q, out_q = mp.Queue(), mp.Queue()
    for s in seeds:
        seeds_q.put(s)
    time.sleep(0.05)
    procs = [mp.Process(target=worker, args=(i, ctx, seeds_q, out_q, t_start)) for i in range(jobs)]
    for p in procs:
        p.start()
    ran, differing, done, bad_seeds, kinds, shown = 0, 0, 0, [], {}, 0
    while done < jobs:
        kind, x, differs, lines = out_q.get()
        if kind == "seed" and differs and not args.verbose and shown >= 3 and set(differs) <= set(kinds):
            # Only kinds already shown: one line (--verbose, or --seed alone, shows it all).
            lines = [ln for ln in lines if not ln.startswith("  ")]
            lines = [ln + " (kinds shown above)" if ln.startswith(f"seed {x}: ") and "differences" in ln
                     else ln for ln in lines]
        elif kind == "seed" and differs:
            shown += 1
        for line in lines:
            print(line, flush=True)
        if kind == "done":
            done += 1
        elif kind == "seed":
            ran += 1
            if differs:
                differing += 1
                bad_seeds.append(x)
                for k in differs:
                    kinds.setdefault(k, []).append(x)
        elif kind == "error":
            differing += 1
    for p in procs:
        p.join()
    dt = time.time() - t_start
    if ran < len(seeds):
        print(f"budget of {args.budget:g} s reached: {ran} of {len(seeds)} seeds ran")
    if kinds:
        print("kinds of difference (seeds showing it, the first of them):")
        for k, ss in sorted(kinds.items(), key=lambda x: (-len(x[1]), x[0])):
            print(f"  {k}: {len(ss)} seeds, e.g. seed {min(ss)}")
    if bad_seeds:
        print("differing seeds: " + " ".join(str(s) for s in sorted(bad_seeds)))
    print(f"seeds {ran}, differing {differing}, time {dt:.0f} s")
    if differing or ran < args.min_seeds:
        if ran < args.min_seeds:
            print(f"fewer seeds ran ({ran}) than the required {args.min_seeds}")
        sys.exit(1)


if __name__ == "__main__":
    main()
