#!/usr/bin/python3
"""alert_bench: what alerts cost pacerd, measured on a real pacerd.

  1. Ingest with alerts on against off: an organisation with --keys target keys (reps with
     revenue, margin and deals targets for this month, quarter and year, plus their teams,
     regions and company), then pacer-bench's sales (credited to rep-000 .. rep-199) into a
     pacerd started with --alerts on, then one with --alerts off, alternately (A B A B), the
     same setup each time. Reports events/s of each run and the on/off ratio per pair.
  2. A tick's cost at --keys keys (--manual-clock): the first tick of a day evaluates every key
     (run rates move at day boundaries), later ticks only the keys due. Reports the tick
     request's round trip (it commits what it raises). A tick request does the whole day's
     sweep before it answers; pacerd's own ticks do it in bounded steps (step 6).
  3. Latency from an append's arrival to its alert's publication while pacer-bench loads the
     daemon at half the rate it reached in step 1 (--rate): a probe sale that makes a target
     achieved, timed from send to the alert on the SUB socket; p50 and p99 over --probes.
  6. Acknowledgement latency while a day's sweep runs (--only dayturn): the first tick of a day
     evaluates every key, which raised 200,000 alerts at 100,000 keys. The organisation is set
     up with --alerts off, then pacerd restarts with alerts on and --tick 2 (a start forgets the
     day's rates, so its first tick of the daemon's own runs the day's sweep, as at midnight).
     A producer appends one sale at a time meanwhile (a sale of rep-000, each changing nine
     keys); reports the latency of each acknowledgement from 1 s after the start on (p50, p99,
     max), the alerts raised after the first tick, and how long they took to raise (the `at` of
     the first and the last of them).
  5. Ingest with the anomaly detectors on (the default) against --detectors off.
  4. Ingest with 8 subscribers attached (SUB sockets subscribed to everything: events,
     alerts, progress, heartbeats; one reads as fast as Python can, which is slower than
     pacerd publishes, the seven others never read) against none, alternately.

Usage: alert_bench.py [--bin build] [--keys 100000] [--seconds 8] [--pairs 2] [--probes 200]
                      [--only ingest|tick|latency|subscribers|detectors|dayturn]
Needs python3-zmq and python3-msgpack (Debian)."""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import msgpack
import zmq


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Pacerd:
    def __init__(self, bindir, args, state=None):
        self.dir = state or tempfile.mkdtemp(prefix="alert-bench-")
        self.ports = free_ports(3)
        self.ep = ["tcp://127.0.0.1:%d" % p for p in self.ports]
        self.log = open(os.path.join(self.dir, "pacerd.log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(bindir, "pacerd"), "--state-dir", os.path.join(self.dir, "s"),
             "--append", self.ep[0], "--query", self.ep[1], "--publish", self.ep[2]] + args,
            stdout=self.log, stderr=subprocess.STDOUT)
        self.ctx = zmq.Context.instance()
        deadline = time.time() + 30
        while True:
            try:
                self.call(1, "status", timeout=1000)
                break
            except TimeoutError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit("pacerd did not start; see %s" % self.dir)

    def call(self, which, op, timeout=600000, **fields):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.ep[which])
        body = dict(v=1, op=op, **fields)
        s.send_multipart([b"", msgpack.packb(body, use_bin_type=True)])
        if not s.poll(timeout):
            s.close()
            raise TimeoutError(op)
        r = msgpack.unpackb(s.recv_multipart()[1], raw=False)
        s.close()
        if not r.get("ok"):
            raise SystemExit("%s failed: %s" % (op, r))
        return r

    def append(self, events):
        for i in range(0, len(events), 5000):
            r = self.call(0, "append", events=events[i:i + 5000])
            if r["rejected"]:
                bad = [x for x in r["results"] if "error" in x][:3]
                raise SystemExit("setup events refused: %s" % bad)

    def stop(self, keep=False):
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def periods(now_ms):
    t = time.gmtime(now_ms / 1000 + 8 * 3600)  # Asia/Shanghai
    return ["%04d-%02d" % (t.tm_year, t.tm_mon), "%04d-Q%d" % (t.tm_year, (t.tm_mon - 1) // 3 + 1),
            "%04d" % t.tm_year]


def setup_events(keys, now_ms):
    run = uuid.uuid4().hex[:6]
    at = now_ms - 40 * 86400000
    evs = [dict(type="node_defined", id="c-" + run, occurred_at=at, node="acme", kind="company",
                name="ACME", owner="ceo")]
    metrics = ["revenue", "margin", "deals"]
    per_rep = len(metrics) * 3
    nreps = max(200, keys // per_rep)
    nteams = max(1, nreps // 20)
    nregions = max(1, nteams // 5)
    for r in range(nregions):
        evs.append(dict(type="node_defined", id="r%d-%s" % (r, run), occurred_at=at,
                        node="region-%d" % r, kind="region", name="Region %d" % r,
                        parent="acme", owner="rm-%d" % r))
    for t in range(nteams):
        evs.append(dict(type="node_defined", id="t%d-%s" % (t, run), occurred_at=at,
                        node="team-%d" % t, kind="team", name="Team %d" % t,
                        parent="region-%d" % (t % nregions), owner="tl-%d" % t))
    for i in range(nreps):
        rep = "rep-%03d" % i
        evs.append(dict(type="node_defined", id="p%d-%s" % (i, run), occurred_at=at, node=rep,
                        kind="rep", name=rep, parent="team-%d" % (i % nteams), owner=rep))
    n = 0
    scopes = ["rep-%03d" % i for i in range(nreps)]
    scopes += ["team-%d" % t for t in range(nteams)] + ["region-%d" % r for r in range(nregions)]
    scopes.append("acme")
    for scope in scopes:
        for m in metrics:
            for p in periods(now_ms):
                if n >= keys:
                    break
                big = 10**12 if m != "deals" else 10**6
                evs.append(dict(type="target_set", id="k%d-%s" % (n, run), occurred_at=at,
                                scope=scope, metric=m, period=p, floor=big // 2, target=big,
                                stretch=big * 2, currency="CNY", author="bench"))
                n += 1
    return evs, n


def bench_ingest(args, alerts, subscribers=0, prefixes=(b"",), detectors="on"):
    d = Pacerd(args.bin, ["--alerts", alerts, "--detectors", detectors, "--tick", "60",
                          "--log-level", "warn"])
    subs, readers, stop = [], [], []
    try:
        evs, n = setup_events(args.keys, int(time.time() * 1000))
        d.append(evs)
        if subscribers:
            import threading
            for _ in range(subscribers):
                s = d.ctx.socket(zmq.SUB)
                for prefix in prefixes:
                    s.setsockopt(zmq.SUBSCRIBE, prefix)
                s.connect(d.ep[2])
                subs.append(s)

            def read(sock, counter):
                # one reads everything it can; the others read nothing (slow subscribers)
                while not stop and counter is counts[0]:
                    if sock.poll(100):
                        sock.recv_multipart()
                        counter[0] += 1
            counts = [[0] for _ in subs]
            for s, c in zip(subs, counts):
                t = threading.Thread(target=read, args=(s, c), daemon=True)
                t.start()
                readers.append(t)
            time.sleep(1.5)  # the subscriptions reach pacerd
        out = subprocess.run([os.path.join(args.bin, "pacer-bench"), "--endpoint", d.ep[0],
                              "--producers", "4", "--batch", "256", "--inflight", "4",
                              "--seconds", str(args.seconds), "--json"],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out)
        if subscribers:
            r["received"] = sum(c[0] for c in counts)
        return r, n
    finally:
        stop.append(True)
        for t in readers:
            t.join()
        for s in subs:
            s.close(0)
        d.stop()


def bench_tick(args):
    d = Pacerd(args.bin, ["--manual-clock", "--tick", "0", "--log-level", "warn"])
    try:
        now = int(time.time() * 1000)
        evs, n = setup_events(args.keys, now)
        d.append(evs)
        res = []
        for label, t in [("first of the day (every key)", now), ("60 s later (keys due)",
                                                                  now + 60000),
                         ("60 s later again", now + 120000)]:
            t0 = time.perf_counter()
            r = d.call(0, "tick", now=t)
            res.append((label, (time.perf_counter() - t0) * 1000, r["raised"]))
        return n, res
    finally:
        d.stop()


def bench_latency(args, rate):
    d = Pacerd(args.bin, ["--tick", "0", "--log-level", "warn"])
    try:
        now = int(time.time() * 1000)
        evs, n = setup_events(min(args.keys, 3000), now)
        d.append(evs)
        sub = d.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"alert/achieved/")
        sub.setsockopt(zmq.SUBSCRIBE, b"alert/anomaly/duplicate_order/")
        sub.setsockopt(zmq.SUBSCRIBE, b"heartbeat/")
        sub.connect(d.ep[2])
        while sub.poll(3000):
            if sub.recv_multipart()[0] == b"heartbeat/":
                break
        load = subprocess.Popen([os.path.join(args.bin, "pacer-bench"), "--endpoint", d.ep[0],
                                 "--producers", "4", "--batch", "256", "--inflight", "4",
                                 "--rate", str(int(rate)), "--seconds", "600", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(1)
        period = periods(now)[0]
        dealer = d.ctx.socket(zmq.DEALER)
        dealer.connect(d.ep[0])
        lat = []
        for i in range(args.probes):
            scope = "probe-%d-%s" % (i, uuid.uuid4().hex[:4])
            setup = [dict(type="node_defined", id=scope, occurred_at=now - 86400000, node=scope,
                          kind="rep", name=scope, parent="team-0"),
                     dict(type="target_set", id=scope + "-t", occurred_at=now - 86400000,
                          scope=scope, metric="revenue", period=period, target=100,
                          currency="CNY", author="bench")]
            d.append(setup)
            if args.anomaly:
                # two equal orders of one customer: duplicate_order flags the second
                probe = [dict(type="sale_closed", id=scope + "-s%d" % k, occurred_at=now + k,
                              order=scope + "-%d" % k, rep=scope, amount=123456,
                              currency="CNY", customer=scope + "-c", product_line="cloud")
                         for k in range(2)]
                want = b"alert/anomaly/duplicate_order/"
            else:
                probe = [dict(type="sale_closed", id=scope + "-s", occurred_at=now, order=scope,
                              rep=scope, amount=100, currency="CNY")]
                want = b"alert/achieved/"
            t0 = time.perf_counter()
            dealer.send_multipart([b"", msgpack.packb(dict(v=1, op="append", events=probe))])
            acked = alerted = None
            while acked is None or alerted is None:
                poller = zmq.Poller()
                poller.register(sub, zmq.POLLIN)
                poller.register(dealer, zmq.POLLIN)
                ready = dict(poller.poll(10000))
                if not ready:
                    raise SystemExit("no alert for probe %d" % i)
                if dealer in ready:
                    dealer.recv_multipart()
                    acked = (time.perf_counter() - t0) * 1000
                if sub in ready:
                    topic, body = sub.recv_multipart()
                    if topic.startswith(want) and \
                            msgpack.unpackb(body, raw=False)["scope"] == scope:
                        alerted = (time.perf_counter() - t0) * 1000
            lat.append((alerted, acked))
        load.terminate()
        load.wait()
        return lat
    finally:
        d.stop()


def bench_dayturn(args):
    d = Pacerd(args.bin, ["--alerts", "off", "--tick", "0", "--log-level", "warn"])
    now = int(time.time() * 1000)
    try:
        evs, n = setup_events(args.keys, now)
        d.append(evs)
    finally:
        d.stop(keep=True)
    t_start = time.perf_counter()
    d = Pacerd(args.bin, ["--tick", "2", "--log-level", "warn"], state=d.dir)
    try:
        sub = d.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"heartbeat/")
        sub.connect(d.ep[2])
        dealer = d.ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(d.ep[0])
        lat, i = [], 0
        # one sale at a time, from before the first tick (2 s after the start) until the
        # heartbeats' aseq has stood still for 3 s since alerts began (the sweep is over)
        deadline = time.perf_counter() + 300
        aseq, moved, before = 0, None, 0
        while time.perf_counter() < deadline:
            i += 1
            ev = dict(type="sale_closed", id="dt-%d-%d" % (now, i), occurred_at=now,
                      order="dt-%d" % i, rep="rep-000", amount=100, currency="CNY")
            t0 = time.perf_counter()
            dealer.send_multipart([b"", msgpack.packb(dict(v=1, op="append", events=[ev]))])
            if not dealer.poll(600000):
                raise SystemExit("append %d not acknowledged" % i)
            dealer.recv_multipart()
            t1 = time.perf_counter()
            if t0 - t_start > 1:  # the daemon's first tick comes 2 s after its start
                lat.append((t1 - t0) * 1000)
            while sub.poll(0):
                hb = msgpack.unpackb(sub.recv_multipart()[1], raw=False)
                if hb["aseq"] != aseq:
                    aseq, moved = hb["aseq"], t1
                if t1 - t_start < 1.5:  # the probe's own alerts, before the first tick
                    before, moved = aseq, None
            if moved is not None and t1 - moved > 3:
                break
        first = d.call(1, "alerts", **{"from": before + 1, "limit": 1})["alerts"]
        last = d.call(1, "alerts", **{"from": aseq, "limit": 1})["alerts"]
        sweep_ms = last[0]["at"] - first[0]["at"] if first and last else 0
        sub.close(0)
        dealer.close(0)
        return n, lat, aseq - before, sweep_ms
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build")
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--only", choices=["ingest", "tick", "latency", "subscribers", "detectors",
                                       "dayturn"])
    ap.add_argument("--anomaly", action="store_true",
                    help="latency probes raise an anomaly (two equal orders) instead of achieved")
    ap.add_argument("--rate", type=float, default=0,
                    help="background load for the latency probes (default: half of step 1)")
    args = ap.parse_args()
    best = 0
    if args.only in (None, "ingest"):
        print("ingest, %d target keys, pacer-bench 4 producers x batch 256 x inflight 4, %d s"
              % (args.keys, args.seconds))
        for p in range(args.pairs):
            on, n = bench_ingest(args, "on")
            off, _ = bench_ingest(args, "off")
            a, b = on["events_per_s"], off["events_per_s"]
            best = max(best, a)
            print("  pair %d: alerts on %.0f ev/s, off %.0f ev/s, on/off %.2f (keys %d)"
                  % (p + 1, a, b, a / b, n))
            sys.stdout.flush()
    if args.only in (None, "tick"):
        n, res = bench_tick(args)
        print("tick at %d target keys:" % n)
        for label, ms, raised in res:
            print("  %-30s %8.1f ms  (%d alerts raised)" % (label, ms, raised))
        sys.stdout.flush()
    if args.only in (None, "dayturn"):
        n, lat, raised, sweep_ms = bench_dayturn(args)
        v = sorted(lat)
        print("appends acknowledged while the day's sweep of %d keys runs (pacerd restarted with "
              "alerts on, --tick 2; one sale at a time):" % n)
        print("  %d appends, p50 %.2f ms  p99 %.2f ms  max %.2f ms; %d alerts raised over %d ms"
              % (len(v), v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))], v[-1], raised,
                 sweep_ms))
        sys.stdout.flush()
    if args.only in (None, "latency"):
        rate = args.rate or (best / 2 if best else 100000)
        pairs = bench_latency(args, rate)

        def pct(v, q):
            v = sorted(v)
            return v[min(len(v) - 1, int(len(v) * q))]
        alert = [a for a, _ in pairs]
        ack = [b for _, b in pairs]
        extra = [a - b for a, b in pairs]
        print("append -> %s alert published, pacer-bench loading %.0f ev/s in the background, "
              "%d probes:" % ("anomaly" if args.anomaly else "lag", rate, len(pairs)))
        for name, v in (("alert published", alert), ("append acknowledged", ack),
                        ("alert after the ack", extra)):
            print("  %-20s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms"
                  % (name, pct(v, 0.5), pct(v, 0.99), max(v)))
        sys.stdout.flush()
    if args.only in (None, "detectors"):
        print("ingest with the anomaly detectors on against off, %d keys, alerts on" % args.keys)
        for p in range(args.pairs):
            on, _ = bench_ingest(args, "on", detectors="on")
            off, _ = bench_ingest(args, "on", detectors="off")
            print("  pair %d: detectors on %.0f ev/s, off %.0f ev/s, on/off %.2f"
                  % (p + 1, on["events_per_s"], off["events_per_s"],
                     on["events_per_s"] / off["events_per_s"]))
            sys.stdout.flush()
    if args.only in (None, "subscribers"):
        print("ingest with 8 subscribers against none, %d keys, alerts on" % args.keys)
        for what, prefixes in [("alert/ progress/ heartbeat/", (b"alert/", b"progress/",
                                                               b"heartbeat/")),
                               ("everything (event/ too)", (b"",))]:
            for p in range(args.pairs):
                w, n = bench_ingest(args, "on", subscribers=8, prefixes=prefixes)
                wo, _ = bench_ingest(args, "on")
                print("  %s, pair %d: 8 subscribers %.0f ev/s (one read %d messages), none "
                      "%.0f ev/s, ratio %.2f" % (what, p + 1, w["events_per_s"], w["received"],
                                                 wo["events_per_s"],
                                                 w["events_per_s"] / wo["events_per_s"]))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
