"""The web dashboard in a real browser: Debian's headless Chromium, driven by playwright-core
(tests/browser/driver.js, installed with `npm ci` from the committed package-lock.json into the
build directory; it never downloads a browser), against a real pacerd with --dashboard,
--manual-clock and a small generated history (pacer-gen, cut at the first tick's time).

What it checks:
- the page loads with no script error, and its tree shows, for every progress row of the
  period and metric (target keys and roll-ups), the actual the query endpoint gives, in major
  units with the currency, and the status; the leaderboard's order is the query's; the active
  alerts and anomaly flags are exactly alerts_active's;
- an append moves the bar and the burn-up chart of the selected key to the new actual, and the
  roll-ups above it, with no reload (same page id, one navigation);
- a tick that raises alerts makes them appear (active list and "just now" feed);
- on a phone-sized screen nothing is wider than the screen;
- a request by a host name other than its own is refused (421: DNS rebinding).
Screenshots are kept in <build>/browser/ (dashboard-*.png).

Skipped (exit status 77, which ctest reports as skipped) only where Chromium is missing;
`make deps` installs it. A failing `npm ci` fails the test."""

import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

import pacertest as pt
from pacertest import expect_ok

CHROMIUM = os.environ.get("PACER_CHROMIUM", "/usr/bin/chromium")
HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_SRC = os.path.join(HERE, "browser")
BROWSER_DIR = os.path.join(pt.BIN_DIR, "browser")  # node_modules and the screenshots
GEN = os.path.join(pt.BIN_DIR, "pacer-gen")
SKIP = 77

H = 3600 * 1000
DAY = 24 * H
# Asia/Shanghai is UTC+8 all year.
T1 = 1773136800000  # 2026-03-10T18:00+08:00, a Tuesday: the page is loaded at this clock
T2 = 1774605600000  # 2026-03-27T18:00+08:00, a Friday: 17 days without a sale for web.rep
REP = "web.rep"
PERIOD = "2026-03"
TARGET = 100000000  # 1,000,000.00 CNY


def money(minor, currency="CNY"):
    """As the page shows it (and events/money.c): major units, grouped, 2 decimals."""
    sign = "-" if minor < 0 else ""
    m = abs(minor)
    return "%s%s.%02d %s" % (sign, format(m // 100, ","), m % 100, currency)


class Browser:
    """node tests/browser/driver.js: one JSON command a line, one JSON answer a line."""

    def __init__(self, workdir):
        self.log = open(os.path.join(workdir, "driver.log"), "wb")
        self.proc = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "driver.js")],
                                     cwd=BROWSER_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, bufsize=1, preexec_fn=pt._die_with_parent)
        self.lines = queue.Queue()
        self.n = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def __call__(self, cmd, timeout=60, **kw):
        self.n += 1
        kw.update(cmd=cmd, id=self.n)
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        try:
            line = self.lines.get(timeout=timeout * pt.TIMEOUT_SCALE)
        except queue.Empty:
            raise AssertionError("browser driver: no answer to %s within %d s" % (cmd, timeout))
        if line is None:
            raise AssertionError("browser driver exited (see driver.log)")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise AssertionError("browser %s: %s" % (cmd, reply.get("error")))
        return reply

    def js(self, expr):
        return self("eval", js=expr)["value"]

    def wait(self, expr, what, timeout=20):
        try:
            return self("wait", js=expr, ms=int(timeout * 1000 * pt.TIMEOUT_SCALE),
                        timeout=timeout + 30)["value"]
        except AssertionError as e:
            raise AssertionError("waiting for %s: %s" % (what, e))

    def close(self):
        try:
            self("close", timeout=30)
        finally:
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.log.close()


def npm_ci():
    """tests/browser/ installed into <build>/browser/ with `npm ci` (the committed lock),
    again only when the lock changed."""
    os.makedirs(BROWSER_DIR, exist_ok=True)
    for f in ("package.json", "package-lock.json", "driver.js"):
        shutil.copy(os.path.join(BROWSER_SRC, f), os.path.join(BROWSER_DIR, f))
    with open(os.path.join(BROWSER_SRC, "package-lock.json"), "rb") as f:
        lock = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(BROWSER_DIR, "node_modules", ".pacer-lock-sha256")
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == lock:
                return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=BROWSER_DIR, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError("npm ci in %s failed:\n%s%s" % (BROWSER_DIR, r.stdout, r.stderr))
    with open(stamp, "w") as f:
        f.write(lock)


