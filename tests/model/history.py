"""history.py: random histories for the verdict model test, from a seed.

A history is what a Parallax deployment lives through: agents in several countries and
networks, target groups with roles and control targets, probes at intervals from 2 s to 300 s
with per-target phases, and faults (a server down, DNS down, a group blackout by silence or by
ICMP unreachable, a vantage's uplink dead, a vantage impaired, a vantage's path to a group cut,
latency rising, a target flapping), results delivered late, clock offsets, gap records, agents
added and disabled on the way. Everything is in whole seconds from the history's start (t = 0
is H0) except run phases (milliseconds). The same seed always gives the same history.
"""
import random
from dataclasses import dataclass, field

SERVICE_PROBES = {"web": ["http", "https", "tcp"], "dns": ["dns"], "mail": ["smtp", "tcp"]}
INTERVAL_SETS = [[2, 4], [5], [5, 10], [10, 30], [15, 30, 60], [30, 60], [60, 120], [60, 300]]


@dataclass
class Agent:
    name: str
    country: str
    asn: int
    created: float            # seconds from H0
    disabled: float = None    # seconds from H0, or None
    offset_ms: int = 0        # agent clock minus true time


@dataclass
class Probe:
    kind: str
    spec: str
    interval: int
    phase_ms: int
    chronic: bool = False     # fails throughout (an expired certificate, a closed port)


@dataclass
class Target:
    name: str
    group: str                # None for control targets
    role: str
    control: bool
    probes: list = field(default_factory=list)


@dataclass
class Fault:
    kind: str                 # server_down, dns_down, blackout, uplink, impaired, path_cut, latency, flap
    start: float
    end: float
    target: str = None
    group: str = None
    agent: str = None
    how: str = None           # blackout: timeout | unreachable; server_down: service | host


@dataclass
class Result:
    true_t: float             # when the run happened (true time, seconds from H0)
    ts_ms: int                # its scheduled start by the agent's clock, ms from H0
    agent: str
    target: str
    spec: str
    status: str
    rtt_ms: float
    deliver: float            # when it reaches the coordinator


@dataclass
class Gap:
    agent: str
    target: str               # None: every probe of the agent
    spec: str
    from_ms: int              # agent clock, ms from H0
    to_ms: int
    deliver: float


@dataclass
class History:
    seed: int
    length: float
    agents: list
    targets: list
    faults: list
    results: list
    heartbeats: list          # (agent, t): received at t (coordinator clock)
    gaps: list
    notes: list               # human-readable timeline lines

    def probe(self, target, spec):
        for t in self.targets:
            if t.name == target:
                for p in t.probes:
                    if p.spec == spec:
                        return t, p
        raise KeyError((target, spec))


def _probes_for(rng, role, control, interval):
    def phase():
        return rng.randrange(0, interval * 1000)
    ph = phase()                          # a target's probes share its phase, like a group's
    if control or role in ("router", "host"):
        probes = [Probe("icmp", "icmp", interval, ph)]
    elif role == "web":
        probes = [Probe("http", "http:http://www.x.test/", interval, ph)]
        if rng.random() < 0.6:
            probes.append(Probe("icmp", "icmp", interval, ph))
        if rng.random() < 0.25:
            probes.append(Probe("https", "https:https://www.x.test:8443/", interval, ph, chronic=True))
    elif role == "dns":
        probes = [Probe("dns", "dns:x.test:SOA", interval, ph)]
        if rng.random() < 0.4:
            probes.append(Probe("icmp", "icmp", interval, ph))
    else:  # mail
        probes = [Probe("smtp", "smtp", interval, ph)]
        if rng.random() < 0.3:
            probes.append(Probe("tcp", "tcp:25", interval, ph))
        if rng.random() < 0.15:
            probes.append(Probe("tcp", "tcp:587", interval, ph, chronic=True))
    return probes


