"""model.py: an independent reference model of the verdict rules in docs/verdicts.md.

Pure Python, no database, nothing read from the SQL: given the final data (agents, targets
and their probes, results, heartbeats, gap records) and the settings, it computes every
vantage bin, target bin and group bin and the outages, as the document says they end up.

Times are integers, milliseconds since the UTC epoch. READING: shares and factors are
compared as exact fractions of the settings' decimal text ('0.2' is 1/5, so 1 failure in 5
runs is "at least 0.2"), as the document writes them, whatever the column's float type.

Where the document leaves a choice, the most literal reading is taken and marked READING.
"""
from fractions import Fraction

VANTAGE_BAD = {"impaired": 1, "offline": 2}              # rank: worse is higher
VANTAGE_GOOD = {"healthy"}
TARGET_BAD = {"degraded": 1, "partial": 2, "down": 3}
TARGET_GOOD = {"up"}
GROUP_BAD = {"degraded": 1, "servers_offline": 2, "dns_down": 3, "blackout": 4}
GROUP_GOOD = {"normal"}

# READING: "its worst state among its bins" (group stage): unknown is the least of all,
# below up, so a target is unknown in a group bin only when every bin overlapping it is.
TARGET_WORST = {"unknown": 0, "up": 1, "degraded": 2, "partial": 3, "down": 4}

SERVICE_KINDS = {
    "web": {"http", "https", "tcp"},
    "dns": {"dns"},
    "mail": {"smtp", "tcp"},
    "router": set(),
    "host": set(),
}


