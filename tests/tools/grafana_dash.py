#!/usr/bin/python3
"""grafana_dash: checks the shipped Grafana dashboards the way Grafana would use them.

  grafana_dash.py lint DASHBOARD...
      importable: a current schemaVersion, __inputs naming each data source, and every
      panel, query and variable pointing at an input (${DS_...}), never at a fixed uid;
      panels on the grid without overlapping
  grafana_dash.py sql DASHBOARD --from ISO --to ISO --dsn DSN
      the variables' queries, then every panel's SQL, with Grafana's variables and macros
      expanded for that time range ("All" chosen for every variable), run on DSN; each must
      return rows, and the columns its panel needs (a time column in ascending order and
      numeric values for time series, a number for a stat); exit 1 listing what failed
  grafana_dash.py promql DASHBOARD --rules FILE --names FILE [--exposition FILE]
      every PromQL expression (variables expanded) written as a recording rule into FILE for
      `promtool check rules`; every metric name used must be one documented in the Markdown
      tables of --names (docs/metrics.md) and, with --exposition (a scrape of /metrics),
      one the coordinator declares
Expansion follows Grafana: the frontend replaces $var, ${var}, ${var:fmt} and [[var]] (a
multi-value SQL variable as 'a','b'; $__interval from the range and the panel's minimum
interval), then the PostgreSQL data source replaces the $__macro(...) calls.
"""
import argparse
import datetime
import json
import re
import sys

VAR = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
# As Grafana's SQL data sources match them: arguments without parentheses.
MACRO = re.compile(r"\$__(\w+)\(([^)]*)\)")
TIME_PANELS = {"timeseries", "state-timeline", "status-history", "barchart", "heatmap"}
MIN_SCHEMA = 36  # Grafana 9.4; the shipped ones are written for Grafana 10.4 and later


def all_panels(panels):
    """Every panel but rows, those inside collapsed rows included."""
    for p in panels:
        yield from all_panels(p.get("panels", []))
        if p.get("type") != "row":
            yield p


def walk_datasources(dash):
    """Yields (where, datasource reference) of every panel, query and variable."""
    for p in all_panels(dash.get("panels", [])):
        yield f"panel {p.get('id')} '{p.get('title')}'", p.get("datasource")
        for t in p.get("targets", []):
            yield f"panel {p.get('id')} query {t.get('refId')}", t.get("datasource")
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            yield f"variable {v.get('name')}", v.get("datasource")


def lint(path):
    errors = []
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    if dash.get("schemaVersion", 0) < MIN_SCHEMA:
        errors.append(f"schemaVersion {dash.get('schemaVersion')} < {MIN_SCHEMA}")
    if dash.get("id") is not None:
        errors.append("id is set: an import would overwrite that dashboard")
    if not dash.get("uid"):
        errors.append("no uid")
    inputs = {i["name"]: i for i in dash.get("__inputs", []) if i.get("type") == "datasource"}
    if not inputs:
        errors.append("no datasource in __inputs: an import would not ask for one")
    required = {r["id"] for r in dash.get("__requires", [])}
    for i in inputs.values():
        if i.get("pluginId") not in required:
            errors.append(f"input {i['name']}: plugin {i.get('pluginId')} not in __requires")
    # Panels on the 24-column grid, none over another, ids unique.
    placed = []
    for p in dash.get("panels", []):
        g = p.get("gridPos", {})
        x, y, w, h = (g.get(k, -1) for k in ("x", "y", "w", "h"))
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > 24:
            errors.append(f"panel {p.get('id')} '{p.get('title')}': bad gridPos {g}")
            continue
        for q, (qx, qy, qw, qh) in placed:
            if x < qx + qw and qx < x + w and y < qy + qh and qy < y + h:
                errors.append(f"panel {p.get('id')} '{p.get('title')}' overlaps panel {q.get('id')}")
        placed.append((p, (x, y, w, h)))
    ids = [p.get("id") for p in all_panels(dash.get("panels", []))]
    if len(ids) != len(set(ids)):
        errors.append(f"panel ids not unique: {ids}")
    for where, ds in walk_datasources(dash):
        uid = ds.get("uid") if isinstance(ds, dict) else ds
        m = re.fullmatch(r"\$\{(\w+)\}", uid or "")
        if not m or m.group(1) not in inputs:
            errors.append(f"{where}: datasource {ds!r} is not one of the __inputs")
        elif ds.get("type") != inputs[m.group(1)]["pluginId"]:
            errors.append(f"{where}: datasource type {ds.get('type')} differs from its input's")
    return errors


