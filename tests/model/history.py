"""history.py: random, seeded histories for the verdict model test.

A history is a deployment (agents in several countries and ASNs, targets in groups with
roles, control targets, probes with intervals and phases) and what happened to it: faults
in a span of time, then a calm tail. It lists every result an agent produced with the time
it is delivered to the coordinator, every heartbeat, every gap record and when it is
reported, and when agents are added or disabled. Times are integer milliseconds since the
UTC epoch; everything follows from the seed (random.Random(seed)), nothing from the clock.
"""
import math
import random
from datetime import datetime, timezone

BASE_MS = int(datetime(2031, 3, 3, tzinfo=timezone.utc).timestamp() * 1000)
HOUR = 3600 * 1000
COUNTRIES = ["DE", "FR", "US", "JP", "BR", "NL", "GB", "SG", "ZA", "AU", "CA", "IN"]
ASNS = list(range(64496, 64512))
UNITS = [2, 2, 3, 4, 5, 5, 6, 10, 10, 12, 15, 20, 30, 60]
MULTS = [1, 2, 3, 4, 5, 6, 10]
ODD = [7, 9, 45, 90]
MAX_RESULTS = 20000
MAX_BINS = 350
HEARTBEAT_MS = 10000


class Agent:
    def __init__(self, idx, name, country, asn, offset_ms, offset_null, created_ms, disabled_ms):
        self.idx, self.name, self.country, self.asn = idx, name, country, asn
        self.offset_ms = offset_ms            # agent clock minus true time
        self.offset_null = offset_null        # stored as NULL (then offset_ms is 0)
        self.created_ms, self.disabled_ms = created_ms, disabled_ms
        self.batch_phase = 0


class Probe:
    def __init__(self, kind, spec, interval_s, timeout_ms, chronic=None):
        self.kind, self.spec, self.interval_s, self.timeout_ms = kind, spec, interval_s, timeout_ms
        self.chronic = chronic                # status it fails with throughout, or None
        self.idx = None                       # index in History.probes
        self.target = None


class Target:
    def __init__(self, idx, name, address, group, role, control, probes, phase_ms):
        self.idx, self.name, self.address, self.group = idx, name, address, group
        self.role, self.control, self.probes, self.phase_ms = role, control, probes, phase_ms
        self.created_ms = None                # None: before the history


class Fault:
    def __init__(self, kind, t0, t1, **kw):
        self.kind, self.t0, self.t1 = kind, t0, t1
        self.kw = kw

    def active(self, t):
        return self.t0 <= t < self.t1

    def describe(self, h0):
        args = " ".join(f"{k}={v}" for k, v in sorted(self.kw.items()) if not k.startswith("_"))
        return f"{(self.t0 - h0) / 1000:g}..{(self.t1 - h0) / 1000:g}s {self.kind} {args}"


class Result:
    __slots__ = ("agent", "probe", "ts", "status", "rtt", "app_code", "icmp_type", "icmp_code",
                 "icmp_from", "message", "deliver")

    def __init__(self, agent, probe, ts, status, rtt, deliver, app_code=None, icmp_type=None,
                 icmp_code=None, icmp_from=None, message=None):
        self.agent, self.probe, self.ts, self.status, self.rtt = agent, probe, ts, status, rtt
        self.deliver, self.app_code, self.icmp_type, self.icmp_code = deliver, app_code, icmp_type, icmp_code
        self.icmp_from, self.message = icmp_from, message


class Gap:
    def __init__(self, agent, probe, ts_from, ts_to, count, report, reason):
        self.agent, self.probe, self.ts_from, self.ts_to = agent, probe, ts_from, ts_to
        self.count, self.report, self.reason = count, report, reason


def _weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