def floor_bin(t, w):
    return (t // w) * w


def frac(v):
    """A setting as an exact fraction of its decimal text."""
    if isinstance(v, Fraction):
        return v
    return Fraction(str(v))


class Settings:
    def __init__(self, d):
        self.min_vantages = int(d["min_vantages"])
        self.min_networks = int(d["min_networks"])
        self.open_after = int(d["open_after"])
        self.close_after = int(d["close_after"])
        self.vantage_bin_s = d.get("vantage_bin_s")      # None: auto
        self.group_bin_s = d.get("group_bin_s")          # None: auto
        self.control_ok_min = frac(d["control_ok_min"])
        self.local_error_share = frac(d["local_error_share"])
        self.degraded_failure_share = frac(d["degraded_failure_share"])
        self.latency_factor = frac(d["latency_factor"])
        self.latency_min_ms = frac(d["latency_min_ms"])
        self.baseline_bins = int(d["baseline_bins"])
        self.baseline_min_bins = int(d["baseline_min_bins"])
        self.baseline_window_ms = int(d["baseline_window_ms"])
        self.blackout_share = frac(d["blackout_share"])


def median(xs):
    # READING: the median of an even number of RTTs is the mean of the middle two.
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    if n % 2:
        return xs[n // 2]
    return (xs[n // 2 - 1] + xs[n // 2]) / 2.0


class Model:
    def __init__(self, settings, agents, targets, results, heartbeats, gaps, h1, windows=()):
        """settings: dict (see Settings); agents: [dict(id, name, country, asn, offset_ms,
        created_ms, disabled_ms)]; targets: [dict(id, name, group, role, control,
        probes: [dict(id, kind, interval_s)])]; results: [(agent_id, probe_id, ts_ms, status,
        rtt_ms)]; heartbeats: [(agent_id, ts_ms)]; gaps: [(agent_id, probe_id or None,
        from_ms, to_ms)]; h1: bins are computed for starts before h1; windows: maintenance
        windows on agents, [(agent_id, from_ms, to_ms)]."""
        self.s = Settings(settings)
        self.agents = {a["id"]: a for a in agents}
        self.targets = {t["id"]: t for t in targets}
        self.probe_target = {}
        self.probe_kind = {}
        for t in targets:
            for p in t["probes"]:
                self.probe_target[p["id"]] = t["id"]
                self.probe_kind[p["id"]] = p["kind"]
        self.results = results
        self.heartbeats = heartbeats
        self.gaps = gaps
        self.h1 = h1
        self.windows = {}
        for a, f, to in windows:
            self.windows.setdefault(a, []).append((f, to))
        self.off = {a["id"]: (a.get("offset_ms") or 0) for a in agents}   # NULL counts as 0

        # Widths (ms).
        controls = [p["interval_s"] for t in targets if t["control"] for p in t["probes"]]
        grouped = [p["interval_s"] for t in targets if not t["control"] and t["group"] is not None
                   for p in t["probes"]]
        self.vw = 1000 * (self.s.vantage_bin_s or (max(controls) if controls else 60))
        self.gw = 1000 * (self.s.group_bin_s or (max(grouped) if grouped else 60))
        self.tw = {t["id"]: 1000 * max(p["interval_s"] for p in t["probes"]) for t in targets
                   if t["probes"]}

        self.vbins = {}     # (agent id, start) -> (end, health)
        self.tbins = {}     # (target id, start) -> (end, state)
        self.trtt = {}      # (target id, start) -> the bin's RTT (ms) or None
        self.tinfo = {}     # (target id, start) -> the vantages and probes its evidence lists
        self.gbins = {}     # (group, start) -> (end, stage)
        self.outage_list = []   # (scope, subject name, start, end or None, stage)
        self._vantages()
        self._targets()
        self._groups()

    # ---------------------------------------------------------------- gaps
    def _gap_overlaps(self, g, start, end):
        a, _p, f, to = g
        o = self.off[a]
        return f - o < end and to - o >= start

    # ---------------------------------------------------------------- vantage health
    def _vantages(self):
        s, vw = self.s, self.vw
        if not self.results:
            return
        # "from the first vantage bin any agent's results arrived for on"
        first = min(floor_bin(ts - self.off[a], vw) for a, _p, ts, _st, _r in self.results)
        stats = {}   # (agent, bin) -> [n, n_local, n_ctrl, n_ctrl_ok]
        for a, p, ts, st, _r in self.results:
            k = (a, floor_bin(ts - self.off[a], vw))
            c = stats.setdefault(k, [0, 0, 0, 0])
            c[0] += 1
            if st == "local_error":
                c[1] += 1
            if self.targets[self.probe_target[p]]["control"]:
                c[2] += 1
                if st == "ok":
                    c[3] += 1
        hb = set()
        for a, ts in self.heartbeats:      # the coordinator's clock: not corrected
            hb.add((a, floor_bin(ts, vw)))
        all_gaps = {}
        for g in self.gaps:
            if g[1] is None:
                all_gaps.setdefault(g[0], []).append(g)
        for a, ag in self.agents.items():
            seq = []
            b = first
            while b < self.h1:
                e = b + vw
                if e > ag["created_ms"] and (ag["disabled_ms"] is None or b < ag["disabled_ms"]):
                    c = stats.get((a, b))
                    if any(self._gap_overlaps(g, b, e) for g in all_gaps.get(a, ())):
                        h = "no_data"
                    elif c is None and (a, b) not in hb:
                        h = "offline"
                    elif c is None:
                        h = "no_data"
                    elif c[2] > 0 and Fraction(c[3], c[2]) < s.control_ok_min:
                        h = "impaired"
                    elif c[1] >= 1 and Fraction(c[1], c[0]) >= s.local_error_share:
                        h = "impaired"
                    else:
                        h = "healthy"
                    # A window overlapping the bin (true time) makes it "maintenance": neither
                    # bad nor good, and not a healthy vantage for the targets.
                    if any(f < e and to > b for f, to in self.windows.get(a, ())):
                        h = "maintenance"
                    self.vbins[(a, b)] = (e, h)
                    seq.append((b, e, h))
                b = e
            for o in self._outages(seq, VANTAGE_BAD, VANTAGE_GOOD):
                self.outage_list.append(("vantage", ag["name"]) + o)

    def _healthy_at(self, a, t):
        v = self.vbins.get((a, floor_bin(t, self.vw)))
        return v is not None and v[1] == "healthy"

    # ---------------------------------------------------------------- target state
    def _targets(self):
        # Control targets judge vantages only ("Target state": no bins of their own).
        by_target = {}
        for r in self.results:
            by_target.setdefault(self.probe_target[r[1]], []).append(r)
        for tid, t in self.targets.items():
            rs = by_target.get(tid)
            if not rs or tid not in self.tw or t["control"]:
                continue
            self._target(t, rs)

    def _target(self, t, rs):
        s, w = self.s, self.tw[t["id"]]
        win = s.baseline_window_ms
        bins = {}
        for r in rs:
            bins.setdefault(floor_bin(r[2] - self.off[r[0]], w), []).append(r)
        gaps = [g for g in self.gaps
                if g[1] is None or self.probe_target.get(g[1]) == t["id"]]
        kinds = SERVICE_KINDS[t["role"]]
        last_ok = {}                       # probe -> start of the latest bin it was live-ok in
        base = (None, 0, None)             # (ms, n, at)
        seq = []
        b = min(bins)
        while b < self.h1:
            e = b + w
            # Runs that fall in the bin, less those of an (agent, probe) that a gap record
            # overlapping the bin covers.
            # READING: such a gap record leaves out every run of that (agent, probe) in the
            # bin, not only the runs within its own span.
            covered = [(g[0], g[1]) for g in gaps if self._gap_overlaps(g, b, e)]
            runs = [r for r in bins.get(b, ())
                    if (r[0], None) not in covered and (r[0], r[1]) not in covered]
            by_v = {}
            for r in runs:
                by_v.setdefault(r[0], []).append(r)
            healthy = {a for a, vr in by_v.items()
                       if all(self._healthy_at(a, r[2] - self.off[a]) for r in vr)}
            # READING: "probes with runs in the bin" are those with runs that count (no gap
            # record), from any vantage, healthy or not; a probe is live or not only among
            # them.
            with_runs = {r[1] for r in runs}
            ok_now = {r[1] for r in runs if r[0] in healthy and r[3] == "ok"}
            live = {p for p in with_runs
                    if p in ok_now or (p in last_ok and last_ok[p] >= b - win)}
            if not live:
                live = set(with_runs)
            service = {p for p in live if self.probe_kind[p] in kinds}
            if not service:
                service = set(live)
            counted = {a for a in healthy if any(r[1] in service for r in by_v[a])}
            failed = {a for a in counted
                      if not any(r[1] in service and r[3] == "ok" for r in by_v[a])}
            live_runs = [r for a in counted for r in by_v[a] if r[1] in live]
            rtt = median([r[4] for r in live_runs if r[3] == "ok" and r[4] is not None])
            # Baseline carried from the latest earlier bin (the previous one: bins are
            # consecutive here, an empty one passes it on), forgotten when too old.
            bms, bn, bat = base
            if bat is not None and bat < b - win:
                bms, bn, bat = None, 0, None
            if len(counted) < s.min_vantages:
                state = "unknown"
            elif len(failed) == len(counted):
                countries = {self.agents[a]["country"] for a in counted}
                asns = {self.agents[a]["asn"] for a in counted if self.agents[a]["asn"] is not None}
                if len(countries) >= s.min_networks or len(asns) >= s.min_networks:
                    state = "down"
                else:
                    state = "unknown"
            elif failed:
                state = "partial"
            elif Fraction(sum(1 for r in live_runs if r[3] != "ok"), len(live_runs)) \
                    >= s.degraded_failure_share:
                state = "degraded"
            elif (bn >= s.baseline_min_bins and rtt is not None
                  and rtt > float(s.latency_factor) * bms
                  and rtt - bms >= float(s.latency_min_ms)):
                state = "degraded"
            else:
                state = "up"
            if state == "up" and rtt is not None:
                n2 = min(bn + 1, s.baseline_bins)
                bms = rtt if bms is None else bms + (rtt - bms) / n2
                bn, bat = n2, b
            base = (bms, bn, bat)
            for p in ok_now:
                last_ok[p] = b
            self.tbins[(t["id"], b)] = (e, state)
            self.trtt[(t["id"], b)] = rtt
            # What the evidence lists: the vantages left out (not healthy), failed, reached,
            # mixed; the probes left out (chronic); service_down for a down bin whose failed
            # vantages had an ok run of a live probe that is not a service probe.
            reached = {a for a in counted - failed
                       if all(r[3] == "ok" for r in by_v[a] if r[1] in live)}
            self.tinfo[(t["id"], b)] = dict(
                excluded=set(by_v) - healthy, failed=failed, reached=reached,
                mixed=counted - failed - reached, chronic=with_runs - live,
                service_down=state == "down" and any(
                    r[1] in live and r[1] not in service and r[3] == "ok" for a in counted for r in by_v[a]))
            seq.append((b, e, state))
            b = e
        for o in self._outages(seq, TARGET_BAD, TARGET_GOOD):
            self.outage_list.append(("target", t["name"]) + o)

    # ---------------------------------------------------------------- group stage
    def _groups(self):
        s, gw = self.s, self.gw
        members = {}
        for t in self.targets.values():
            if t["group"] is not None and not t["control"]:
                members.setdefault(t["group"], []).append(t)
        if not self.results:
            return
        first = min(floor_bin(ts - self.off[a], gw) for a, _p, ts, _st, _r in self.results)
        tb = {}
        for (tid, b), (e, st) in self.tbins.items():
            tb.setdefault(tid, []).append((b, e, st))
        for g, ts in sorted(members.items()):
            seq = []
            b = first
            while b < self.h1:
                e = b + gw
                worst = {}
                for t in ts:
                    w = "unknown"
                    for (bs, be, st) in tb.get(t["id"], ()):
                        if bs < e and be > b and TARGET_WORST[st] > TARGET_WORST[w]:
                            w = st
                    worst[t["id"]] = w
                known = [t for t in ts if worst[t["id"]] != "unknown"]
                routers = [t for t in known if t["role"] == "router"]
                dnss = [t for t in known if t["role"] == "dns"]
                down = [t for t in known if worst[t["id"]] == "down"]
                if not known:
                    stage = "unknown"
                elif (routers and all(worst[t["id"]] == "down" for t in routers)
                      and Fraction(len(down), len(known)) >= s.blackout_share):
                    stage = "blackout"
                elif dnss and all(worst[t["id"]] == "down" for t in dnss):
                    stage = "dns_down"
                elif down:
                    stage = "servers_offline"
                elif any(worst[t["id"]] in ("degraded", "partial") for t in known):
                    stage = "degraded"
                else:
                    stage = "normal"
                self.gbins[(g, b)] = (e, stage)
                seq.append((b, e, stage))
                b = e
            for o in self._outages(seq, GROUP_BAD, GROUP_GOOD):
                self.outage_list.append(("group", g) + o)

    # ---------------------------------------------------------------- outages
    def _outages(self, seq, bad_rank, good):
        """seq: [(start, end, state)] in time order. open_after bad bins in a row open an
        outage that starts at the first of them; close_after good bins in a row close it,
        ending where they began; other states (no_data, unknown) neither count nor break a
        run. Stage: the worst bad state among its bins."""
        s = self.s
        out = []
        is_open = False
        run_start, run_n = None, 0          # the current run of bad (closed) or good (open) bins
        start, stage = None, None
        pending = []                        # bad states seen in the current bad run
        for b, _e, st in seq:
            if st in bad_rank:
                if is_open:
                    run_start, run_n = None, 0
                    if bad_rank[st] > bad_rank[stage]:
                        stage = st
                else:
                    if run_n == 0:
                        run_start = b
                        pending = []
                    run_n += 1
                    pending.append(st)
                    if run_n >= s.open_after:
                        is_open, start = True, run_start
                        stage = max(pending, key=lambda x: bad_rank[x])
                        run_start, run_n = None, 0
            elif st in good:
                if is_open:
                    if run_n == 0:
                        run_start = b
                    run_n += 1
                    if run_n >= s.close_after:
                        out.append((start, run_start, stage))
                        is_open, run_start, run_n = False, None, 0
                else:
                    run_start, run_n = None, 0
        if is_open:
            out.append((start, None, stage))
        return out
