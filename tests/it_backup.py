"""`pacer backup DIR` while pacerd runs and appends, and a restore from it.

A source pacerd (manual alert clock) holds an organisation, targets, an alert raised by a tick
and a preloaded log; three producers stream appends while `pacer backup` copies the state
(asking pacerd for its state directory). The copy must be one consistent point of the log: `pacer
verify` passes on it; a second pacerd started on it answers status (last_seq, last_hash),
progress and alerts exactly as the source answers as of the backup's seq; the producers were
acknowledged during the copy; and the copy is no larger than the source file. Restoring by
copying data.mdb into an empty state directory works the same. The figures measured go to
stderr."""

import json
import os
import shutil
import sys
import time

import pacertest as pt
from pacertest import expect_ok
from it_alerts import DAY, H, NOV2, org, sale

PRELOAD_BATCHES = 20
PRELOAD_BATCH = 2000
NOW = pt.T0 + 86400000


def zhang_deals():
    return [pt.node_defined(node="zhang", kind="rep", name="Zhang", parent="acme"),
            pt.target_set(scope="zhang", metric="deals", period="2025-12", floor=None,
                          target=100000, stretch=None, currency=None)]


class Backup(pt.PacerTestCase):

    def progress(self, d, **kw):
        with d.client("query") as q:
            return expect_ok(q.call("progress", scope="acme", period="2025-12", now=NOW, **kw))

    def alerts(self, d):
        with d.client("query") as q:
            return (expect_ok(q.call("alerts"))["alerts"],
                    expect_ok(q.call("alerts_active", now=NOV2 + 20 * DAY))["alerts"])

    def test_backup_under_load_restores_the_same_state(self):
        d1 = self.start_daemon(extra_args=["--manual-clock", "--tick", "0"])
        with d1.client() as c:
            expect_ok(c.append(org()))
            expect_ok(c.append(zhang_deals()))
            expect_ok(c.append([sale(1000000, NOV2 + 10 * H)]))
            raised = expect_ok(c.call("tick", now=NOV2 + 18 * DAY + 12 * H))
            self.assertGreaterEqual(raised["raised"], 1)
            for _ in range(PRELOAD_BATCHES):
                expect_ok(c.append(pt.sales(PRELOAD_BATCH, rep="zhang")))
        before = d1.status()["last_seq"]

        producers = [pt.Producer(d1.append_ep, "p%d" % i, batch_size=200) for i in range(3)]
        for p in producers:
            p.start()
        try:
            pt.wait_until(lambda: sum(p.acked_count() for p in producers) >= 2000, 60,
                          "producers under way")
            dest = os.path.join(pt.make_temp_dir("backup"), "copy")
            acked0 = sum(p.acked_count() for p in producers)
            t0 = time.monotonic()
            r = pt.run_cli(["backup", dest, "--json"] + pt.cli_query_args(d1))
            took = time.monotonic() - t0
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            acked1 = sum(p.acked_count() for p in producers)
            # appends go on after the copy's snapshot was taken: wait for some more
            pt.wait_until(lambda: sum(p.acked_count() for p in producers) > acked1 + 400, 60,
                          "appends after the backup")
        finally:
            for p in producers:
                p.stop()
            for p in producers:
                p.join(60)
        for p in producers:
            self.assertEqual(p.errors, [], p.name)
        seq, last_hash = out["last_seq"], out["last_hash"]
        self.assertEqual(os.path.realpath(out["state_dir"]), os.path.realpath(d1.state_dir))
        self.assertGreater(seq, before, "the copy holds none of the appends under load")
        st1 = d1.status()
        self.assertGreater(st1["last_seq"], seq, "nothing was appended after the copy")
        self.assertEqual(sorted(os.listdir(dest)), ["data.mdb"])
        self.assertLessEqual(out["bytes"], out["source_bytes"])
        with d1.client("query") as q:
            rec = expect_ok(q.events(from_seq=seq, limit=1, raw=True))["events"][0]
        self.assertEqual(rec["hash"].hex(), last_hash)
        sys.stderr.write(
            "\nbackup under load: %d events (%d before the load), %.1f MiB copy of a %.1f MiB "
            "file, %.3f s by the CLI (%.3f s in the copy); %d events acknowledged to the "
            "producers meanwhile\n"
            % (seq, before, out["bytes"] / 2**20, out["source_bytes"] / 2**20, took,
               out["seconds"], acked1 - acked0))

        r = pt.run_cli(["verify", "--state-dir", dest])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok: %d records, chain intact, last hash %s" % (seq, last_hash), r.stdout)

        want_progress = self.progress(d1, as_of_seq=seq)["rows"]
        want_alerts = self.alerts(d1)
        self.stop_ok(d1)  # the restore runs while the source is stopped, as documented

        copy_back = os.path.join(pt.make_temp_dir("restored"), "state")
        os.mkdir(copy_back)
        shutil.copy(os.path.join(dest, "data.mdb"), copy_back)
        for state in (dest, copy_back):
            with self.subTest(state=state):
                d2 = self.start_daemon(state_dir=state,
                                       extra_args=["--manual-clock", "--tick", "0"])
                st2 = d2.status()
                self.assertEqual(st2["last_seq"], seq)
                self.assertEqual(st2["last_hash"].hex(), last_hash)
                self.assertEqual(self.progress(d2)["rows"], want_progress)
                zhang = [row for row in want_progress if row["scope"] == "zhang"]
                self.assertEqual(zhang[0]["actual"], seq - before + PRELOAD_BATCHES
                                 * PRELOAD_BATCH, "deals counted up to the backup's seq")
                self.assertEqual(self.alerts(d2), want_alerts)
                self.assertGreaterEqual(len(want_alerts[1]), 1)
                # and it goes on from there
                self.assertServing(d2, expect_last_seq=seq)
                self.stop_ok(d2)

    def test_backup_of_a_stopped_daemon_and_refusals(self):
        d = self.start_daemon()
        with d.client() as c:
            expect_ok(c.append(pt.sales(10)))
        self.stop_ok(d)
        base = pt.make_temp_dir("b")
        dest = os.path.join(base, "copy")
        r = pt.run_cli(["backup", dest, "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("10 events", r.stdout)
        # into a directory that is not empty: refused, nothing touched
        r = pt.run_cli(["backup", dest, "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 2)
        self.assertIn("is not empty", r.stderr)
        self.assertEqual(os.listdir(dest), ["data.mdb"])
        # not a state directory
        r = pt.run_cli(["backup", os.path.join(base, "c2"), "--state-dir", base])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a pacerd state directory", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(base, "c2")))
        # no pacerd to ask
        r = pt.run_cli(["backup", os.path.join(base, "c3"), "--query", d.query_ep,
                        "--timeout", "1"])
        self.assertEqual(r.returncode, 2)
        self.assertFalse(os.path.exists(os.path.join(base, "c3")))
        r = pt.run_cli(["backup"])
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    pt.main()
