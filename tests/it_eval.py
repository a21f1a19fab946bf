"""pacer-eval through a real pacerd: the anomaly alerts a fresh pacerd raises for a generated
history score exactly as the detectors folded in-process do (the same flags for the same log,
whichever path), and the default generated month reaches the issue's goals."""

import os
import subprocess

import pacertest as pt

BIN = os.path.dirname(pt.PACERD)


def run(*args):
    return subprocess.run([os.path.join(BIN, args[0])] + list(args[1:]), capture_output=True,
                          text=True, timeout=300, check=True).stdout


def table(out):
    """The per-detector rows of pacer-eval's table: name -> the numbers as strings."""
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 11 and f[0] != "DETECTOR":
            rows[f[0]] = f[1:]
    return rows


class Eval(pt.PacerTestCase):

    def test_online_equals_offline_and_meets_the_goals(self):
        d = pt.make_temp_dir("eval")
        h, l = os.path.join(d, "h.jsonl"), os.path.join(d, "l.jsonl")
        run("pacer-gen", "--seed", "3", "--months", "2", "--labels", l, "--out", h)
        online = table(run("pacer-eval", "--pacerd", "--events", h, "--labels", l))
        offline = table(run("pacer-eval", "--events", h, "--labels", l))
        self.assertIn("all", online)
        self.assertEqual(online, offline)
        labels, found, flags, tp = (int(x) for x in online["all"][:4])
        self.assertGreater(labels, 50)
        self.assertGreaterEqual(found / labels, 0.9)
        self.assertGreaterEqual(tp / flags, 0.85)


if __name__ == "__main__":
    pt.main()