def round_interval(ms):
    """Grafana's rounding of a computed interval to a readable one (milliseconds)."""
    steps = [(10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500),
             (1500, 1000), (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000),
             (25000, 20000), (45000, 30000), (90000, 60000), (210000, 120000),
             (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
             (2700000, 1800000), (5400000, 3600000), (9000000, 7200000),
             (16200000, 10800000), (24300000, 21600000), (64800000, 43200000),
             (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000)]
    for limit, step in steps:
        if ms <= limit:
            return step
    return 31536000000


UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000}


def parse_interval(text):
    m = re.fullmatch(r"\s*'?(\d+)(ms|s|m|h|d|w)'?\s*", text)
    if not m:
        raise ValueError(f"bad interval {text!r}")
    return int(m.group(1)) * UNITS[m.group(2)]


def format_interval(ms):
    for unit in ("w", "d", "h", "m", "s"):
        if ms % UNITS[unit] == 0:
            return f"{ms // UNITS[unit]}{unit}"
    return f"{ms}ms"


def panel_interval(panel, t_from, t_to):
    """$__interval in ms as Grafana computes it for a panel about 1000 pixels wide."""
    span = (t_to - t_from).total_seconds() * 1000
    ms = round_interval(span / panel.get("maxDataPoints", 1000))
    if panel.get("interval"):
        ms = max(ms, parse_interval(panel["interval"]))
    return ms


def rfc3339(t):
    """Go's time.RFC3339Nano of a UTC time, as Grafana writes the macros' times."""
    s = t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += (".%06d" % t.microsecond).rstrip("0")
    return s + "Z"


def sql_quote(v):
    return "'" + str(v).replace("'", "''") + "'"


def expand_vars(text, values, builtins, formatter):
    def sub(m):
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if name in builtins:
            return builtins[name]
        if name not in values:
            return m.group(0)  # unknown: left as it is, as Grafana does
        return formatter(values[name], fmt)
    return VAR.sub(sub, text)


def sql_format(vals, fmt):
    if fmt not in (None, "sqlstring"):
        raise ValueError(f"variable format {fmt} not handled here")
    return ",".join(sql_quote(v) for v in vals)


def expand_macros(text, t_from, t_to):
    def sub(m):
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
        if name == "time":
            return f'{args[0]} AS "time"'
        if name == "timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "timeFilter":
            return f"{args[0]} BETWEEN '{rfc3339(t_from)}' AND '{rfc3339(t_to)}'"
        if name == "timeFrom":
            return f"'{rfc3339(t_from)}'"
        if name == "timeTo":
            return f"'{rfc3339(t_to)}'"
        if name in ("timeGroup", "timeGroupAlias"):
            if len(args) != 2:
                raise ValueError(f"$__{name} with fill values is not handled here")
            secs = parse_interval(args[1]) / 1000
            secs = int(secs) if secs == int(secs) else secs
            out = f"floor(extract(epoch from {args[0]})/{secs})*{secs}"
            return out + ' AS "time"' if name == "timeGroupAlias" else out
        if name == "unixEpochFilter":
            return f"{args[0]} >= {int(t_from.timestamp())} AND {args[0]} <= {int(t_to.timestamp())}"
        if name == "unixEpochFrom":
            return str(int(t_from.timestamp()))
        if name == "unixEpochTo":
            return str(int(t_to.timestamp()))
        raise ValueError(f"macro $__{name} not handled here")
    return MACRO.sub(sub, text)


def panel_queries(dash):
    """Yields (panel, query) of every query Grafana runs (not hidden ones)."""
    for p in all_panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            if not t.get("hide"):
                yield p, t


NUMERIC = (int, float)


