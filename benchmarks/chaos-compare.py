#!/usr/bin/env python3
"""Helper of benchmarks/chaos and benchmarks/chaos-capture: compares two Redis feature namespaces
and two inference id lists, prints the harness' JSON line (exit 1 on any difference), or deletes
namespaces. `differ` counts keys whose values differ; `differ_float_order` counts keys equal only
up to floating-point summation order (within 1e-12 relative), which are not differences.

  chaos-compare.py compare NS_CLEAN NS_CHAOS IDS_CLEAN IDS_CHAOS KILLS EVENTS SECONDS [REDIS_RESTARTS IN_PROCESS_RESTARTS]
  chaos-compare.py delete NS...

Talks RESP to REDIS_URL (default redis://127.0.0.1:16379) with pipelined commands; standard
library only."""
import json
import os
import socket
import sys
from urllib.parse import urlparse


class Redis:
    def __init__(self, url):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379))
        self.buf = b""
        if u.password:
            self.pipeline([["AUTH", u.password]])

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)

    def pipeline(self, commands):
        out = bytearray()
        for c in commands:
            out += b"*%d\r\n" % len(c)
            for a in c:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return [self._reply() for _ in commands]

    def scan(self, pattern):
        cursor, keys = b"0", []
        while True:
            cursor, batch = self.pipeline([["SCAN", cursor, "MATCH", pattern, "COUNT", 10000]])[0]
            keys += batch
            if cursor == b"0":
                return keys


def snapshot(r, ns):
    """key without the namespace → value (a hash as sorted pairs, a string as bytes)."""
    keys = r.scan(ns + ":*")
    out = {}
    for i in range(0, len(keys), 5000):
        part = keys[i:i + 5000]
        cmds = [["GET", k] if k.endswith(b":latest") else ["HGETALL", k] for k in part]
        for k, v in zip(part, r.pipeline(cmds)):
            if isinstance(v, list):
                # `__updated` is the wall-clock time of the write: it differs between any two runs.
                v = tuple(sorted((f, x) for f, x in zip(v[0::2], v[1::2]) if f != b"__updated"))
            out[k[len(ns) + 1:]] = v
    return out


def close(a, b):
    """Equal, or hashes whose fields differ only in floating-point values within 1e-12 relative
    (sums of doubles taken in another order, e.g. records of several partitions interleaved
    differently: the realtime-pricing revenue sum)."""
    if a == b:
        return True
    if not isinstance(a, tuple) or not isinstance(b, tuple) or len(a) != len(b):
        return False
    for (fa, xa), (fb, xb) in zip(a, b):
        if fa != fb:
            return False
        if xa == xb:
            continue
        try:
            x, y = float(xa), float(xb)
        except ValueError:
            return False
        if abs(x - y) > 1e-12 * max(abs(x), abs(y)):
            return False
    return True


def main():
    r = Redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:16379"))
    if sys.argv[1] == "delete":
        for ns in sys.argv[2:]:
            keys = r.scan(ns + ":*")
            for i in range(0, len(keys), 5000):
                r.pipeline([["UNLINK"] + keys[i:i + 5000]])
        return 0
    ns_clean, ns_chaos, ids_clean, ids_chaos, kills, events, seconds = sys.argv[2:9]
    redis_restarts, in_process = (sys.argv[9:11] + ["0", "0"])[:2]
    clean, chaos = snapshot(r, ns_clean), snapshot(r, ns_chaos)
    missing = sum(1 for k in clean if k not in chaos)
    extra = sum(1 for k in chaos if k not in clean)
    differ = sum(1 for k, v in clean.items() if k in chaos and not close(chaos[k], v))
    rounding = sum(1 for k, v in clean.items() if k in chaos and chaos[k] != v and close(chaos[k], v))
    with open(ids_clean) as f:
        clean_ids = [l.strip() for l in f if l.strip()]
    with open(ids_chaos) as f:
        chaos_ids = [l.strip() for l in f if l.strip()]
    a, b = set(clean_ids), set(chaos_ids)
    result = {
        "kills": int(kills), "redis_restarts": int(redis_restarts), "in_process_restarts": int(in_process or 0),
        "events": int(events), "keys": len(clean), "missing": missing, "extra": extra,
        "differ": differ, "differ_float_order": rounding, "ids_clean": len(a), "ids_chaos": len(b), "records_clean": len(clean_ids),
        "records_chaos": len(chaos_ids), "ids_lost": len(a - b), "ids_spurious": len(b - a),
        "without_id": clean_ids.count("-") + chaos_ids.count("-"), "seconds": int(seconds),
    }
    print(json.dumps(result, separators=(",", ":")))
    bad = missing or extra or differ or result["ids_lost"] or result["ids_spurious"] or result["without_id"] or not clean
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
