"""The `pacer` CLI against a real daemon: append (JSON Lines, with bad lines), status --json,
events, and verify, including a record altered on disk after the daemon stopped."""

import base64
import binascii
import json
import os
import re

import pacertest as pt
from pacertest import expect_ok

SUMMARY = re.compile(r"appended (\d+), duplicate (\d+), rejected (\d+)")


def jsonl(events):
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


def decode_hash(h):
    """The CLI prints the 32-byte hash as text; accept hex or base64."""
    if isinstance(h, str):
        try:
            b = bytes.fromhex(h)
            if len(b) == 32:
                return b
        except ValueError:
            pass
        try:
            return base64.b64decode(h, validate=True)
        except binascii.Error:
            pass
    raise AssertionError("cannot read hash %r" % (h,))


class Cli(pt.PacerTestCase):

    def append_cli(self, d, args, input=None):
        r = pt.run_cli(["append"] + list(args) + pt.cli_append_args(d), input=input)
        out = r.stdout + r.stderr
        m = SUMMARY.search(r.stdout)
        self.assertIsNotNone(m, "no 'appended N, duplicate N, rejected N' in stdout:\n" + out)
        return r, tuple(int(x) for x in m.groups()), out

    def test_append_jsonl_with_bad_lines(self):
        d = self.start_daemon()
        good = [pt.sale_closed(), pt.node_defined(node="acme", kind="company", parent=None),
                pt.sale_closed(customer="客户-7"), pt.kpi_defined(), pt.node_defined()]
        lines = [
            json.dumps(good[0]),                                   # 1
            '{"type": "sale_closed", "id": "broken", ',            # 2 bad JSON
            json.dumps(good[1]),                                   # 3
            json.dumps(pt.sale_closed(amount="12.50")),            # 4 wrong type
            json.dumps(good[2], ensure_ascii=False),               # 5
            "[1, 2, 3]",                                           # 6 not an object
            json.dumps(good[3]),                                   # 7
            json.dumps(pt.sale_closed(currency="rmb")),            # 8 bad currency
            json.dumps(good[4]),                                   # 9
        ]
        path = os.path.join(pt.make_temp_dir("cli"), "events.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

        r, counts, out = self.append_cli(d, [path])
        self.assertEqual(counts, (5, 0, 4), out)
        self.assertEqual(r.returncode, 1, out)
        others = [l for l in out.splitlines() if not SUMMARY.search(l)]

        def line_report(n):
            hits = [l for l in others if re.search(r"\b%d\b" % n, l)]
            self.assertTrue(hits, "line %d is not reported:\n%s" % (n, out))
            return " ".join(hits)
        self.assertRegex(line_report(2).lower(), r"json|pars|syntax|invalid|unexpected|end")
        self.assertRegex(line_report(4), r"amount")
        self.assertRegex(line_report(4), r"wrong_type|expected|integer|type")
        self.assertTrue(line_report(6))
        self.assertRegex(line_report(8), r"currency")
        for n in (1, 3, 5, 7, 9):
            self.assertFalse([l for l in others if re.search(r"\bline %d\b" % n, l)],
                             "good line %d reported:\n%s" % (n, out))

        with d.client("query") as q:
            log = pt.read_log(q)
        self.assertEqual(len(log), 5)
        for rec, ev in zip(log, good):
            self.assertTrue(pt.same_content(rec["event"], ev), (rec["event"], ev))

        # The same file again: the good lines are duplicates now.
        r, counts, out = self.append_cli(d, [path])
        self.assertEqual(counts, (0, 5, 4), out)
        self.assertEqual(r.returncode, 1, out)
        self.assertEqual(d.status()["last_seq"], 5)

    def test_append_from_stdin_all_good(self):
        d = self.start_daemon()
        events = pt.one_of_each() + pt.sales(300)
        r, counts, out = self.append_cli(d, ["-"], input=jsonl(events))
        self.assertEqual(counts, (len(events), 0, 0), out)
        self.assertEqual(r.returncode, 0, out)
        with d.client("query") as q:
            log = pt.read_log(q)
        self.assertEqual(len(log), len(events))
        for rec, ev in zip(log, events):
            self.assertTrue(pt.same_content(rec["event"], ev), (rec["event"], ev))

    def test_status_json(self):
        d = self.start_daemon()
        with d.client() as c:
            expect_ok(c.append(pt.sales(7)))
        r = pt.run_cli(["status", "--json"] + pt.cli_query_args(d))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        st = json.loads(r.stdout)
        self.assertEqual(st["last_seq"], 7)
        self.assertEqual(st["log_events"], 7)
        self.assertEqual(decode_hash(st["last_hash"]), d.status()["last_hash"])
        self.assertEqual(st["counters"]["appended"], 7)
        r = pt.run_cli(["status"] + pt.cli_query_args(d))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"\b7\b")

    def test_events_output(self):
        d = self.start_daemon()
        sent = pt.one_of_each()
        with d.client() as c:
            expect_ok(c.append(sent))
        with d.client("query") as q:
            stored = pt.read_log(q)
        r = pt.run_cli(["events"] + pt.cli_query_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        self.assertEqual([x["seq"] for x in rows], list(range(1, len(sent) + 1)))
        for row, rec, ev in zip(rows, stored, sent):
            self.assertEqual(set(row), {"seq", "recorded_at", "hash", "event"})
            self.assertEqual(row["recorded_at"], rec["recorded_at"])
            self.assertEqual(decode_hash(row["hash"]), rec["hash"])
            self.assertEqual(row["event"], pt.canonical(ev))
        r = pt.run_cli(["events", "--from", "3", "--limit", "4"] + pt.cli_query_args(d))
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        self.assertEqual([x["seq"] for x in rows], [3, 4, 5, 6])
        # The output is valid input: its events, appended again, are all duplicates.
        r = pt.run_cli(["events"] + pt.cli_query_args(d))
        events = "".join(json.dumps(json.loads(l)["event"]) + "\n" for l in r.stdout.splitlines())
        r, counts, out = self.append_cli(d, ["-"], input=events)
        self.assertEqual(counts, (0, len(sent), 0), out)

    def test_verify_good_and_tampered(self):
        d = self.start_daemon()
        marker = "cust-TAMPER-%s" % pt.uid("m").replace(":", "-")
        with d.client() as c:
            expect_ok(c.append(pt.sales(36)))
            victim = pt.sale_closed(customer=marker)
            seq = expect_ok(c.append([victim]))["results"][0]["seq"]
            expect_ok(c.append(pt.sales(20)))
        self.assertEqual(seq, 37)
        with d.client("query") as q:
            raw = expect_ok(q.events(from_seq=seq, limit=1, raw=True))["events"][0]["event"]
        self.assertIn(marker.encode(), raw)

        r = pt.run_cli(["verify", "--state-dir", d.state_dir])  # while the daemon runs
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("ok:"), r.stdout)
        self.stop_ok(d)
        r = pt.run_cli(["verify", "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("ok:"), r.stdout)
        r = pt.run_cli(["verify", "--state-dir", d.state_dir, "--json"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual((report["ok"], report["records"]), (True, 57))
        self.assertRegex(report["last_hash"], "^[0-9a-f]{64}$")

        # Flip one byte of the marker inside the stored record, in every copy LMDB left in
        # the file (copy-on-write leaves stale pages too).
        flipped = 0
        for root, _, files in os.walk(d.state_dir):
            for name in files:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    data = bytearray(f.read())
                hits = 0
                at = data.find(raw)
                while at >= 0:
                    i = at + raw.index(marker.encode()) + len("cust-")
                    data[i] ^= 0x01  # 'T' -> 'U': still valid UTF-8, still a valid id
                    hits += 1
                    at = data.find(raw, at + 1)
                if hits:
                    with open(path, "r+b") as f:
                        f.write(data)
                    flipped += hits
        self.assertGreater(flipped, 0, "record bytes not found in the state dir")

        r = pt.run_cli(["verify", "--state-dir", d.state_dir])
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 1, out)
        self.assertRegex(out, r"\b37\b", "verify does not name seq 37")
        r = pt.run_cli(["verify", "--state-dir", d.state_dir, "--json"])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual((report["ok"], report["records"], report["corrupt_at"]), (False, 36, 37))
        self.assertTrue(report["reason"])

    def test_verify_missing_state_dir(self):
        r = pt.run_cli(["verify", "--state-dir", os.path.join(pt.make_temp_dir("nx"), "nope")])
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertTrue((r.stdout + r.stderr).strip())


if __name__ == "__main__":
    pt.main()
