"""A full disk: appends are refused with a clear error, nothing is acknowledged that is not
durable, queries go on, and appends resume by themselves once space is freed.

Two ways: the test build's fault injection (pacerd-test, PACERD_TEST_DISK_FULL=PATH: every
transaction of appends fails as on a full disk while PATH exists), and a real small filesystem (a tmpfs of
32 MiB holding the state directory, filled up by the appends and a filler file, then freed by
deleting the filler). The tmpfs needs root and a kernel that lets this process mount; without
them that test is skipped with the reason."""

import os
import subprocess
import time
import urllib.request

import pacertest as pt
from pacertest import expect_ok


def metric(d, name):
    with urllib.request.urlopen(d.metrics_url, timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError("no %s in the metrics" % name)


class DiskFull(pt.PacerTestCase):

    def daemon(self, **kw):
        port = pt.free_ports(1)[0]
        d = self.start_daemon(extra_args=["--metrics", "127.0.0.1:%d" % port], **kw)
        d.metrics_url = "http://127.0.0.1:%d/metrics" % port
        return d

    def assert_refused_for_disk(self, reply):
        self.assertIs(reply["ok"], False, reply)
        self.assertEqual(reply["error"], "internal")
        self.assertIn("nothing in this request was appended", reply["message"])
        self.assertIn("is full", reply["message"])
        self.assertIn("appends resume once space is freed", reply["message"])

    def append_until_ok(self, d, batch, timeout=30):
        """Retries batch (as a producer would) until it is acknowledged; returns the reply."""
        deadline = time.monotonic() + timeout * pt.TIMEOUT_SCALE
        with d.client() as c:
            while True:
                reply = c.append(batch)
                if reply["ok"]:
                    return reply
                self.assert_refused_for_disk(reply)
                self.assertLess(time.monotonic(), deadline, "appends did not resume")
                time.sleep(0.1)

    def check_log(self, d, acked):
        """Every acknowledged event is in the log at its seq, the chain holds, and the log holds
        nothing else."""
        with d.client("query") as q:
            records = pt.read_log(q, raw=True)
            pt.verify_chain(records)
            decoded = pt.read_log(q)
        by_seq = {r["seq"]: r["event"]["id"] for r in decoded}
        for seq, ev in acked.items():
            self.assertEqual(by_seq.get(seq), ev, "acknowledged seq %d" % seq)
        self.assertEqual(len(by_seq), len(acked), "events in the log that were never acked")

    def test_injected_disk_full(self):
        flag = os.path.join(pt.make_temp_dir("flag"), "disk-full")
        d = self.daemon(env={"PACERD_TEST_DISK_FULL": flag}, test_build=True)
        acked = {}
        with d.client() as c:
            self.assertAppended(c.append(pt.sales(20)), 20)
        st = d.status()
        with d.client("query") as q:
            for r in pt.read_log(q):
                acked[r["seq"]] = r["event"]["id"]

        open(flag, "w").close()
        refused = pt.sales(30)
        with d.client() as c:
            t0 = time.monotonic()
            for _ in range(15):  # more than the 10 failures in a row that stop pacerd otherwise
                self.assert_refused_for_disk(c.append(refused))
            took = time.monotonic() - t0
        self.assertIn("disk full:", d.log_text())
        self.assertLess(took, 30)
        self.assertEqual(metric(d, "pacer_disk_full"), 1)
        self.assertEqual(d.status()["last_seq"], st["last_seq"])  # queries still answer
        self.assertTrue(d.running())

        os.unlink(flag)
        reply = self.append_until_ok(d, refused)
        self.assertEqual((reply["appended"], reply["duplicates"]), (30, 0))
        for r, ev in zip(reply["results"], refused):
            acked[r["seq"]] = ev["id"]
        self.assertEqual(metric(d, "pacer_disk_full"), 0)
        self.assertIn("disk space is back", d.log_text())
        self.check_log(d, acked)
        self.assertServing(d)

    def test_real_full_filesystem(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        mnt = os.path.join(pt.make_temp_dir("fs"), "mnt")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %s" % r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
        d = self.daemon(state_dir=os.path.join(mnt, "state"))
        # leave about 6 MiB free
        filler = os.path.join(mnt, "filler")
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - 6 * pt.MiB))
            f.flush()
            os.fsync(f.fileno())
        acked = {}
        failed = None
        with d.client() as c:
            for _ in range(200):  # each batch ~1 MiB of log; bounded however the fs behaves
                batch = pt.sales(3000)
                reply = c.append(batch)
                if not reply["ok"]:
                    failed = (batch, reply)
                    break
                for res, ev in zip(reply["results"], batch):
                    acked[res["seq"]] = ev["id"]
        self.assertIsNotNone(failed, "the filesystem never filled up")
        self.assert_refused_for_disk(failed[1])
        self.assertEqual(metric(d, "pacer_disk_full"), 1)
        self.assertEqual(d.status()["last_seq"], max(acked))
        self.check_log(d, acked)

        os.unlink(filler)
        reply = self.append_until_ok(d, failed[0])
        self.assertEqual((reply["appended"], reply["duplicates"]), (3000, 0))
        for res, ev in zip(reply["results"], failed[0]):
            acked[res["seq"]] = ev["id"]
        self.assertEqual(metric(d, "pacer_disk_full"), 0)
        self.check_log(d, acked)
        self.stop_ok(d)
        r = pt.run_cli(["verify", "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok: %d records" % len(acked), r.stdout)


if __name__ == "__main__":
    pt.main()