def is_number(v):
    import decimal
    return v is None or isinstance(v, NUMERIC + (decimal.Decimal,)) and not isinstance(v, bool)


def check_result(panel, target, cols, rows):
    """What is wrong with a query's result for its panel, or None."""
    if not rows:
        return "returned no rows"
    kind, fmt = panel.get("type"), target.get("format", "time_series")
    if kind in TIME_PANELS and fmt != "time_series":
        return f"a {kind} panel with format {fmt}: needs time_series"
    if fmt == "time_series":
        if "time" not in cols:
            return f"no column named time: {cols}"
        ti = cols.index("time")
        times = [r[ti] for r in rows]
        if any(t is None for t in times):
            return "a NULL time"
        if not all(isinstance(t, datetime.datetime) for t in times) and not all(is_number(t) for t in times):
            return f"the time column is neither a timestamp nor a number: {type(times[0]).__name__}"
        if times != sorted(times):
            return "not ordered by time"
        values = [i for i, c in enumerate(cols) if c not in ("time", "metric")]
        if not values:
            return f"no value column: {cols}"
        for i in values:
            if not all(is_number(r[i]) for r in rows):
                return f"column {cols[i]} is not numeric"
        if all(r[i] is None for r in rows for i in values):
            return "every value is NULL"
    if kind == "stat":
        if not any(all(is_number(r[i]) for r in rows) and any(r[i] is not None for r in rows)
                   for i in range(len(cols))):
            return f"no numeric column for a stat: {cols}"
    return None