def generate(seed):
    rng = random.Random(seed)
    intervals = rng.choice(INTERVAL_SETS)
    widest = max(intervals)
    n_agents = rng.randint(3, 10) if rng.random() < 0.2 else rng.randint(3, 6)
    countries = ["GB", "DE", "JP", "US", "BR", "ZA", "IN", "AU"]
    agents = []
    for i in range(n_agents):
        country = rng.choice(countries[: max(2, min(len(countries), n_agents - 1))])
        agents.append(Agent(f"vp{i + 1}-{country.lower()}", country, 64496 + rng.randrange(16), 0.0,
                            offset_ms=rng.choice([0, 0, rng.randint(-3000, 3000)])))
    n_groups = rng.randint(1, 4)
    targets = []
    big = rng.random() < 0.15
    for g in range(n_groups):
        group = f"G{g + 1}"
        roles = ["router", "dns", "web", "mail"]
        if rng.random() < 0.2:
            roles = rng.sample(roles, rng.randint(1, 3))
        extra = rng.randint(0, 8 if big else 3)
        roles += [rng.choice(["web", "web", "mail", "dns", "router", "host"]) for _ in range(extra)]
        for j, role in enumerate(roles):
            iv = rng.choice(intervals)
            targets.append(Target(f"{group.lower()}-{role}{j}", group, role, False,
                                  _probes_for(rng, role, False, iv)))
    while len(targets) < 4:                 # at least 5 targets with the control below
        iv = rng.choice(intervals)
        targets.append(Target(f"g1-web{len(targets)}", "G1", "web", False, _probes_for(rng, "web", False, iv)))
    for c in range(rng.randint(1, 3)):
        targets.append(Target(f"ctl-{c + 1}", None, "host", True,
                              _probes_for(rng, "host", True, rng.choice(intervals))))

    # Length: enough of the widest bins for faults to open and close outages; a calm start
    # (every agent on time) and a calm tail (outages close) around the faulty middle.
    bins = rng.randint(14, 22)
    length = float(bins * widest)
    calm_start = 4 * widest
    calm_tail = 7 * widest
    middle = (calm_start, length - calm_tail)
    groups = sorted({t.group for t in targets if t.group})
    faults = []
    notes = []

    def span(min_bins=2, max_bins=6):
        d = rng.randint(min_bins, max_bins) * widest + rng.randint(0, widest)
        s = rng.uniform(middle[0], max(middle[0], middle[1] - d))
        return s, min(s + d, middle[1])

    kinds = ["server_down", "dns_down", "blackout", "uplink", "impaired", "path_cut", "latency",
             "flap", "late", "gap", "agent_added", "agent_disabled"]
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(kinds)
        s, e = span()
        g = rng.choice(groups)
        a = rng.choice(agents[1:])        # agent 1 stays: there is always a stable vantage
        if kind == "server_down":
            t = rng.choice([t for t in targets if t.group == g])
            faults.append(Fault(kind, s, e, target=t.name, how=rng.choice(["service", "host"])))
        elif kind == "dns_down":
            faults.append(Fault(kind, s, e, group=g))
        elif kind == "blackout":
            faults.append(Fault(kind, s, e, group=g, how=rng.choice(["timeout", "unreachable"])))
        elif kind == "uplink":
            faults.append(Fault(kind, s, e, agent=a.name, how=rng.choice(["timeout", "local_error"])))
        elif kind == "impaired":
            faults.append(Fault(kind, s, e, agent=a.name))
        elif kind == "path_cut":
            faults.append(Fault(kind, s, e, agent=a.name, group=g))
        elif kind == "latency":
            faults.append(Fault(kind, s, e, group=g))
        elif kind == "flap":
            t = rng.choice([t for t in targets if t.group == g])
            faults.append(Fault(kind, s, e, target=t.name))
        elif kind == "late":
            faults.append(Fault(kind, s, e, agent=a.name))
        elif kind == "gap":
            faults.append(Fault(kind, s, e, agent=a.name, how=rng.choice(["all", "probe"])))
        elif kind == "agent_added" and a.created == 0 and a.disabled is None:
            a.created = float(int(s))
            notes.append(f"t={a.created:.0f}s agent {a.name} added")
        elif kind == "agent_disabled" and a.disabled is None:
            a.disabled = float(int(e))
            notes.append(f"t={a.disabled:.0f}s agent {a.name} disabled")
    for f in faults:
        what = f.target or f.group or ""
        notes.append(f"t={f.start:.0f}..{f.end:.0f}s {f.kind} {what} {f.agent or ''} {f.how or ''}".rstrip())

    results, gaps, heartbeats = [], [], []

    def active(kind, t, **match):
        for f in faults:
            if f.kind == kind and f.start <= t < f.end and all(getattr(f, k) == v for k, v in match.items()):
                return f
        return None

    tgt_group = {t.name: t.group for t in targets}
    for a in agents:
        end = a.disabled if a.disabled is not None else length
        for t in targets:
            for p in t.probes:
                k0 = 0
                while True:
                    ts_ms = k0 * p.interval * 1000 + p.phase_ms
                    true_t = (ts_ms - a.offset_ms) / 1000.0
                    k0 += 1
                    if true_t >= end:
                        break
                    if true_t < max(a.created, 1.0):
                        continue
                    status, rtt = _truth(rng, a, t, p, true_t, active, tgt_group)
                    deliver = true_t + rng.uniform(0.3, 2.0)
                    up = active("uplink", true_t, agent=a.name)
                    if up:
                        deliver = up.end + rng.uniform(1, 5)
                    late = active("late", true_t, agent=a.name)
                    if late:
                        deliver = late.end + rng.uniform(1, 20)
                    results.append(Result(true_t, ts_ms, a.name, t.name, p.spec, status, rtt,
                                          min(deliver, end + 5) if a.disabled is not None else deliver))
        # Heartbeats every 10 s while connected.
        hb = a.created + rng.uniform(0, 10)
        while hb < end:
            if not active("uplink", hb, agent=a.name):
                heartbeats.append((a.name, hb))
            hb += 10
    # Gap records: the agent's spool dropped these results; they never arrive.
    for f in faults:
        if f.kind != "gap":
            continue
        a = next(x for x in agents if x.name == f.agent)
        if f.how == "all":
            target, spec = None, None
            dropped = [r for r in results if r.agent == a.name and f.start <= r.true_t < f.end]
        else:
            t = rng.choice(targets)
            target, spec = t.name, t.probes[0].spec
            dropped = [r for r in results if r.agent == a.name and r.target == target and r.spec == spec
                       and f.start <= r.true_t < f.end]
        if not dropped:
            continue
        drop = set(map(id, dropped))
        results = [r for r in results if id(r) not in drop]
        gaps.append(Gap(a.name, target, spec, min(r.ts_ms for r in dropped), max(r.ts_ms for r in dropped),
                        f.end + rng.uniform(1, 10)))
    return History(seed, length, agents, targets, faults, results, heartbeats, gaps, notes)