class History:
    def __init__(self, seed):
        self.seed = seed
        rng = random.Random(seed)
        self.rng = rng
        # Histories lie on a handful of days (few result partitions), aligned to the hour.
        self.h0 = BASE_MS + (seed % 5) * 24 * HOUR + (seed * 7 % 20) * HOUR
        # Small histories: breadth beats length. A deployment too big for MAX_RESULTS and
        # MAX_BINS is shortened (to 15 of its widest bins), else drawn again.
        for attempt in range(50):
            self._deployment(rng)
            while self.estimate() > MAX_RESULTS and self.n_w > 15:
                self.n_w -= 1
                self._set_length()
            if self.estimate() <= MAX_RESULTS:
                break
        self._faults(rng)
        self._runs(rng)
        # Drawn from a generator of their own, after everything else: the deployments,
        # faults and runs of a seed are the ones it had before windows were drawn.
        self._windows(random.Random(seed * 7919 + 17))

    # ------------------------------------------------------------ deployment
    def _intervals(self, rng):
        u = rng.choice(UNITS)
        ivs = sorted({u * m for m in MULTS if u * m <= 300})
        k = _weighted(rng, [(1, 2), (2, 4), (3, 3)])
        chosen = sorted(set(rng.choice(ivs[:4]) for _ in range(k)))
        if rng.random() < 0.1:
            chosen = sorted(set(chosen + [rng.choice(ODD)]))
        return chosen

    def _deployment(self, rng):
        self.intervals = self._intervals(rng)
        n_agents = _weighted(rng, [(3, 25), (4, 25), (5, 20), (6, 15), (7, 6), (8, 4), (9, 3), (10, 2)])
        n_countries = _weighted(rng, [(1, 4), (2, 25), (3, 35), (4, 20), (6, 16)])
        countries = rng.sample(COUNTRIES, min(n_countries, n_agents))
        n_asns = max(1, min(n_agents, _weighted(rng, [(1, 4), (2, 25), (3, 30), (5, 25), (8, 16)])))
        asns = rng.sample(ASNS, n_asns)
        self.agents = []
        for i in range(n_agents):
            r = rng.random()
            off, null = 0, False
            if r < 0.2:
                null = True
            elif r < 0.55:
                off = rng.randint(-3000, 3000)
            country = countries[i] if i < len(countries) else rng.choice(countries)
            asn = asns[i] if i < len(asns) else rng.choice(asns)
            if rng.random() < 0.06:
                asn = None                    # unknown ASN: only the country tells networks apart
            self.agents.append(Agent(i, f"vp{i + 1}-{country.lower()}", country, asn, off, null,
                                     self.h0 - HOUR, None))
        # Targets: groups with roles, control targets.
        self.targets, self.probes = [], []
        n_groups = _weighted(rng, [(1, 30), (2, 35), (3, 20), (4, 15)])
        big = rng.random() < 0.1
        addr = iter([f"192.0.2.{i}" for i in range(1, 255)] + [f"198.51.100.{i}" for i in range(1, 255)]
                    + [f"203.0.113.{i}" for i in range(1, 255)])
        for g in range(1, n_groups + 1):
            gname = f"G{g}"
            roles = []
            if rng.random() < 0.85:
                roles += ["router"] * (1 if rng.random() < 0.85 else 2)
            if rng.random() < 0.8:
                roles += ["dns"] * (1 if rng.random() < 0.85 else 2)
            roles += ["web"] * _weighted(rng, [(0, 2), (1, 5), (2, 3), (3, 1)] + ([(8, 3)] if big else []))
            roles += ["mail"] * _weighted(rng, [(0, 5), (1, 3)])
            roles += ["host"] * _weighted(rng, [(0, 5), (1, 2), (2, 1)] + ([(6, 3)] if big else []))
            if not roles:
                roles = [rng.choice(["web", "host", "router"])]
            counts = {}
            for role in roles:
                counts[role] = counts.get(role, 0) + 1
                name = f"g{g}-{role}{counts[role]}"
                self._add_target(rng, name, next(addr), gname, role, False)
        if rng.random() < 0.15:
            self._add_target(rng, "lone-host", next(addr), None, rng.choice(["host", "web"]), False)
        for c in range(_weighted(rng, [(1, 5), (2, 3), (3, 2)])):
            group = f"G{rng.randint(1, n_groups)}" if rng.random() < 0.1 else None
            self._add_target(rng, f"ctl{c + 1}", next(addr), group, rng.choice(["host", "web"]), True)
        # Widths, as docs/verdicts.md derives them (auto), used for lengths and the schedule.
        ctl = [p.interval_s for t in self.targets if t.control for p in t.probes]
        grp = [p.interval_s for t in self.targets if not t.control and t.group for p in t.probes]
        self.vw = max(ctl) if ctl else 60
        self.gw = max(grp) if grp else 60
        widths = {max(p.interval_s for p in t.probes) for t in self.targets} | {self.vw, self.gw}
        self.widest = max(widths)
        lcm = 1
        for w in widths:
            lcm = lcm * w // math.gcd(lcm, w)
        self.lcm = lcm
        self.n_w = rng.randint(15, 40)
        self._set_length()

    def _set_length(self):
        length = self.n_w * self.widest
        if self.lcm <= 4 * self.widest:
            length = -(-length // self.lcm) * self.lcm
        # The calm tail: long enough for every outage to close (close_after + open_after + 2
        # of the widest bins, at the shipped defaults 3 + 2 + 2), and a bin more.
        self.tail = 8 * self.widest * 1000
        self.length = length * 1000
        self.h1 = self.h0 + self.length
        # The calm goes on for two of the widest bins past H1, so that every bin starting
        # before H1 (and every target bin overlapping a group bin that does) has all its runs;
        # only bins starting before H1 are compared.
        self.h_end = self.h1 + 2 * self.widest * 1000
        self.zone = (self.h0 + self.widest * 1000, self.h1 - self.tail)

    def _add_target(self, rng, name, address, group, role, control):
        iv = self.intervals
        pick = lambda: rng.choice(iv)  # noqa: E731
        probes = []
        host = name.replace("-", ".") + ".test"
        if role == "router":
            probes.append(Probe("icmp", "icmp", pick(), 0))
            if rng.random() < 0.15:
                probes.append(Probe("trace", "trace", pick(), 0))
        elif role == "dns":
            if rng.random() < 0.85:
                probes.append(Probe("icmp", "icmp", pick(), 0))
            probes.append(Probe("dns", f"dns:{host}:SOA", pick(), 0))
        elif role == "web":
            if rng.random() < 0.85 or control:
                probes.append(Probe("icmp", "icmp", pick(), 0))
            kind = _weighted(rng, [("http", 5), ("https", 3), ("tcp", 2)])
            if not control or rng.random() < 0.5:
                spec = {"http": f"http:http://{host}/", "https": f"https:https://{host}/",
                        "tcp": "tcp:443"}[kind]
                probes.append(Probe(kind, spec, pick(), 0))
            if not control and rng.random() < 0.2:
                if kind != "https" and rng.random() < 0.5:
                    probes.append(Probe("https", f"https:https://{host}:8443/", pick(), 0, chronic="tls_error"))
                else:
                    probes.append(Probe("tcp", "tcp:8443", pick(), 0, chronic="refused"))
        elif role == "mail":
            if rng.random() < 0.85:
                probes.append(Probe("icmp", "icmp", pick(), 0))
            if rng.random() < 0.8:
                probes.append(Probe("smtp", "smtp", pick(), 0))
            else:
                probes.append(Probe("tcp", "tcp:25", pick(), 0))
        else:
            probes.append(Probe("icmp", "icmp", pick(), 0))
            if rng.random() < 0.2:
                probes.append(Probe("tcp", "tcp:22", pick(), 0, chronic="refused" if rng.random() < 0.3 else None))
        if len(probes) > 3:
            probes = probes[:3]
        for p in probes:
            top = p.interval_s * 1000 - 1
            p.timeout_ms = min(top, rng.choice([300, 500, 1000, 1000, 2000, 3000, 5000]))
        t = Target(len(self.targets), name, address, group, role, control, probes,
                   rng.randrange(0, min(p.interval_s for p in probes) * 1000))
        for p in probes:
            p.idx = len(self.probes)
            p.target = t
            self.probes.append(p)
        self.targets.append(t)

    def estimate(self):
        results = sum((self.length + 2000 * self.widest) // (p.interval_s * 1000) for p in self.probes) * len(self.agents)
        bins = (sum(self.length // (1000 * max(p.interval_s for p in t.probes)) for t in self.targets)
                + len(self.agents) * self.length // (1000 * self.vw)
                + len({t.group for t in self.targets}) * self.length // (1000 * self.gw))
        return max(results, bins * MAX_RESULTS // MAX_BINS)

    # ------------------------------------------------------------ faults
    def _span(self, rng, min_bins=1, max_bins=8):
        z0, z1 = self.zone
        w = self.widest * 1000
        d = rng.randint(int(min_bins * w), int(max_bins * w))
        t0 = rng.randint(z0, max(z0, z1 - w))
        return t0, min(z1, t0 + d)

    def _faults(self, rng):
        self.faults = []
        agents = self.agents
        groups = sorted({t.group for t in self.targets if t.group and not t.control})
        plain = [t for t in self.targets if not t.control]
        services = [t for t in plain if t.role in ("web", "mail", "dns")]
        n = _weighted(rng, [(0, 6), (1, 25), (2, 30), (3, 20), (4, 12), (6, 7)])
        kinds = [("server_down", 12), ("dns_down", 6), ("blackout", 10), ("uplink", 10),
                 ("impaired", 8), ("path_cut", 8), ("latency", 8), ("flapping", 7), ("stopped", 7),
                 ("local_errors", 6), ("late", 8), ("gap_agent", 7), ("gap_probe", 7), ("region", 5),
                 ("icmp_loss", 6)]
        for _ in range(n):
            kind = _weighted(rng, kinds)
            t0, t1 = self._span(rng)
            if kind == "server_down" and services:
                t = rng.choice(services)
                self.faults.append(Fault(kind, t0, t1, target=t.name, whole=rng.random() < 0.3, _t=t))
            elif kind == "dns_down" and any(t.role == "dns" for t in plain):
                g = rng.choice(sorted({t.group for t in plain if t.role == "dns"}, key=str))
                self.faults.append(Fault(kind, t0, t1, group=g))
            elif kind == "blackout" and groups:
                g = rng.choice(groups)
                # Sometimes one server of the group is hosted elsewhere and stays up: with
                # five known targets that is blackout_share (0.8) down exactly.
                spare = [t for t in plain if t.group == g and t.role != "router"]
                spare = rng.choice(spare).name if spare and rng.random() < 0.3 else None
                self.faults.append(Fault(kind, t0, t1, group=g, spare=spare,
                                         mode=rng.choice(["silence", "unreachable"])))
            elif kind == "icmp_loss" and plain:
                # ICMP rate-limited on the way to a target: some of its pings fail from every
                # vantage while its service answers (degraded by failure share, or not).
                t = rng.choice(plain)
                self.faults.append(Fault(kind, t0, t1, target=t.name, _t=t, p=rng.choice([0.2, 0.35, 0.5])))
            elif kind == "region":
                # Every vantage of one country loses its uplink at once: targets may be left
                # with too few healthy vantages (unknown).
                c = rng.choice(sorted({a.country for a in agents}))
                for a in agents:
                    if a.country == c:
                        self.faults.append(Fault("uplink", t0, t1, agent=a.name, _a=a, spool_full=False,
                                                 delay_ms=rng.randint(0, 2 * self.widest * 1000)))
            elif kind in ("uplink", "impaired", "stopped", "local_errors", "late", "gap_agent"):
                a = rng.choice(agents)
                kw = {"agent": a.name, "_a": a}
                if kind == "uplink":
                    kw["spool_full"] = rng.random() < 0.25
                    kw["delay_ms"] = rng.randint(0, 3 * self.widest * 1000)
                elif kind == "stopped":
                    kw["heartbeats"] = rng.random() < 0.4
                elif kind == "local_errors":
                    kw["share"] = rng.choice([0.1, 0.3, 0.5])
                elif kind == "late":
                    kw["delay_ms"] = rng.randint(self.widest * 1000, 4 * self.widest * 1000)
                elif kind == "gap_agent":
                    kw["drop"] = rng.choice([1.0, 0.7])
                self.faults.append(Fault(kind, t0, t1, **kw))
            elif kind == "path_cut" and groups:
                a = rng.choice(agents)
                self.faults.append(Fault(kind, t0, t1, agent=a.name, group=rng.choice(groups), _a=a,
                                         mode=rng.choice(["silence", "unreachable"])))
            elif kind == "latency" and plain:
                t = rng.choice(plain)
                self.faults.append(Fault(kind, t0, t1, target=t.name, factor=rng.choice([2, 5, 10]), _t=t))
            elif kind == "flapping" and plain:
                t = rng.choice(plain)
                self.faults.append(Fault(kind, t0, t1, target=t.name, _t=t,
                                         period_ms=rng.randint(1, 3) * max(p.interval_s for p in t.probes) * 1000))
            elif kind == "gap_probe":
                a = rng.choice(agents)
                p = rng.choice(self.probes)
                self.faults.append(Fault(kind, t0, t1, agent=a.name, probe=f"{p.target.name}/{p.spec}",
                                         _a=a, _p=p, each=rng.random() < 0.5))
        if rng.random() < 0.15:
            # A vantage (registered before the history) starts late: the first vantage bins
            # of the deployment find it silent, or connected with nothing to show.
            a = rng.choice(agents)
            self.faults.append(Fault("stopped", self.h0, self.h0 + rng.randint(1, 4 * self.widest * 1000),
                                     agent=a.name, _a=a, heartbeats=rng.random() < 0.3))
        # Gap records where they matter: during another fault, on its target or its vantage,
        # so that what a gap record leaves out changes a verdict.
        for f in list(self.faults):
            if rng.random() >= 0.35:
                continue
            t0 = rng.randint(f.t0 - self.widest * 500, f.t1)
            t1 = min(self.zone[1], t0 + rng.randint(500, 3 * self.widest * 1000))
            if t1 <= t0:
                continue
            if "_t" in f.kw or f.kind in ("blackout", "dns_down"):
                ts = [f.kw["_t"]] if "_t" in f.kw else \
                    [t for t in plain if t.group == f.kw["group"]]
                p = rng.choice([p for t in ts for p in t.probes])
                if rng.random() < 0.3:
                    # The probe is not run at all for a while (every vantage but perhaps one
                    # skips it): the bin may hold no run of a service probe.
                    keep = rng.choice(agents + [None])
                    for a in agents:
                        if a is not keep:
                            self.faults.append(Fault("gap_probe", t0, t1, agent=a.name, _a=a, _p=p, each=True,
                                                     probe=f"{p.target.name}/{p.spec}"))
                else:
                    a = rng.choice(agents)
                    self.faults.append(Fault("gap_probe", t0, t1, agent=a.name, _a=a, _p=p,
                                             each=rng.random() < 0.5, probe=f"{p.target.name}/{p.spec}"))
            elif "_a" in f.kw and f.kind in ("path_cut", "impaired", "local_errors"):
                a = f.kw["_a"]
                self.faults.append(Fault("gap_agent", t0, t1, agent=a.name, _a=a, drop=rng.choice([0.3, 0.7])))
        self.noise = 0.0 if rng.random() < 0.5 else rng.choice([0.005, 0.01, 0.03, 0.05])
        # Agents added and disabled mid-history.
        z0, z1 = self.zone
        if rng.random() < 0.2:
            i = len(self.agents)
            country = rng.choice(COUNTRIES)
            created = rng.randint(z0, z1)
            a = Agent(i, f"vp{i + 1}-{country.lower()}", country, rng.choice(ASNS),
                      rng.randint(-2000, 2000) if rng.random() < 0.5 else 0, False, created, None)
            self.agents.append(a)
            self.faults.append(Fault("agent_added", created, created, agent=a.name))
        if rng.random() < 0.15:
            # A target added mid-history, to a group, with intervals that leave every auto
            # width as it is (no wider than the group bin).
            groups = sorted({t.group for t in self.targets if t.group and not t.control})
            ivs = [i for i in self.intervals if i <= self.gw]
            if groups and ivs:
                keep, self.intervals = self.intervals, ivs
                g = rng.choice(groups)
                self._add_target(rng, f"new-{g.lower()}", "203.0.113.250", g, rng.choice(["web", "host", "mail"]), False)
                self.intervals = keep
                t = self.targets[-1]
                t.created_ms = rng.randint(z0, z1)
                self.faults.append(Fault("target_added", t.created_ms, t.created_ms, target=t.name))
        if rng.random() < 0.2 and len(self.agents) > 3:
            a = rng.choice(self.agents)
            a.disabled_ms = rng.randint(max(z0, a.created_ms + 1000), z1)
            self.faults.append(Fault("agent_disabled", a.disabled_ms, a.disabled_ms, agent=a.name))
        # The virtual clock ticks (merge_run, deliveries) every merge_tick_ms: about 10 to 60
        # ticks a history (a real coordinator ticks every second; every order of arrival must
        # end at the same verdicts, and fewer ticks keep a seed well under a second). Agents
        # deliver a batch every tick, or every second or third.
        # A short history sometimes runs at the coordinator's own pace: a tick and a batch
        # every second.
        ticks = rng.choice([10, 12, 15, 20, 30, 60])
        self.merge_tick_ms = max(500, self.length // ticks // 100 * 100)
        self.batch_ms = self.merge_tick_ms * rng.choice([1, 1, 2, 3])
        if self.length <= 200000 and rng.random() < 0.2:
            self.merge_tick_ms = self.batch_ms = 1000
        for a in self.agents:
            a.batch_phase = rng.randrange(0, self.batch_ms // self.merge_tick_ms) * self.merge_tick_ms

    # ------------------------------------------------------------ runs
    def _status(self, rng, a, p, t):
        """status, rtt, extra fields of agent a's run of probe p at true time t; None: no run."""
        tg = p.target
        st = "ok"
        extra = {}
        for f in self.faults:
            if not f.active(t):
                continue
            k = f.kind
            if k in ("uplink", "impaired", "local_errors") and f.kw["_a"] is a:
                if k == "uplink":
                    return ("local_error" if rng.random() < 0.6 else "timeout"), None, {}
                if k == "local_errors" and rng.random() < f.kw["share"]:
                    return "local_error", None, {"message": "sendto: No buffer space available"}
                if k == "impaired" and rng.random() < (0.8 if tg.control else 0.4):
                    return "timeout", None, {}
        if tg.control:
            if rng.random() < self.noise and self.zone[0] <= t < self.zone[1]:
                return "timeout", None, {}
            return "ok", None, {}
        for f in self.faults:
            if not f.active(t):
                continue
            k = f.kind
            if (k == "path_cut" and f.kw["_a"] is a and f.kw["group"] == tg.group) or \
                    (k == "blackout" and f.kw["group"] == tg.group and f.kw["spare"] != tg.name):
                if f.kw["mode"] == "unreachable":
                    return "unreachable", None, {"icmp_type": 3, "icmp_code": 1, "icmp_from": "198.51.100.254"}
                return "timeout", None, {}
        for f in self.faults:
            if not f.active(t):
                continue
            k = f.kind
            if k == "server_down" and f.kw["_t"] is tg:
                if f.kw["whole"]:
                    return "timeout", None, {}
                if p.kind in ("http", "https"):
                    return ("refused", None, {}) if rng.random() < 0.5 else ("app_error", None, {"app_code": 503})
                if p.kind in ("tcp", "smtp"):
                    return "refused", None, {}
                if p.kind == "dns":
                    return ("timeout", None, {}) if rng.random() < 0.5 else ("app_error", None, {"app_code": 2})
            elif k == "dns_down" and tg.group == f.kw["group"] and tg.role == "dns" and p.kind == "dns":
                return "timeout", None, {}
            elif k == "flapping" and f.kw["_t"] is tg and ((t - f.t0) // f.kw["period_ms"]) % 2 == 0:
                return "timeout", None, {}
            elif k == "icmp_loss" and f.kw["_t"] is tg and p.kind == "icmp" and rng.random() < f.kw["p"]:
                return "timeout", None, {}
        if p.chronic:
            return p.chronic, None, {}
        if rng.random() < self.noise and self.zone[0] <= t < self.zone[1]:
            return "timeout", None, {}
        return st, None, extra

    def _runs(self, rng):
        self.results = []
        self.heartbeats = []
        self.gaps = []
        base_rtt = {}
        for a in self.agents:
            for tg in self.targets:
                base_rtt[(a.idx, tg.idx)] = rng.uniform(3, 120)
        for a in self.agents:
            off = a.offset_ms
            start_a = max(self.h0, a.created_ms)
            stop = self.h_end if a.disabled_ms is None else min(self.h_end, a.disabled_ms)
            my = [f for f in self.faults if f.kw.get("_a") is a]
            stopped = [f for f in my if f.kind == "stopped"]
            uplink = [f for f in my if f.kind == "uplink"]
            late = [f for f in my if f.kind == "late"]
            gap_agent = [f for f in my if f.kind == "gap_agent"]
            gap_probe = [f for f in my if f.kind == "gap_probe"]
            dropped = {}          # fault -> [ts]
            skipped = {}          # fault -> [ts]
            for p in self.probes:
                iv = p.interval_s * 1000
                phase = p.target.phase_ms % iv
                start = max(start_a, p.target.created_ms or 0)
                # The agent runs at k * interval + phase by its own clock; true time = ts - off.
                k = -(-(start + off - phase) // iv)
                while True:
                    ts = k * iv + phase
                    t = ts - off
                    k += 1
                    if t >= stop:
                        break
                    if t < start:
                        continue
                    if any(f.active(t) for f in stopped):
                        continue
                    gp = [f for f in gap_probe if f.active(t) and f.kw["_p"] is p]
                    if gp:
                        skipped.setdefault(gp[0], []).append(ts)
                        continue
                    st, rtt, extra = self._status(rng, a, p, t)
                    if st == "ok":
                        rtt = base_rtt[(a.idx, p.target.idx)] * rng.uniform(0.8, 1.25)
                        for f in self.faults:
                            if f.kind == "latency" and f.kw["_t"] is p.target and f.active(t):
                                rtt = rtt * f.kw["factor"] + 30
                        rtt = round(rtt, 3)
                        ready = t + int(rtt) + 1
                    elif st in ("timeout", "unreachable"):
                        ready = t + p.timeout_ms
                    else:
                        ready = t + rng.randint(1, 50)
                    deliver = self._deliver_time(a, ready)
                    ga = [f for f in gap_agent if f.active(t)]
                    if ga and rng.random() < ga[0].kw["drop"]:
                        dropped.setdefault(ga[0], []).append(ts)
                        continue
                    for f in uplink:
                        if f.active(t) or f.t0 <= ready < f.t1 or f.t0 <= deliver < f.t1:
                            if f.kw["spool_full"] and f.t0 + (f.t1 - f.t0) // 2 <= t < f.t1:
                                dropped.setdefault(f, []).append(ts)
                                deliver = None
                                break
                            else:
                                deliver = max(deliver, self._deliver_time(a, f.t1 + f.kw["delay_ms"]))
                    if deliver is None:
                        continue
                    for f in late:
                        if f.active(t):
                            deliver = max(deliver, self._deliver_time(a, f.t1 + f.kw["delay_ms"]))
                    if a.disabled_ms is not None and deliver >= a.disabled_ms:
                        continue      # never delivered: a disabled agent may not connect
                    self.results.append(Result(a.idx, p.idx, ts, st, rtt, deliver,
                                               extra.get("app_code"), extra.get("icmp_type"),
                                               extra.get("icmp_code"), extra.get("icmp_from"),
                                               extra.get("message")))
            # Gap records: a spool that dropped results reports one record for every probe;
            # a run that could not start is reported for its probe.
            for f, tss in dropped.items():
                rep = f.t1 + (f.kw.get("delay_ms", 0) if f.kind == "uplink" else self.rng.randint(0, 5000))
                rep = self._deliver_time(a, rep)
                if a.disabled_ms is None or rep < a.disabled_ms:
                    self.gaps.append(Gap(a.idx, None, min(tss), max(tss), len(tss), rep, "spool_dropped"))
            for f, tss in skipped.items():
                p = f.kw["_p"]
                rep = self._deliver_time(a, f.t1 + 1000)
                if a.disabled_ms is not None and rep >= a.disabled_ms:
                    continue
                if f.kw["each"]:
                    for ts in tss:
                        self.gaps.append(Gap(a.idx, p.idx, ts, ts, 1, self._deliver_time(a, ts - off + 1000),
                                             "run_skipped"))
                else:
                    self.gaps.append(Gap(a.idx, p.idx, min(tss), max(tss), len(tss), rep, "run_skipped"))
            # Heartbeats every 10 s while connected (the coordinator's clock).
            hb_phase = rng.randrange(0, HEARTBEAT_MS)
            t = start_a - (start_a - hb_phase) % HEARTBEAT_MS
            while t < stop:
                if t >= start_a and not any(f.active(t) for f in uplink) and \
                        not any(f.active(t) and not f.kw["heartbeats"] for f in stopped):
                    self.heartbeats.append((a.idx, t))
                t += HEARTBEAT_MS
        self.results.sort(key=lambda r: r.deliver)

    def _deliver_time(self, a, ready):
        """The agent's next batch after ready (batches every batch_ms, from its phase)."""
        return ready + (a.batch_phase - ready) % self.batch_ms

    # ------------------------------------------------------------ maintenance windows
    def _windows(self, rng):
        """Maintenance windows on agents (their vantages): [(agent idx, from, to, known)],
        known being when the window is added: None before the history, else a time in it or
        after it (added afterwards: the merge judges the bins it covers again). A window
        often covers one of the agent's own faults, as an operator's would."""
        self.windows = []
        if rng.random() >= 0.35:
            return
        own = [f for f in self.faults if "_a" in f.kw]
        w = self.widest * 1000
        for _ in range(_weighted(rng, [(1, 3), (2, 1)])):
            if own and rng.random() < 0.6:
                f = rng.choice(own)
                a = f.kw["_a"]
                t0 = f.t0 - rng.randint(0, 2 * w)
                t1 = f.t1 + rng.randint(0, 2 * w)
            else:
                a = rng.choice(self.agents)
                t0, t1 = self._span(rng)
            # Not on a bin boundary as a rule: a window covers every bin it overlaps.
            t0 += rng.choice([0, 0, rng.randint(1, w)])
            known = _weighted(rng, [(None, 5), ("during", 3), ("after", 2)])
            if known == "during":
                known = rng.randint(self.h0, self.h_end)
            elif known == "after":
                known = self.h_end + rng.randint(0, 2 * w)
            self.windows.append((a.idx, t0, max(t1, t0 + 1000), known))
            self.faults.append(Fault("maintenance", t0, max(t1, t0 + 1000), agent=a.name,
                                     known="before" if known is None
                                     else f"{(known - self.h0) / 1000:g}s"))

    def describe(self):
        lines = [f"seed {self.seed}: {len(self.agents)} vantages, {len(self.targets)} targets, "
                 f"{len(self.probes)} probes, intervals {self.intervals}, vantage bin {self.vw}s, "
                 f"group bin {self.gw}s, length {self.length // 1000}s, {len(self.results)} results, "
                 f"noise {self.noise}, batches every {self.batch_ms} ms, merge tick {self.merge_tick_ms} ms"]
        for a in self.agents:
            lines.append(f"  vantage {a.name} {a.country} AS{a.asn or '?'} offset "
                         f"{'NULL' if a.offset_null else a.offset_ms}ms"
                         + (f" created {(a.created_ms - self.h0) / 1000:g}s" if a.created_ms > self.h0 else "")
                         + (f" disabled {(a.disabled_ms - self.h0) / 1000:g}s" if a.disabled_ms else ""))
        for f in self.faults:
            lines.append("  fault " + f.describe(self.h0))
        return lines
