"""pacer top: the live terminal view, driven in tmux against a real pacerd.

tmux runs `pacer top` in a detached session of its own (a private server socket in the test's
temporary directory, so no one's tmux is touched); the test types keys with send-keys and reads
the screen with capture-pane. What is checked:

- the scope's line and each child's line show the numbers `progress` gives (money in major
  units), children worst pace first;
- Enter drills into the selected child, Backspace comes back up with that child selected, a rep
  cannot be drilled into;
- an appended sale moves its rep's bar and figures, with no key pressed (progress/ updates);
- an alert raised by a tick appears in the list below;
- q quits.

Skipped, saying so, where tmux is not installed (`make deps` installs it).
"""

import os
import shutil
import subprocess
import time
import unittest
from datetime import datetime, timedelta, timezone

import pacertest as pt
from pacertest import expect_ok

TMUX = shutil.which("tmux")
SHANGHAI = timezone(timedelta(hours=8))
NOW_TEXT = "2026-11-20T18:00+08:00"


def local(y, mo, d, h=0, mi=0):
    return int(datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).timestamp() * 1000)


NOW = local(2026, 11, 20, 18)


def node(nid, kind, parent, name):
    e = {"type": "node_defined", "id": "org:" + nid, "occurred_at": local(2026, 10, 1),
         "node": nid, "kind": kind, "name": name, "owner": nid}
    if parent:
        e["parent"] = parent
    return e


def target(scope, yuan):
    return {"type": "target_set", "id": "t:" + scope, "occurred_at": local(2026, 10, 25),
            "scope": scope, "metric": "revenue", "period": "2026-11", "target": yuan * 100,
            "floor": yuan * 90, "stretch": yuan * 120, "currency": "CNY", "author": "ceo",
            "reason": "plan"}


def sale(sid, rep, yuan, day):
    return {"type": "sale_closed", "id": "crm:" + sid, "occurred_at": local(2026, 11, day, 10),
            "order": sid, "rep": rep, "amount": yuan * 100, "currency": "CNY"}


