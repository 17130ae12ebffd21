#!/usr/bin/python3
"""mrt_write: writes MRT files (RFC 6396) for the routes tests, from a line-per-event spec on
stdin, written from the RFCs (6396 MRT, 4271 BGP UPDATE, 4760 MP_REACH/UNREACH, 6793 4-byte AS).

  mrt_write.py [--append] OUT < spec        spec lines (# comments), TS = seconds[.micro]:
    up TS PEER_IP PEER_AS                   BGP4MP_STATE_CHANGE_AS4 Active -> Established
    down TS PEER_IP PEER_AS                 Established -> Idle
    announce TS PEER_IP PEER_AS PREFIX[,PREFIX] AS_PATH   (path "64500 {64501,64502}")
    withdraw TS PEER_IP PEER_AS PREFIX[,PREFIX]
    keepalive TS PEER_IP PEER_AS
    rib TS PREFIX PEER_IP:PEER_AS:AS_PATH [...]   TABLE_DUMP_V2 (a PEER_INDEX_TABLE first)
  A TS with a fraction writes BGP4MP_ET (microseconds); IPv6 prefixes go in MP_REACH/UNREACH.
  mrt_write.py --seeds DIR                  writes the fuzz seed corpus (one file per kind)
"""
import ipaddress
import struct
import sys

COLLECTOR_IP = "198.18.8.2"
COLLECTOR_AS = 64510


def mrt(ts, mtype, subtype, body):
    sec = int(ts)
    usec = round((ts - sec) * 1e6)
    if mtype == 16 and usec:
        return struct.pack("!IHHII", sec, 17, subtype, len(body) + 4, usec) + body
    return struct.pack("!IHHI", sec, mtype, subtype, len(body)) + body


def bgp4mp_head(peer_ip, peer_as):
    p = ipaddress.ip_address(peer_ip)
    local = ipaddress.ip_address(COLLECTOR_IP if p.version == 4 else "2001:db8::2")
    afi = 1 if p.version == 4 else 2
    return struct.pack("!IIHH", peer_as, COLLECTOR_AS, 0, afi) + p.packed + local.packed


def bgp_msg(mtype, body):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), mtype) + body


def enc_prefix(net):
    n = ipaddress.ip_network(net)
    octets = (n.prefixlen + 7) // 8
    return bytes([n.prefixlen]) + n.network_address.packed[:octets]


def attr(flags, code, value):
    if len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def path_attr(text, width=4):
    segs = []
    fmt = "!I" if width == 4 else "!H"
    for tok in text.replace("{", " {").replace("}", "} ").split():
        if tok.startswith("{"):
            segs.append((1, [int(a) for a in tok.strip("{}").split(",")]))
        elif segs and segs[-1][0] == 2 and len(segs[-1][1]) < 255:
            segs[-1][1].append(int(tok))
        else:
            segs.append((2, [int(tok)]))
    return b"".join(bytes([t, len(a)]) + b"".join(struct.pack(fmt, x) for x in a)
                    for t, a in segs)


def update(announce, withdraw, path):
    v4a = [p for p in announce if ipaddress.ip_network(p).version == 4]
    v6a = [p for p in announce if ipaddress.ip_network(p).version == 6]
    v4w = [p for p in withdraw if ipaddress.ip_network(p).version == 4]
    v6w = [p for p in withdraw if ipaddress.ip_network(p).version == 6]
    attrs = b""
    if announce:
        attrs += attr(0x40, 1, b"\x00") + attr(0x40, 2, path_attr(path))
        if v4a:
            attrs += attr(0x40, 3, ipaddress.ip_address("198.18.8.1").packed)
        if v6a:
            nh = ipaddress.ip_address("2001:db8::1").packed
            attrs += attr(0x80, 14, struct.pack("!HBB", 2, 1, len(nh)) + nh + b"\x00" +
                          b"".join(enc_prefix(p) for p in v6a))
    if v6w:
        attrs += attr(0x80, 15, struct.pack("!HB", 2, 1) + b"".join(enc_prefix(p) for p in v6w))
    w = b"".join(enc_prefix(p) for p in v4w)
    body = struct.pack("!H", len(w)) + w + struct.pack("!H", len(attrs)) + attrs
    body += b"".join(enc_prefix(p) for p in v4a)
    return bgp_msg(2, body)


