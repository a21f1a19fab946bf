"""A damaged snapshot is refused and pacerd folds the log instead (daemon/projector.c, build).
The damage is one the loader finds only by checking values against their bounds
(projections/snapshot.c, "Values against their bounds"): the stored snapshot's revenue volume
set to 0 while its rows and its open orders hold revenue, every length and index left intact.
pacerd logs the refusal with the loader's reason, folds the whole log, and answers as it did
before the restart.

The snapshot is edited in the LMDB environment with mdb_dump and mdb_load (lmdb-utils), while
pacerd is stopped. Exit status 77 (skipped) without them."""

import shutil
import subprocess
import sys
import unittest

import pacertest as pt
from pacertest import expect_ok

MAGIC = b"pacer-projection"
# ["pacer-projection", version, bin32 body]: 1 + 1 + 16 + 1 + 5 bytes of header, then the body's
# seq, skipped and day_base (8 bytes each), then the volumes by base, revenue first
REVENUE_VOLUME = 24 + 24


def zero_revenue_volume(state_dir):
    """Sets the revenue volume of every stored snapshot to 0; returns how many it changed."""
    dump = subprocess.run(["mdb_dump", "-s", "snapchunk", state_dir], capture_output=True,
                          text=True, check=True).stdout.splitlines()
    end = dump.index("HEADER=END")
    # mdb_load of Debian 12 does not know the db_pagesize line mdb_dump writes
    out = [line for line in dump[:end + 1] if not line.startswith("db_pagesize=")]
    changed = 0
    k = end + 1
    while dump[k] != "DATA=END":
        key, value = dump[k], bytearray.fromhex(dump[k + 1].strip())
        if value[2:2 + len(MAGIC)] == MAGIC:  # a snapshot's first chunk
            assert int.from_bytes(value[REVENUE_VOLUME:REVENUE_VOLUME + 8], "little") > 0
            value[REVENUE_VOLUME:REVENUE_VOLUME + 8] = bytes(8)
            changed += 1
        out += [key, " " + value.hex()]
        k += 2
    out += dump[k:]
    subprocess.run(["mdb_load", "-s", "snapchunk", state_dir], input="\n".join(out) + "\n",
                   text=True, check=True, capture_output=True)
    return changed


class SnapshotRefused(pt.PacerTestCase):

    def answers(self, d):
        with d.client("query") as c:
            now = pt.T0 + 86400000
            return [expect_ok(c.call("progress", period="2025-12", now=now)),
                    expect_ok(c.call("leaderboard", period="2025-12", metric="revenue",
                                     level="rep", now=now))]

    def test_a_snapshot_beyond_its_volume_is_refused_and_the_log_refolded(self):
        d = self.start_daemon()
        with d.client() as c:
            expect_ok(c.append(pt.one_of_each()))
            pt.define_zhang_deals_target(c)
            last = expect_ok(c.append([pt.sale_closed() for _ in range(20)]))["last_seq"]
        before = self.answers(d)
        self.stop_ok(d)  # writes a snapshot at the last seq
        self.assertEqual(zero_revenue_volume(d.state_dir), 1)

        self.restart(d)
        log = d.log_text()
        self.assertRegex(log, r"ignoring the snapshot at seq %d \(snapshot: damaged: [^)]*"
                              r"revenue[^)]*past 0 \(its volume\)\): folding the log from the "
                              r"start" % last)
        self.assertIn("projection at seq %d: snapshot 0 + %d events folded" % (last, last), log)
        self.assertEqual(self.answers(d), before)
        self.assertServing(d, expect_last_seq=last)


if __name__ == "__main__":
    if not (shutil.which("mdb_dump") and shutil.which("mdb_load")):
        print("skipped: mdb_dump and mdb_load are missing (lmdb-utils)", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