def run_sql(args):
    import psycopg2
    t_from = datetime.datetime.fromisoformat(args.from_.replace("Z", "+00:00"))
    t_to = datetime.datetime.fromisoformat(args.to.replace("Z", "+00:00"))
    with open(args.dashboard, encoding="utf-8") as f:
        dash = json.load(f)
    conn = psycopg2.connect(args.dsn)
    conn.set_session(readonly=True, autocommit=True)
    cur = conn.cursor()
    cur.execute("SET statement_timeout = '30s'")
    failures = []
    ran = 0

    def query(where, text):
        try:
            cur.execute(text)
            return [d[0] for d in cur.description], cur.fetchall()
        except psycopg2.Error as e:
            failures.append(f"{where}: {str(e).strip()}\n--- expanded SQL\n{text}")
            return None, None

    span_ms = (t_to - t_from).total_seconds() * 1000
    builtins = {"__range": format_interval(int(span_ms)), "__range_s": str(int(span_ms // 1000)),
                "__range_ms": str(int(span_ms))}
    values = {}
    # Variables in their order on the dashboard, as Grafana refreshes them; "All" chosen.
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            failures.append(f"variable {v.get('name')}: type {v.get('type')} not handled here")
            continue
        q = v["query"] if isinstance(v["query"], str) else v["query"].get("rawSql", "")
        text = expand_macros(expand_vars(q, values, builtins, sql_format), t_from, t_to)
        cols, rows = query(f"variable {v['name']}", text)
        ran += 1
        if rows is not None and not rows:
            failures.append(f"variable {v['name']}: returned no values")
        values[v["name"]] = [r[0] for r in rows or []]
        print(f"variable {v['name']}: {len(values[v['name']])} values", file=sys.stderr)
    for panel, target in panel_queries(dash):
        where = f"panel {panel.get('id')} '{panel.get('title')}' query {target.get('refId')}"
        if "rawSql" not in target:
            failures.append(f"{where}: no rawSql")
            continue
        ms = panel_interval(panel, t_from, t_to)
        b = dict(builtins, __interval=format_interval(ms), __interval_ms=str(ms))
        try:
            text = expand_macros(expand_vars(target["rawSql"], values, b, sql_format), t_from, t_to)
        except ValueError as e:
            failures.append(f"{where}: {e}")
            continue
        if "$" in text.replace("$$", ""):
            failures.append(f"{where}: left unexpanded: {text}")
            continue
        cols, rows = query(where, text)
        ran += 1
        if cols is None:
            continue
        problem = check_result(panel, target, cols, rows)
        if problem:
            failures.append(f"{where}: {problem}\n--- expanded SQL\n{text}")
        else:
            print(f"{where}: {len(rows)} rows, columns {', '.join(cols)}", file=sys.stderr)
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    print(f"{ran} queries, {len(failures)} failed")
    return 1 if failures or not ran else 0


def documented_metrics(path):
    """Names and types from the tables of docs/metrics.md: | `name` | type | ..."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\|\s*`(\w+)`\s*\|\s*(\w+)\s*\|", line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def served_metrics(path):
    """The names a /metrics scrape declares (# TYPE; a family without series yet, such as one
    per agent before any agent sent anything, is declared all the same) or has samples of;
    histograms with their _bucket, _sum and _count."""
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"#\s*TYPE\s+(\S+)\s+(\w+)", line)
            if m:
                names.add(m.group(1))
                if m.group(2) in ("histogram", "summary"):
                    names.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
            elif line.strip() and not line.startswith("#"):
                names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def run_promql(args):
    with open(args.dashboard, encoding="utf-8") as f:
        dash = json.load(f)
    docs = documented_metrics(args.names)
    served = served_metrics(args.exposition) if args.exposition else None
    # The variables as "All" selects them; intervals as Grafana may choose them.
    values = {}
    exprs = []
    for v in dash.get("templating", {}).get("list", []):
        q = v["query"] if isinstance(v["query"], str) else v["query"].get("query", "")
        m = re.fullmatch(r"\s*label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*", q)
        if not m:
            print(f"FAIL variable {v.get('name')}: query {q!r} is not label_values(metric, label)", file=sys.stderr)
            return 1
        exprs.append((f"variable {v['name']}", f"count by ({m.group(2)}) ({m.group(1)})"))
        values[v["name"]] = v.get("allValue") or ".*"
    builtins = {"__rate_interval": "1m", "__interval": "30s", "__range": "3h", "__interval_ms": "30000",
                "__range_s": "10800"}

    def fmt(val, f):
        if f not in (None, "regex"):
            raise ValueError(f"variable format {f} not handled here")
        return val
    for panel, target in panel_queries(dash):
        where = f"panel {panel.get('id')} '{panel.get('title')}' query {target.get('refId')}"
        if "expr" not in target:
            print(f"FAIL {where}: no expr", file=sys.stderr)
            return 1
        exprs.append((where, expand_vars(target["expr"], values, builtins, fmt)))
    failures = []
    used = set()
    with open(args.rules, "w", encoding="utf-8") as out:
        out.write("groups:\n  - name: parallax_dashboard\n    rules:\n")
        for i, (where, e) in enumerate(exprs):
            if "$" in e:
                failures.append(f"{where}: left unexpanded: {e}")
            out.write(f"      - record: dashboard:expr_{i}\n        expr: {json.dumps(e)}\n")
            for name in re.findall(r"\bparallax_\w+", e):
                used.add(name)
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if name not in docs and not (base != name and docs.get(base) == "histogram"):
                    failures.append(f"{where}: {name} is not in {args.names}")
                if served is not None and name not in served:
                    failures.append(f"{where}: {name} is not declared by the coordinator's /metrics")
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    unused = sorted(set(docs) - {re.sub(r"_(bucket|sum|count)$", "", n) for n in used})
    print(f"{len(exprs)} expressions, {len(used)} metric names, {len(failures)} failed"
          + (f"; documented but not shown: {', '.join(unused)}" if unused else ""))
    return 1 if failures or not exprs else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lint")
    p.add_argument("dashboards", nargs="+")
    p = sub.add_parser("sql")
    p.add_argument("dashboard")
    p.add_argument("--from", dest="from_", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--dsn", required=True)
    p = sub.add_parser("promql")
    p.add_argument("dashboard")
    p.add_argument("--rules", required=True)
    p.add_argument("--names", required=True)
    p.add_argument("--exposition")
    args = ap.parse_args()
    if args.cmd == "lint":
        bad = 0
        for path in args.dashboards:
            for e in lint(path):
                print(f"FAIL {path}: {e}", file=sys.stderr)
                bad += 1
        return 1 if bad else 0
    return run_sql(args) if args.cmd == "sql" else run_promql(args)


if __name__ == "__main__":
    sys.exit(main())
