"""model.py: the verdict rules of docs/verdicts.md, implemented a second time, apart from the SQL.

Input: what was delivered (results, heartbeats, gap records), the agents and targets, the
settings; output: every vantage, target and group bin's state and every outage. Times are
integer milliseconds from the history's start (H0, aligned to every bin width). Nothing here
reads or calls the merge's SQL: it is a second reading of the written rules.
"""
from collections import defaultdict
from statistics import median

SERVICE_KINDS = {"web": {"http", "https", "tcp"}, "dns": {"dns"}, "mail": {"smtp", "tcp"}}
GOOD = {"healthy", "up", "normal"}
SILENT = {"no_data", "unknown"}
RANK = {"no_data": 0, "unknown": 0, "healthy": 1, "up": 1, "normal": 1, "impaired": 2, "degraded": 2,
        "offline": 3, "partial": 3, "servers_offline": 3, "down": 4, "dns_down": 4, "blackout": 5}


def floor(t, w):
    return (t // w) * w


class Model:
    """settings: a dict of the merge settings (numbers; widths None for auto)."""

    def __init__(self, agents, targets, settings):
        self.s = settings
        self.agents = {a.name: a for a in agents}
        self.targets = {t.name: t for t in targets}
        control_iv = [p.interval for t in targets if t.control for p in t.probes]
        grouped_iv = [p.interval for t in targets if not t.control and t.group for p in t.probes]
        self.vw = (settings["vantage_bin_s"] or (max(control_iv) if control_iv else 60)) * 1000
        self.gw = (settings["group_bin_s"] or (max(grouped_iv) if grouped_iv else 60)) * 1000
        self.tw = {t.name: max(p.interval for p in t.probes) * 1000 for t in targets}

    # -- inputs -------------------------------------------------------------------------------
    def run(self, results, heartbeats, gaps, first_ms, end_ms):
        """results: (agent, target, spec, ts_ms, status, rtt); heartbeats: (agent, t_ms);
        gaps: (agent, target or None, spec or None, from_ms, to_ms); bins compared in
        [first_ms, end_ms)."""
        self.results = results
        self.heartbeats = defaultdict(list)
        for a, t in heartbeats:
            self.heartbeats[a].append(t)
        self.gaps = gaps
        self.first, self.end = first_ms, end_ms
        self.vantage = self._vantage_bins()
        self.target = self._target_bins()
        self.group = self._group_bins()
        bins = {}
        for scope, table in (("vantage", self.vantage), ("target", self.target), ("group", self.group)):
            for (subject, start), state in table.items():
                bins[(scope, subject, start)] = state
        self.bins = bins
        self.outages = self._outages()
        return bins, self.outages

    def _placed(self, agent, ts_ms):
        return ts_ms - (self.agents[agent].offset_ms or 0)

    def _gap_covers(self, agent, target, spec, start, end):
        """A gap record of agent (for every probe, or this one) overlapping [start, end)."""
        off = self.agents[agent].offset_ms or 0
        for g in self.gaps:
            if g[0] != agent:
                continue
            if target is not None and g[1] is not None and (g[1], g[2]) != (target, spec):
                continue
            if target is None and g[1] is not None:
                continue
            if g[3] - off < end and g[4] - off >= start:
                return True
        return False

    # -- vantage health ---------------------------------------------------------------------------
    def _vantage_bins(self):
        w = self.vw
        per = defaultdict(list)
        for r in self.results:
            at = self._placed(r[0], r[3])
            per[(r[0], floor(at, w))].append(r)
        out = {}
        for name, a in self.agents.items():
            created = int(round(a.created * 1000))
            disabled = None if a.disabled is None else int(round(a.disabled * 1000))
            b = floor(self.first, w)
            while b < self.end:
                if b + w > created and (disabled is None or disabled > b):
                    out[(name, b)] = self._judge_vantage(name, b, per.get((name, b), []))
                b += w
        # Results make a vantage bin whatever the grid says (not expected in these histories).
        for (name, b), runs in per.items():
            if (name, b) not in out and self.first <= b < self.end:
                out[(name, b)] = self._judge_vantage(name, b, runs)
        return out

    def _judge_vantage(self, name, b, runs):
        s, w = self.s, self.vw
        hb = any(b <= t < b + w for t in self.heartbeats[name])
        if self._gap_covers(name, None, None, b, b + w):
            return "no_data"
        if not runs:
            return "no_data" if hb else "offline"
        controls = [r for r in runs if self.targets[r[1]].control]
        ok = sum(1 for r in controls if r[4] == "ok")
        local = sum(1 for r in runs if r[4] == "local_error")
        if controls and ok < s["control_ok_min"] * len(controls):
            return "impaired"
        if local > 0 and local >= s["local_error_share"] * len(runs):
            return "impaired"
        return "healthy"

    def _health(self, agent, at):
        return self.vantage.get((agent, floor(at, self.vw)))

    # -- target state -----------------------------------------------------------------------------
    def _target_bins(self):
        s = self.s
        window_ms = s["baseline_window_s"] * 1000
        per = defaultdict(list)
        for r in self.results:
            t = self.targets[r[1]]
            if t.control:
                continue
            at = self._placed(r[0], r[3])
            per[(r[1], floor(at, self.tw[r[1]]))].append((r, at))
        out = {}
        self.target_detail = {}
        kinds = {(t.name, p.spec): p.kind for t in self.targets.values() for p in t.probes}
        for tname in sorted(self.targets):
            t = self.targets[tname]
            if t.control:
                continue
            w = self.tw[tname]
            starts = sorted(b for (n, b) in per if n == tname)
            last_ok = {}          # spec -> latest bin start where a healthy vantage had it ok
            base = None           # (ms, n, at)
            for b in starts:
                runs = [(r, at) for (r, at) in per[(tname, b)]
                        if not self._gap_covers(r[0], r[1], r[2], b, b + w)]
                # Healthy vantages: healthy in every vantage bin their runs fall in.
                by_agent = defaultdict(list)
                for r, at in runs:
                    by_agent[r[0]].append((r, at))
                healthy = {a for a, rs in by_agent.items()
                           if all(self._health(a, at) == "healthy" for _, at in rs)}
                specs = {r[2] for r, _ in runs}
                ok_now = {r[2] for r, _ in runs if r[0] in healthy and r[4] == "ok"}
                for spec in ok_now:
                    last_ok[spec] = b
                live = {sp for sp in specs if sp in last_ok and last_ok[sp] >= b - window_ms}
                if not live:
                    live = set(specs)
                service = {sp for sp in live if kinds[(tname, sp)] in SERVICE_KINDS.get(t.role, set())}
                if not service:
                    service = set(live)
                counted = {}
                for a in healthy:
                    rs = [r for r, _ in by_agent[a] if r[2] in live]
                    svc = [r for r in rs if r[2] in service]
                    if not svc:
                        continue
                    counted[a] = (rs, svc)
                failed = [a for a, (rs, svc) in counted.items() if not any(r[4] == "ok" for r in svc)]
                live_runs = [r for a, (rs, svc) in counted.items() for r in rs]
                oks = [r[5] for r in live_runs if r[4] == "ok" and r[5] is not None]
                rtt = median(oks) if oks else None
                share = (sum(1 for r in live_runs if r[4] != "ok") / len(live_runs)) if live_runs else None
                baseline = None
                if base is not None and base[2] >= b - window_ms and base[1] >= s["baseline_min_bins"]:
                    baseline = base[0]
                if base is not None and base[2] < b - window_ms:
                    base = None
                if len(counted) < s["min_vantages"]:
                    state = "unknown"
                elif len(failed) == len(counted):
                    ag = [self.agents[a] for a in failed]
                    nets = max(len({x.country for x in ag}), len({x.asn for x in ag if x.asn is not None}))
                    state = "down" if nets >= s["min_networks"] else "unknown"
                elif failed:
                    state = "partial"
                elif share is not None and share >= s["degraded_failure_share"]:
                    state = "degraded"
                elif (rtt is not None and baseline is not None and rtt > s["latency_factor"] * baseline
                      and rtt - baseline >= s["latency_min_ms"]):
                    state = "degraded"
                else:
                    state = "up"
                if state == "up" and rtt is not None:
                    n = min((base[1] if base else 0) + 1, s["baseline_bins"])
                    base = (rtt if base is None else base[0] + (rtt - base[0]) / n, n, b)
                out[(tname, b)] = state
                self.target_detail[(tname, b)] = {"counted": sorted(counted), "failed": sorted(failed),
                                                  "live": sorted(live), "share": share, "rtt": rtt,
                                                  "baseline": baseline}
        return out

    # -- group stage ------------------------------------------------------------------------------
    def _group_bins(self):
        s = self.s
        gw = self.gw
        members = defaultdict(list)
        for t in self.targets.values():
            if t.group and not t.control:
                members[t.group].append(t)
        out = {}
        for g, ts in members.items():
            b = floor(self.first, gw)
            while b < self.end:
                states = []
                for t in ts:
                    w = self.tw[t.name]
                    worst = None
                    x = floor(b, w)       # an earlier bin of the target ends by b
                    while x < b + gw:
                        st = self.target.get((t.name, x))
                        if st is not None and x + w > b and (worst is None or RANK[st] > RANK[worst]):
                            worst = st
                        x += w
                    states.append((t, worst or "unknown"))
                known = [(t, st) for t, st in states if st != "unknown"]
                down = [t for t, st in known if st == "down"]
                routers = [st for t, st in known if t.role == "router"]
                dns = [st for t, st in known if t.role == "dns"]
                if not known:
                    stage = "unknown"
                elif routers and all(st == "down" for st in routers) and len(down) >= s["blackout_share"] * len(known):
                    stage = "blackout"
                elif dns and all(st == "down" for st in dns):
                    stage = "dns_down"
                elif down:
                    stage = "servers_offline"
                elif any(st in ("degraded", "partial") for _, st in known):
                    stage = "degraded"
                else:
                    stage = "normal"
                out[(g, b)] = stage
                b += gw
        return out

    # -- outages ----------------------------------------------------------------------------------
    def _outages(self):
        s = self.s
        subjects = defaultdict(list)
        for (scope, subject, start), state in self.bins.items():
            subjects[(scope, subject)].append((start, state))
        outages = []
        for (scope, subject), bins in subjects.items():
            bins.sort()
            is_open, streak, streak_start, cur = False, 0, None, None
            for start, state in bins:
                if state in SILENT:
                    if is_open:
                        cur["bins"].append((start, state))
                    continue
                bad = state not in GOOD
                if bad != is_open:
                    if streak == 0:
                        streak_start = start
                    streak += 1
                    if streak >= (s["close_after"] if is_open else s["open_after"]):
                        if is_open:
                            cur["end"] = streak_start
                            outages.append(cur)
                            cur = None
                        else:
                            cur = {"scope": scope, "subject": subject, "start": streak_start, "end": None,
                                   "bins": [(x, st) for x, st in bins if streak_start <= x <= start]}
                        is_open = not is_open
                        streak, streak_start = 0, None
                        continue
                else:
                    streak, streak_start = 0, None
                if is_open:
                    cur["bins"].append((start, state))
            if is_open:
                outages.append(cur)
        for o in outages:
            bad = [(RANK[st], -x, st) for x, st in o["bins"]
                   if st not in GOOD and st not in SILENT and (o["end"] is None or x < o["end"])]
            o["stage"] = max(bad)[2] if bad else None
            del o["bins"]
        return outages
