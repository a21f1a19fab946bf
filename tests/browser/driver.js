/* A remote control for Debian's headless Chromium, for tests/it_dashboard.py.

   Reads one JSON command a line on stdin, answers one JSON line on stdout
   ({"id", "ok", ...} or {"id", "ok": false, "error"}). The Python test decides
   what to check; this only drives the page. playwright-core never downloads a
   browser: it is pointed at /usr/bin/chromium (the "chromium" command's path).

   Commands: launch {chromium, userDataDir, width, height}, open {url},
   eval {js}, wait {js, ms}, click {selector}, viewport {width, height},
   screenshot {path}, report (page errors, document loads), close. */
"use strict";

const readline = require("readline");
const { chromium } = require("playwright-core");

let context = null;
let page = null;
const errors = [];
let navigations = 0;

const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

async function handle(cmd) {
  switch (cmd.cmd) {
    case "launch": {
      context = await chromium.launchPersistentContext(cmd.userDataDir, {
        executablePath: cmd.chromium,
        headless: true,
        chromiumSandbox: false,
        args: FLAGS,
        viewport: { width: cmd.width, height: cmd.height },
        timeout: 60000,
      });
      page = context.pages()[0] || (await context.newPage());
      page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
      page.on("pageerror", (e) => errors.push("pageerror: " + e.message));
      page.on("load", () => navigations++); // document loads; hash changes do not count
      return {};
    }
    case "open":
      await page.goto(cmd.url, { waitUntil: "load", timeout: 30000 });
      return {};
    case "eval":
      return { value: await page.evaluate(cmd.js) };
    case "wait": {
      // polled from here: the page's Content-Security-Policy forbids eval, so
      // waitForFunction's in-page predicate cannot run (and the test keeps it)
      const deadline = Date.now() + (cmd.ms || 20000);
      for (;;) {
        const value = await page.evaluate(cmd.js);
        if (value) return { value };
        if (Date.now() > deadline) throw new Error("timed out: " + cmd.js);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    case "click":
      await page.click(cmd.selector, { timeout: 10000 });
      return {};
    case "viewport":
      await page.setViewportSize({ width: cmd.width, height: cmd.height });
      return {};
    case "screenshot":
      await page.screenshot({ path: cmd.path, fullPage: !!cmd.fullPage });
      return {};
    case "report":
      return { errors, navigations };
    case "close":
      if (context) await context.close();
      context = null;
      return {};
    default:
      throw new Error("unknown command " + cmd.cmd);
  }
}

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on("line", (line) => {
  queue = queue.then(async () => {
    let cmd = {};
    try {
      cmd = JSON.parse(line);
      const out = await handle(cmd);
      process.stdout.write(JSON.stringify(Object.assign({ id: cmd.id, ok: true }, out)) + "\n");
    } catch (e) {
      process.stdout.write(JSON.stringify({ id: cmd.id, ok: false, error: String(e && e.stack || e) }) + "\n");
    }
  });
});
rl.on("close", () => {
  queue.then(async () => {
    if (context) await context.close().catch(() => {});
    process.exit(0);
  });
});