def _truth(rng, a, t, p, tt, active, tgt_group):
    """The status and RTT of one run of probe p of target t from agent a at true time tt."""
    base = 20.0 + (hash((a.name, t.name)) % 80)
    rtt = base * rng.uniform(0.9, 1.1)
    if active("uplink", tt, agent=a.name):
        f = active("uplink", tt, agent=a.name)
        return ("local_error" if f.how == "local_error" else "timeout"), None
    if active("impaired", tt, agent=a.name):
        if t.control or rng.random() < 0.5:
            return "timeout", None
    if p.chronic:
        return ("tls_error" if p.kind == "https" else "refused"), None
    if t.control:
        return "ok", rtt
    g = tgt_group[t.name]
    f = active("blackout", tt, group=g)
    if f:
        return ("unreachable" if f.how == "unreachable" else "timeout"), None
    if active("path_cut", tt, agent=a.name, group=g):
        return "timeout", None
    if t.role == "dns" and active("dns_down", tt, group=g):
        return ("timeout" if p.kind == "dns" else "ok"), (None if p.kind == "dns" else rtt)
    f = active("server_down", tt, target=t.name)
    if f:
        if f.how == "host" or p.kind in SERVICE_PROBES.get(t.role, []):
            return "refused", None
    f = active("flap", tt, target=t.name)
    if f and int((tt - f.start) // p.interval) % 2 == 0:
        return "timeout", None
    if active("latency", tt, group=g):
        if rng.random() < 0.1:
            return "timeout", None
        return "ok", rtt * 8
    return "ok", rtt
