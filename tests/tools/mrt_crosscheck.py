#!/usr/bin/python3
"""mrt_crosscheck: what an independent MRT parser (Debian's python3-mrtparse) reads in MRT
files, one route event a line, sorted, in the form the routes tests read from the database:

    KIND PEER_ADDRESS PEER_AS [PREFIX [AS_PATH]]     (AS_PATH as "64500 {64501,64502}")

  mrt_crosscheck.py FILE...

Counts what parallaxctl routes import stores: announcements and withdrawals of UPDATEs (also
in MP_REACH/MP_UNREACH_NLRI), state changes to or from Established (peer_up, peer_down), and
TABLE_DUMP_V2 IPv4/IPv6 unicast RIB entries; not what the collector itself sent.
"""
import io
import ipaddress
import struct
import sys

import mrtparse

BGP4MP_TYPES = (16, 17)
RECEIVED = {0: "state", 5: "state", 1: "msg", 4: "msg"}  # not the _LOCAL subtypes


def net(prefix, plen):
    return str(ipaddress.ip_network(f"{prefix}/{plen}", strict=False))


def path_text(attrs):
    for a in attrs:
        if a.type == 2:
            parts = []
            for seg in a.as_path:
                vals = [str(v) for v in seg["val"]]
                parts.append("{" + ",".join(vals) + "}" if seg["type"] in (1, 4) else " ".join(vals))
            return " ".join(parts)
    return ""


def without_et(path):
    """The file with BGP4MP_ET records made BGP4MP (microseconds dropped): mrtparse 1.6 reads
    an _ET record's microseconds from a buffer it never set and fails."""
    data = open(path, "rb").read()
    out, at = [], 0
    while at + 12 <= len(data):
        ts, mtype, sub, length = struct.unpack_from("!IHHI", data, at)
        body = data[at + 12:at + 12 + length]
        if mtype == 17 and length >= 4:
            mtype, body = 16, body[4:]
        out.append(struct.pack("!IHHI", ts, mtype, sub, len(body)) + body)
        at += 12 + length
    return io.BytesIO(b"".join(out))


def events(path):
    peers = []
    for r in mrtparse.Reader(without_et(path)):
        m = r.mrt
        if getattr(m, "err", None):
            raise SystemExit(f"mrt_crosscheck: {path}: {m.err_msg}")
        if m.type in BGP4MP_TYPES and m.subtype in RECEIVED:
            b = m.bgp
            who = f"{ipaddress.ip_address(b.peer_ip)} {b.peer_as}"
            if RECEIVED[m.subtype] == "state":
                if b.new_state == 6 and b.old_state != 6:
                    yield f"peer_up {who}"
                elif b.old_state == 6 and b.new_state != 6:
                    yield f"peer_down {who}"
                continue
            msg = b.msg
            if msg.type != 2:
                continue
            for n in msg.withdrawn or []:
                yield f"withdraw {who} {net(n.prefix, n.plen)}"
            for a in msg.attr or []:
                if a.type == 15:
                    for n in a.mp_unreach.get("withdrawn", []):
                        yield f"withdraw {who} {net(n.prefix, n.plen)}"
            text = path_text(msg.attr or [])
            for n in msg.nlri or []:
                yield f"announce {who} {net(n.prefix, n.plen)} {text}"
            for a in msg.attr or []:
                if a.type == 14:
                    for n in a.mp_reach.get("nlri", []):
                        yield f"announce {who} {net(n.prefix, n.plen)} {text}"
        elif m.type == 13 and m.subtype == 1:
            peers = [(str(ipaddress.ip_address(e.ip)), e.asn) for e in m.peer.entry]
        elif m.type == 13 and m.subtype in (2, 4):
            for e in m.rib.entry:
                ip, asn = peers[e.peer_index]
                yield f"announce {ip} {asn} {net(m.rib.prefix, m.rib.plen)} {path_text(e.attr)}"


def main():
    out = []
    for path in sys.argv[1:]:
        out.extend(line.rstrip() for line in events(path))
    print("\n".join(sorted(out)))


if __name__ == "__main__":
    main()