def money(minor):
    return "{:,}.{:02d}".format(minor // 100, minor % 100)


@unittest.skipUnless(TMUX, "tmux is not installed (make deps installs it): pacer top untested")
class Top(pt.PacerTestCase):

    def setUp(self):
        self.d = self.start_daemon(extra_args=("--manual-clock", "--tick", "0"))
        with self.d.client() as c:
            for stage in [[node("acme", "company", None, "ACME")],
                          [node("east", "region", "acme", "华东 East"),
                           node("west", "region", "acme", "华西 West")],
                          [node("zhang", "rep", "east", "张三"), node("wang", "rep", "east", "王五"),
                           node("chen", "rep", "west", "陈七")],
                          [target("acme", 3000000), target("east", 2000000),
                           target("west", 1000000), target("zhang", 1200000),
                           target("wang", 800000), target("chen", 1000000)],
                          [sale("s1", "zhang", 600000, 5), sale("s2", "wang", 100000, 6),
                           sale("s3", "chen", 450000, 9)]]:
                reply = expect_ok(c.append(stage))
                self.assertEqual(reply["rejected"], 0, reply)
            expect_ok(c.call("tick", now=local(2026, 11, 2, 18)))
        tmp = pt.make_temp_dir("top")
        self.sock = os.path.join(tmp, "tmux.sock")
        self.addCleanup(self.tmux, "kill-server", check=False)
        command = " ".join([pt.PACER, "top", "--period", "2026-11", "--now", NOW_TEXT,
                            "--query", self.d.query_ep, "--publish", self.d.publish_ep])
        # After q the shell prints the exit status and waits, so the pane can be read.
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", "160", "-y", "40",
                  "env LANG=C.UTF-8 TERM=screen %s; echo exited $?; sleep 60" % command)

    def tmux(self, *args, check=True):
        return subprocess.run([TMUX, "-S", self.sock] + list(args), capture_output=True,
                              text=True, check=check, timeout=30,
                              preexec_fn=pt._die_with_parent).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "top")

    def wait_for(self, predicate, what, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                self.fail("timed out waiting for %s; the screen:\n%s" % (what, text))
            time.sleep(0.1)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "top", *keys)

    def progress(self, scope):
        with self.d.client("query") as q:
            rows = expect_ok(q.call("progress", period="2026-11", scope=scope,
                                    metric="revenue", now=NOW))["rows"]
        return {r["scope"]: r for r in rows}

    def line_of(self, text, word):
        found = [l for l in text.splitlines() if word in l]
        self.assertTrue(found, "%s is not on the screen:\n%s" % (word, text))
        return found[0]

    def assertShows(self, text, row):
        """The child's line holds progress's actual, target, attainment, pace and status."""
        line = self.line_of(text, " " + row["scope"] + " ")
        pct = "%d%%" % int(row["attainment"] * 100 + 0.5)
        for want in (money(row["actual"]), money(row["target"]), pct,
                     "%.2f" % row["pace_ratio"], row["status"]):
            self.assertIn(want, line, row["scope"])

    def test_view_drill_updates_alerts_quit(self):
        rows = self.progress("acme")
        text = self.wait_for(lambda t: "pacer top  acme  ACME" in t and " west " in t,
                             "the company's view")
        self.assertIn("actual %s of %s CNY" % (money(rows["acme"]["actual"]),
                                              money(rows["acme"]["target"])), text)
        self.assertShows(text, rows["east"])
        self.assertShows(text, rows["west"])
        # worst pace first: east (35%) above west (45%)
        self.assertLess(text.index(" east "), text.index(" west "))
        self.assertIn(">华东 East east", text)

        # Enter: east and its reps, wang (12.5%) above zhang (50%)
        self.keys("Enter")
        text = self.wait_for(lambda t: "pacer top  acme/east" in t, "east's view")
        east = self.progress("east")
        self.assertShows(text, east["wang"])
        self.assertShows(text, east["zhang"])
        self.assertLess(text.index(" wang "), text.index(" zhang "))
        self.assertNotIn(" chen ", text)
        self.keys("Enter")  # wang is a rep
        self.wait_for(lambda t: "acme/east/wang is a rep" in t, "the rep refusal")

        # a sale moves wang's bar and figures, with no key pressed
        before = self.line_of(self.screen(), " wang ")
        with self.d.client() as c:
            self.assertEqual(expect_ok(c.append([sale("s4", "wang", 500000, 19)]))["appended"],
                             1)
        text = self.wait_for(lambda t: money(60000000) in self.line_of(t, " wang "),
                             "wang's new actual")
        after = self.line_of(text, " wang ")
        self.assertGreater(after.count("\u2588"), before.count("\u2588"), (before, after))
        self.assertShows(text, self.progress("east")["wang"])

        # an alert raised by a tick shows below
        with self.d.client() as c:
            raised = expect_ok(c.call("tick", now=NOW))["raised"]
        self.assertGreater(raised, 0)
        text = self.wait_for(lambda t: "acme/east/zhang revenue 2026-11:" in t,
                             "zhang's alert")
        self.assertIn("ALERTS under acme/east", text)
        self.assertNotIn("acme/west/chen revenue", text.split("ALERTS under")[1])

        # Backspace: the company again, east still selected
        self.keys("BSpace")
        text = self.wait_for(lambda t: "pacer top  acme  ACME" in t, "the company again")
        self.assertIn(">华东 East east", text)
        self.assertIn("acme/west/chen revenue 2026-11:", text.split("ALERTS under")[1])

        self.keys("q")
        self.wait_for(lambda t: "exited 0" in t, "pacer top to quit")

    def test_needs_a_terminal(self):
        r = pt.run_cli(["top", "--query", self.d.query_ep])
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs a terminal", r.stderr)
        r = pt.run_cli(["top", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("Backspace", r.stdout)


if __name__ == "__main__":
    pt.main()
