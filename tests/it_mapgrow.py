"""Map growth: a daemon started with a 1 MiB LMDB map grows it on demand. ~20,000 events
later everything acknowledged is there, the chain holds, and it all survives a restart (with
the same small --map-size, which must not truncate or refuse the larger environment)."""

import pacertest as pt
from pacertest import expect_ok

TOTAL = 20000


class MapGrowth(pt.PacerTestCase):

    def test_grows_from_one_mebibyte(self):
        d = self.start_daemon(map_size=pt.MiB)
        self.assertLessEqual(d.status()["map_size"], 2 * pt.MiB)
        sent = []
        with d.client() as c:
            # Batches of growing size, so that a map-full can hit small and large commits.
            size = 10
            while len(sent) < TOTAL:
                batch = pt.sales(min(size, TOTAL - len(sent)), product_line="pl-" + "x" * 40)
                self.assertAppended(c.append(batch), len(batch), first_seq=len(sent) + 1)
                sent.extend(batch)
                size = min(size * 2, 4000)
        st = d.status()
        self.assertEqual(st["last_seq"], TOTAL)
        self.assertGreater(st["map_size"], pt.MiB)
        self.assertGreaterEqual(st["counters"]["map_resizes"], 1)
        self.check(d, sent)

        self.stop_ok(d)
        self.restart(d)
        self.assertEqual(d.status()["last_seq"], TOTAL)
        self.check(d, sent)
        with d.client() as c:
            more = pt.sales(500)
            self.assertAppended(c.append(more), 500, first_seq=TOTAL + 1)
            # The duplicate index was rebuilt from the grown store.
            again = expect_ok(c.append(sent[:1000]))
            self.assertEqual(again["duplicates"], 1000)
        r = pt.run_cli(["verify", "--state-dir", d.state_dir])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def check(self, d, sent):
        with d.client("query") as q:
            log = pt.read_log(q, raw=True)
        self.assertEqual(len(log), len(sent))
        pt.verify_chain(log)
        for rec, ev in zip(log, sent):
            if not pt.same_content(pt.msgpack.unpackb(rec["event"], raw=False), ev):
                self.fail("seq %d does not hold %s" % (rec["seq"], ev["id"]))


if __name__ == "__main__":
    pt.main()