def history(workdir):
    """pacer-gen's quarter (2 regions x 2 teams x ~3 reps), cut at T1, and web.rep: a rep of the
    first team with a March target of 1,000,000.00 CNY and 330,000.00 CNY sold on 3 March: on
    pace at T1 (1.07; 1.89 after the test's sale of 250,000.00), behind at T2 (0.65)."""
    out = os.path.join(workdir, "history.jsonl")
    r = subprocess.run([GEN, "--seed", "5", "--regions", "2", "--teams", "2", "--reps", "3",
                        "--out", out], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    events, team = [], None
    with open(out) as f:
        for line in f:
            ev = json.loads(line)
            if ev["occurred_at"] > T1:
                break
            if team is None and ev["type"] == "node_defined" and ev["kind"] == "team":
                team = ev["node"]
            events.append(ev)
    start = events[0]["occurred_at"]
    events += [
        pt.node_defined(node=REP, kind="rep", name="Web Rep", parent=team, owner=REP,
                        occurred_at=start),
        pt.target_set(scope=REP, metric="revenue", period=PERIOD, floor=80000000,
                      target=TARGET, stretch=120000000, currency="CNY", author="test",
                      reason="dashboard test", occurred_at=T1 - 9 * DAY),
        pt.sale_closed(rep=REP, amount=33000000, occurred_at=T1 - 7 * DAY, product_line=None,
                       margin=None),
    ]
    return events


class Dashboard(pt.PacerTestCase):

    def setUp(self):
        self.work = pt.make_temp_dir("dash")
        npm_ci()
        port = pt.free_ports(1)[0]
        self.d = self.start_daemon(extra_args=["--manual-clock", "--tick", "0",
                                               "--dashboard", str(port)])
        self.url = "http://127.0.0.1:%d/" % port
        self.q = self.d.client("query")
        self.a = self.d.client("append")
        self.addCleanup(self.q.close)
        self.addCleanup(self.a.close)
        evs = history(self.work)
        for i in range(0, len(evs), 5000):
            r = expect_ok(self.a.append(evs[i:i + 5000]))
            self.assertEqual(r["rejected"], 0, [x for x in r["results"] if "error" in x][:3])
        expect_ok(self.a.call("tick", now=T1))

    def launch(self):
        self.browser = Browser(self.work)
        self.addCleanup(self.browser.close)
        self.browser("launch", chromium=CHROMIUM, width=1280, height=1000,
                     userDataDir=os.path.join(self.work, "chromium-profile"))
        return self.browser

    def progress(self):
        rows = expect_ok(self.q.call("progress", period=PERIOD, metric="revenue",
                                     now=self.clock))["rows"]
        return [r for r in rows if r["product_line"] is None]

    def page_rows(self):
        return {r["path"]: r for r in self.browser.js("""
            [...document.querySelectorAll('#tree .node')].map(n => ({
                path: n.dataset.path, metric: n.dataset.metric, actual: +n.dataset.actual,
                status: n.dataset.status, text: n.querySelector('.actual').textContent,
                fill: n.querySelector('.fill').style.width }))""")}

    def check_tree(self, rows):
        page = self.page_rows()
        self.assertEqual(sorted(page), sorted(r["path"] for r in rows), "the tree's nodes")
        for r in rows:
            p = page[r["path"]]
            self.assertEqual(p["metric"], "revenue")
            self.assertEqual(p["actual"], r["actual"], r["path"])
            self.assertEqual(p["text"], money(r["actual"]), r["path"])
            self.assertEqual(p["status"], r["status"] or "", r["path"])

    def active_on_page(self):
        return self.browser.js("""({
            lag: [...document.querySelectorAll('#alerts li')].map(l => +l.dataset.aseq),
            anomalies: [...document.querySelectorAll('#anomalies li')].map(l => +l.dataset.aseq),
            feed: [...document.querySelectorAll('#feed li')].map(l => l.dataset.key) })""")

    def check_alerts(self):
        active = expect_ok(self.q.call("alerts_active"))["alerts"]
        page = self.active_on_page()
        self.assertEqual(sorted(page["lag"]), sorted(a["aseq"] for a in active
                                                     if not a["rule"].startswith("anomaly/")))
        self.assertEqual(sorted(page["anomalies"]), sorted(a["aseq"] for a in active
                                                           if a["rule"].startswith("anomaly/")))
        return active

    def screenshot(self, name):
        path = os.path.join(BROWSER_DIR, "dashboard-%s.png" % name)
        self.browser("screenshot", path=path, fullPage=True)
        self.assertGreater(os.path.getsize(path), 10000)
        sys.stderr.write("screenshot: %s\n" % path)

    def test_live_dashboard(self):
        b = self.launch()
        self.clock = T1
        rows = self.progress()
        rep = next(r for r in rows if r["scope"] == REP)
        self.assertEqual((rep["actual"], rep["status"]), (33000000, "on_track"))

        # loads, shows the query endpoint's numbers
        b("open", url=self.url + "#period=%s&metric=revenue&node=%s" % (PERIOD, rep["path"]))
        b.wait("document.getElementById('live').classList.contains('on')", "the event stream")
        b.wait("document.querySelector('#chart svg[data-scope=\"%s\"]')" % REP, "the chart")
        b.wait("window.pacerDashboard.loads >= 1 && "
               "document.querySelectorAll('#tree .node').length == %d" % len(rows), "the tree")
        page_id = b.js("window.pacerDashboard.pageId")
        self.check_tree(rows)
        self.assertEqual(b.js("document.getElementById('clock').textContent"),
                         "as of 2026-03-10 18:00 GMT+8 (Asia/Shanghai)")
        board = expect_ok(self.q.call("leaderboard", level="rep", period=PERIOD,
                                      metric="revenue", limit=50, now=T1))["rows"]
        self.assertEqual(b.js("[...document.querySelectorAll('#board tbody tr')]"
                              ".map(t => t.dataset.path)"), [r["path"] for r in board])
        active = self.check_alerts()
        self.assertTrue(any(a["rule"].startswith("anomaly/") for a in active),
                        "the generated history flags anomalies")
        chart = b.js("(() => { const s = document.querySelector('#chart svg');"
                     " return {last: +s.dataset.actualLast, points: +s.dataset.points,"
                     " line: s.querySelector('.actual').getAttribute('points'),"
                     " forecast: !!s.querySelector('.forecast'), tiers: s.querySelectorAll('.tier').length,"
                     " pace: !!s.querySelector('.pace')}; })()")
        self.assertEqual(chart["last"], 33000000)
        self.assertEqual((chart["forecast"], chart["tiers"], chart["pace"]), (True, 3, True))
        self.assertEqual(chart["points"], 11)  # the start, then 1 to 10 March
        self.screenshot("loaded")

        # an append moves the bar and the chart, with no reload
        fill_before = self.page_rows()[rep["path"]]["fill"]
        expect_ok(self.a.append([pt.sale_closed(rep=REP, amount=25000000, occurred_at=T1 - H,
                                                product_line=None, margin=None)]))
        want = 58000000
        b.wait("document.querySelector('#tree .node[data-path=\"%s\"]').dataset.actual == %d"
               % (rep["path"], want), "the bar to move", timeout=15)
        b.wait("+document.querySelector('#chart svg').dataset.actualLast == %d" % want,
               "the chart to move", timeout=15)
        after = self.page_rows()[rep["path"]]
        self.assertEqual(after["text"], money(want))
        self.assertNotEqual(after["fill"], fill_before)
        self.assertNotEqual(b.js("document.querySelector('#chart .actual').getAttribute('points')"),
                            chart["line"])
        # the roll-ups above follow (a read after the push), to the query endpoint's figures
        rows = self.progress()
        b.wait("(() => { const want = %s; return Object.entries(want).every(([p, v]) =>"
               " +document.querySelector('#tree .node[data-path=\"' + p + '\"]').dataset.actual == v); })()"
               % json.dumps({r["path"]: r["actual"] for r in rows}), "the roll-ups", timeout=15)
        self.check_tree(rows)
        self.assertEqual(b.js("window.pacerDashboard.pageId"), page_id, "the page was reloaded")
        self.assertGreaterEqual(b.js("window.pacerDashboard.pushes"), 1)

        # a tick raises alerts: they appear
        tick = expect_ok(self.a.call("tick", now=T2))
        self.assertGreater(tick["raised"], 0)
        self.clock = T2
        key = "behind/%s/revenue/%s" % (REP, PERIOD)
        b.wait("[...document.querySelectorAll('#alerts li')].some(l => l.dataset.key == '%s')"
               % key, "the behind alert in the active list", timeout=15)
        b.wait("[...document.querySelectorAll('#feed li')].some(l => l.dataset.key == '%s')"
               % key, "the behind alert in the feed", timeout=15)
        last = expect_ok(self.q.call("alerts", **{"from": 1, "limit": 10000}))["last_aseq"]
        b.wait("document.querySelector('#feed li') && "
               "Math.max(...[...document.querySelectorAll('#feed li')].map(l => +l.dataset.aseq))"
               " == %d" % last, "the newest alert in the feed", timeout=15)
        b.wait("document.getElementById('clock').textContent.startsWith('as of 2026-03-27 18:00')",
               "the clock to follow the tick", timeout=15)
        time.sleep(0.5)  # let a read in flight finish, then compare
        b.wait("!document.querySelector('#error:not([hidden])')", "no error shown")
        self.check_alerts()
        rows = self.progress()
        b.wait("document.querySelector('#tree .node[data-path=\"%s\"]').dataset.status == 'behind'"
               % rep["path"], "web.rep behind", timeout=15)
        self.check_tree(rows)
        self.screenshot("alerts")

        # a phone-sized screen: one column, nothing wider than the screen
        b("viewport", width=390, height=844)
        b.wait("document.documentElement.scrollWidth <= window.innerWidth + 1",
               "no horizontal scrolling at 390 px")
        self.screenshot("phone")

        report = b("report")
        self.assertEqual(report["errors"], [], "errors in the page")
        self.assertEqual(report["navigations"], 1, "the page navigated again")
        self.assertEqual(b.js("window.pacerDashboard.pageId"), page_id)

    def test_api_errors_are_json(self):
        """Bad arguments are answered as the query endpoint would, as JSON with HTTP 400."""
        import urllib.error
        import urllib.request
        for path, code, error in [("api/progress?period=2026-Q9", 400, "invalid_value"),
                                  ("api/progress?period=2026-Q1&now=soon", 400, "bad_request"),
                                  ("api/burnup?scope=nobody&metric=revenue&period=2026-03", 404,
                                   "not_found"),
                                  ("api/nothing", 404, None)]:
            try:
                urllib.request.urlopen(self.url + path, timeout=30)
                self.fail("%s answered 200" % path)
            except urllib.error.HTTPError as e:
                self.assertEqual(e.code, code, path)
                if error:
                    self.assertEqual(e.headers["Content-Type"], "application/json; charset=utf-8")
                    self.assertEqual(json.loads(e.read())["error"], error, path)

    def test_stop_with_streams_open(self):
        """pacerd stops cleanly (exit 0) while event streams are open and idle, and they end."""
        import socket
        port = int(self.url.rsplit(":", 1)[1].strip("/"))
        socks = []
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while b"retry: 2000" not in head:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "stream closed early")
                head += chunk
            self.assertIn(b"text/event-stream", head)
            socks.append(s)
        time.sleep(1.5)  # subscribed, heartbeats flowing, then idle (suspended) between them
        self.stop_ok(self.d)
        for s in socks:
            rest = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                rest += chunk
            self.assertIn(b"event: heartbeat", rest)
            s.close()

    def test_host_names_other_than_its_own_are_refused(self):
        """DNS rebinding: a page of another site whose name resolves to 127.0.0.1 gets 421."""
        import http.client
        port = int(self.url.rsplit(":", 1)[1].strip("/"))
        for host, code in [("evil.example:%d" % port, 421), ("evil.example", 421),
                           ("localhost:%d" % port, 200), ("127.0.0.1:%d" % port, 200),
                           ("LOCALHOST", 200)]:
            for path in ("/", "/api/status", "/api/progress?period=2026-03"):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.putrequest("GET", path, skip_host=True)
                c.putheader("Host", host)
                c.endheaders()
                r = c.getresponse()
                r.read()
                c.close()
                self.assertEqual(r.status, code, "%s %s" % (host, path))


def main():
    if not os.access(CHROMIUM, os.X_OK):
        sys.stderr.write("SKIPPED: %s is missing, so the dashboard's browser test cannot run; "
                         "`make deps` installs Debian's chromium\n" % CHROMIUM)
        sys.exit(SKIP)
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            sys.stderr.write("FAILED: %s is missing (`make deps` installs nodejs and npm)\n"
                             % tool)
            sys.exit(1)
    pt.main()


if __name__ == "__main__":
    main()