def peer_table(peers):
    body = ipaddress.ip_address(COLLECTOR_IP).packed + struct.pack("!H", 0)
    body += struct.pack("!H", len(peers))
    for ip, asn in peers:
        a = ipaddress.ip_address(ip)
        body += bytes([(1 if a.version == 6 else 0) | 2]) + a.packed[-4:].rjust(4, b"\0")
        body += a.packed + struct.pack("!I", asn)
    return mrt(0, 13, 1, body)


def rib(ts, prefix, entries, peers, seq):
    n = ipaddress.ip_network(prefix)
    body = struct.pack("!I", seq) + enc_prefix(prefix) + struct.pack("!H", len(entries))
    for ip, asn, path in entries:
        idx = peers.index((ip, asn))
        attrs = attr(0x40, 1, b"\x00") + attr(0x40, 2, path_attr(path))
        body += struct.pack("!HIH", idx, int(ts), len(attrs)) + attrs
    return mrt(ts, 13, 2 if n.version == 4 else 4, body)


def records(lines):
    out = []
    peers = []
    ribs = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        kind, ts = f[0], float(f[1])
        if kind == "rib":
            ents = []
            for e in f[3:]:
                ip, asn, path = e.rsplit(":", 2) if e.count(":") >= 2 else (e, "0", "")
                ents.append((ip, int(asn), path.replace("_", " ")))
                if (ip, int(asn)) not in peers:
                    peers.append((ip, int(asn)))
            ribs.append((ts, f[2], ents))
            continue
        head = bgp4mp_head(f[2], int(f[3]))
        if kind in ("up", "down"):
            states = (3, 6) if kind == "up" else (6, 1)
            out.append(mrt(ts, 16, 5, head + struct.pack("!HH", *states)))
        elif kind == "announce":
            out.append(mrt(ts, 16, 4, head + update(f[4].split(","), [], " ".join(f[5:]))))
        elif kind == "withdraw":
            out.append(mrt(ts, 16, 4, head + update([], f[4].split(","), "")))
        elif kind == "keepalive":
            out.append(mrt(ts, 16, 4, head + bgp_msg(4, b"")))
        else:
            raise SystemExit(f"mrt_write: unknown event {kind}")
    if ribs:
        out.insert(0, peer_table(peers))
        for seq, (ts, prefix, ents) in enumerate(ribs):
            out.insert(1 + seq, rib(ts, prefix, ents, peers, seq))
    return out


SEEDS = {
    "updates": """up 1700000000 198.51.100.1 64500
announce 1700000001 198.51.100.1 64500 203.0.113.0/24,192.0.2.0/25 64500 64501
announce 1700000002.250000 198.51.100.1 64500 2001:db8:1::/48 64500 {64501,64502}
withdraw 1700000003 198.51.100.1 64500 203.0.113.0/24,2001:db8:1::/48
keepalive 1700000004 198.51.100.1 64500
down 1700000005 198.51.100.1 64500
""",
    "rib": """rib 1700000000 203.0.113.0/24 198.51.100.1:64500:64500_64501 2001:db8::1:64502:64502_{64501,64503}
rib 1700000000 2001:db8:2::/48 198.51.100.1:64500:64500
""",
}


def main():
    args = sys.argv[1:]
    if args[:1] == ["--seeds"]:
        for name, spec in SEEDS.items():
            with open(f"{args[1]}/{name}", "wb") as f:
                f.write(b"".join(records(spec.splitlines())))
        return
    append = args[:1] == ["--append"]
    if append:
        args = args[1:]
    data = b"".join(records(sys.stdin.read().splitlines()))
    with open(args[0], "ab" if append else "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
