"""Map growth: a daemon started with a 1 MiB LMDB map grows it on demand. ~20,000 events
later everything acknowledged is there, the chain holds, and it all survives a restart (with
the same small --map-size, which must not truncate or refuse the larger environment). Both
ways of growing: ahead of a group (the default --map-headroom), and, with --map-headroom 0,
when a transaction finds the map full, which aborts the transaction, grows the map and redoes
it (daemon/commit)."""

import pacertest as pt
from pacertest import expect_ok

TOTAL = 20000


class MapGrowth(pt.PacerTestCase):

    def test_grows_ahead_of_groups(self):
        d = self.grow(())
        self.assertIn("LMDB map nearly full: grew it", d.log_text())
        self.assertNotIn("LMDB map full: grew it", d.log_text())

    def test_grows_when_a_group_finds_the_map_full(self):
        d = self.grow(("--map-headroom", "0"))
        self.assertIn("LMDB map full: grew it", d.log_text())
        self.assertNotIn("LMDB map nearly full", d.log_text())

    def grow(self, extra_args):
        d = self.start_daemon(map_size=pt.MiB, extra_args=extra_args)
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
        # Every sale was folded into the projection exactly once, also those of a transaction
        # that was aborted and redone. (The sales went to rep "zhang" before it was defined.)
        with d.client() as c:
            pt.define_zhang_deals_target(c)
        self.assertEqual(pt.deals_of_zhang(d), TOTAL + 500)
        return d

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
