/* pacer dashboard: reads pacerd's /api/ (the query operations as JSON) and
   listens to /api/events (server-sent events from the publish stream).

   State is read whole on load and whenever the event stream (re)connects;
   after that, pushed progress rows move the bars and the chart at once, and
   a full read follows within a couple of seconds (roll-ups, ranks and
   alerts are not pushed row by row). A heartbeat that shows a newer log
   seq or alert aseq than the page has read also triggers a read, so a
   dropped event is repaired, never silently kept.

   Everything shown is written with textContent or SVG attributes, never
   as HTML, so names and summaries cannot inject markup. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";

  const state = {
    zone: "UTC",
    now: Date.now(),
    manualClock: false,
    period: null,
    metric: null,
    level: "rep",
    selected: null,      // the selected node's path
    rows: [],            // progress rows of the period (every metric)
    seq: 0,              // the log seq the rows reflect
    aseq: 0,             // the newest aseq the alerts reflect
    active: [],          // alerts_active records
    board: [],
    burnup: null,
    currency: null,      // the view's currency, for roll-ups without one
    connected: false,
    lastEvent: 0,
  };
  // read by the browser test: how many full reads and pushed updates so far
  window.pacerDashboard = { pageId: Math.random().toString(36).slice(2), loads: 0, pushes: 0, state };

  // ---------------------------------------------------------------------
  // Formatting: money in major units with its currency, times in pacerd's zone

  const MONEY = new Set(["revenue", "margin", "collections"]);
  const BASIS_POINTS = new Set(["collection_rate", "quote_conversion"]);

  function group(intString) {
    return intString.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // minor units -> "1,234.56 CNY" (digits from the currency: pacerd's table)
  function money(minor, currency, digits) {
    if (minor === null || minor === undefined) return "–";
    const d = digits === undefined || digits === null ? 2 : digits;
    const neg = minor < 0;
    const mag = Math.abs(Math.round(minor)).toString().padStart(d + 1, "0");
    const whole = mag.slice(0, mag.length - d) || "0";
    const frac = d ? "." + mag.slice(mag.length - d) : "";
    return (neg ? "-" : "") + group(whole) + frac + (currency ? " " + currency : "");
  }

  function currencyOf(row) {
    if (row && row.currency) return [row.currency, row.currency_digits];
    if (state.currency) return state.currency;
    return [null, 2];
  }

  // a value of row's metric, as people read it
  function fmt(value, row, metric) {
    if (value === null || value === undefined) return "–";
    const m = metric || (row && row.metric) || "";
    if (MONEY.has(m)) {
      const [cur, digits] = currencyOf(row);
      return money(value, cur, digits);
    }
    if (BASIS_POINTS.has(m)) return (value / 100).toFixed(2) + "%";
    if (m.startsWith("kpi:")) return (value / 1000).toLocaleString("en-US", { maximumFractionDigits: 3 });
    return group(Math.round(value).toString());
  }

  function pct(ratio) {
    if (ratio === null || ratio === undefined) return "–";
    return Math.round(ratio * 100) + "%";
  }

  let timeFormat = null;
  function when(ms) {
    if (!ms) return "before the first tick"; // a --manual-clock pacerd's alert clock starts at 0
    if (!timeFormat) {
      timeFormat = new Intl.DateTimeFormat("en-CA", {
        timeZone: state.zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "shortOffset",
      });
    }
    const p = {};
    for (const part of timeFormat.formatToParts(new Date(ms))) p[part.type] = part.value;
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${p.timeZoneName || ""}`.trim();
  }

  function localParts(ms) {
    const f = new Intl.DateTimeFormat("en-CA", { timeZone: state.zone, year: "numeric", month: "2-digit" });
    const p = {};
    for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
    return { y: +p.year, m: +p.month };
  }

  const STATUS_TEXT = {
    on_track: "on track", at_risk: "at risk", behind: "behind",
    achieved: "achieved", stretch_achieved: "stretch achieved",
  };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showError(msg) {
    const e = $("error");
    e.hidden = !msg;
    e.textContent = msg || "";
  }

  // ---------------------------------------------------------------------
  // Reading the API

  async function api(path, params) {
    const q = new URLSearchParams();
    for (const k in params || {}) if (params[k] !== null && params[k] !== undefined) q.set(k, params[k]);
    const url = "api/" + path + (q.toString() ? "?" + q : "");
    const r = await fetch(url, { cache: "no-store" });
    const body = await r.json();
    if (!body.ok) throw new Error(`${path}: ${body.message || body.error}`);
    return body;
  }

  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.get("period")) state.period = h.get("period");
    if (h.get("metric")) state.metric = h.get("metric");
    if (h.get("node")) state.selected = h.get("node");
    if (h.get("level")) state.level = h.get("level");
  }

  function writeHash() {
    const h = new URLSearchParams();
    if (state.period) h.set("period", state.period);
    if (state.metric) h.set("metric", state.metric);
    if (state.selected) h.set("node", state.selected);
    if (state.level !== "rep") h.set("level", state.level);
    history.replaceState(null, "", "#" + h.toString());
  }

  function periodChoices() {
    const { y, m } = localParts(state.now);
    const q = Math.floor((m - 1) / 3) + 1;
    const prevQ = q === 1 ? `${y - 1}-Q4` : `${y}-Q${q - 1}`;
    const prevM = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
    return [
      [`${y}-Q${q}`, "this quarter"], [`${y}-${String(m).padStart(2, "0")}`, "this month"],
      [`${y}`, "this year"], [prevQ, "last quarter"], [prevM, "last month"],
    ];
  }

  function fillPeriods() {
    const sel = $("period-select");
    sel.textContent = "";
    const choices = periodChoices();
    if (!state.period) state.period = choices[0][0];
    let found = false;
    for (const [name, label] of choices) {
      const o = el("option", null, `${name} (${label})`);
      o.value = name;
      found = found || name === state.period;
      sel.appendChild(o);
    }
    if (!found) {
      const o = el("option", null, state.period);
      o.value = state.period;
      sel.appendChild(o);
    }
    sel.value = state.period;
  }

  async function loadStatus() {
    const s = await api("status");
    if (s.status.time_zone !== state.zone) timeFormat = null;
    state.zone = s.status.time_zone;
    state.now = s.now;
    state.manualClock = s.manual_clock;
    $("foot-status").textContent =
      `pacerd ${s.status.version} · log seq ${s.status.last_seq} · zone ${s.status.time_zone}` +
      (s.manual_clock ? " · manual clock" : "");
  }

  async function loadProgress() {
    const p = await api("progress", { period: state.period, limit: 100000 });
    state.rows = p.rows;
    state.seq = Math.max(state.seq, p.seq || 0);
    if (p.now) state.now = p.now;
    const metrics = [...new Set(p.rows.filter((r) => r.has_target).map((r) => r.metric))].sort();
    if (!state.metric || (metrics.length && !metrics.includes(state.metric)))
      state.metric = metrics.includes("revenue") ? "revenue" : metrics[0] || "revenue";
    const sel = $("metric-select");
    sel.textContent = "";
    for (const m of metrics.length ? metrics : [state.metric]) {
      const o = el("option", null, m);
      o.value = m;
      sel.appendChild(o);
    }
    sel.value = state.metric;
  }

  async function loadBoard() {
    const b = await api("leaderboard", { level: state.level, period: state.period, metric: state.metric, limit: 50 });
    state.board = b.rows;
  }

  async function loadAlerts() {
    const a = await api("alerts_active", {});
    state.active = a.alerts;
    state.aseq = Math.max(state.aseq, a.last_aseq || 0);
  }

  function keyRows() {
    return state.rows.filter((r) => r.metric === state.metric && !r.product_line);
  }

  function selectedRow() {
    const rows = keyRows();
    return rows.find((r) => r.path === state.selected) || rows[0] || null;
  }

  async function loadBurnup() {
    const row = selectedRow();
    if (!row) {
      state.burnup = null;
      return;
    }
    state.burnup = await api("burnup", { scope: row.scope, metric: row.metric, period: state.period });
  }

  // one read at a time; what is asked for meanwhile is read right after
  let reading = null;
  let wanted = new Set();
  let readTimer = null;

  function want(parts, delay) {
    for (const p of parts) wanted.add(p);
    if (readTimer || reading) return;
    readTimer = setTimeout(() => { readTimer = null; readNow(); }, delay);
  }

  async function readNow() {
    if (reading || !wanted.size) return;
    const parts = wanted;
    wanted = new Set();
    reading = (async () => {
      try {
        if (parts.has("status")) await loadStatus();
        if (parts.has("progress")) await loadProgress();
        const later = [];
        if (parts.has("progress") || parts.has("board")) later.push(loadBoard());
        if (parts.has("alerts")) later.push(loadAlerts());
        if (parts.has("progress") || parts.has("burnup")) later.push(loadBurnup());
        await Promise.all(later);
        showError(null);
        window.pacerDashboard.loads++;
        render();
      } catch (e) {
        showError(String(e.message || e));
      }
    })();
    await reading;
    reading = null;
    if (wanted.size) want([], 200);
  }

  function readAll(delay) {
    want(["status", "progress", "board", "alerts", "burnup"], delay || 0);
  }

  // ---------------------------------------------------------------------
  // Rendering

  function render() {
    fillPeriods();
    $("level-select").value = state.level;
    const rows = keyRows();
    const cur = rows.find((r) => r.currency);
    state.currency = cur ? [cur.currency, cur.currency_digits] : null;
    if (!rows.find((r) => r.path === state.selected)) state.selected = rows.length ? rows[0].path : null;
    writeHash();
    renderClock();
    renderTree(rows);
    renderChart();
    renderBoard();
    renderAlerts();
  }

  function renderClock() {
    $("clock").textContent = `as of ${when(state.now)} (${state.zone})`;
    const live = $("live");
    live.className = "live " + (state.connected ? "on" : "off");
    live.title = state.connected ? "live: updates are pushed" : "not connected: retrying";
  }

  // the scale of a bar: the largest of its tiers, actual and expected
  function scaleOf(r) {
    return Math.max(1, r.stretch || 0, r.target || 0, r.floor || 0, r.actual || 0, r.expected || 0);
  }

  function bar(r) {
    const track = el("div", "track");
    const scale = scaleOf(r);
    const at = (v) => Math.max(0, Math.min(100, (v / scale) * 100)) + "%";
    const fill = el("div", "fill " + (r.status || "none"));
    fill.style.width = at(Math.max(0, r.actual));
    track.appendChild(fill);
    for (const tier of ["floor", "target", "stretch"]) {
      if (r[tier] === null || r[tier] === undefined) continue;
      const t = el("div", "tick " + tier);
      t.style.left = at(r[tier]);
      t.title = `${tier}: ${fmt(r[tier], r)}`;
      track.appendChild(t);
    }
    if (r.expected !== null && r.expected !== undefined) {
      const p = el("div", "pacemark");
      p.style.left = at(r.expected);
      p.title = `pace: ${fmt(r.expected, r)} expected by now`;
      track.appendChild(p);
    }
    return track;
  }

  function nodeRow(r) {
    const li = el("li");
    const div = el("div", "node" + (r.has_target ? "" : " rollup") + (r.path === state.selected ? " selected" : ""));
    div.dataset.path = r.path;
    div.dataset.scope = r.scope;
    div.dataset.metric = r.metric;
    div.dataset.actual = r.actual;
    div.dataset.status = r.status || "";
    div.tabIndex = 0;
    const who = el("div", "who");
    who.appendChild(el("span", "name", r.name || r.scope));
    who.appendChild(el("span", "kind", r.kind));
    div.appendChild(who);
    div.appendChild(bar(r));
    const nums = el("div", "nums");
    nums.appendChild(el("span", "actual", fmt(r.actual, r)));
    if (r.has_target) {
      nums.appendChild(el("span", "target", "of " + fmt(r.target, r)));
      nums.appendChild(el("span", "attainment", pct(r.attainment)));
      nums.appendChild(el("span", "pace-ratio", "pace " + (r.pace_ratio === null ? "–" : r.pace_ratio.toFixed(2))));
      nums.appendChild(el("span", "status " + (r.status || ""), STATUS_TEXT[r.status] || ""));
    } else {
      nums.appendChild(el("span", "target", "no target of its own"));
    }
    div.appendChild(nums);
    const choose = () => {
      state.selected = r.path;
      state.burnup = null;
      render();
      want(["burnup"], 0);
    };
    div.addEventListener("click", choose);
    div.addEventListener("keydown", (e) => { if (e.key === "Enter") choose(); });
    li.appendChild(div);
    return li;
  }

  function renderTree(rows) {
    const tree = $("tree");
    tree.textContent = "";
    $("tree-empty").hidden = rows.length > 0;
    const byPath = new Map();
    const sorted = rows.slice().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const r of sorted) {
      const li = nodeRow(r);
      byPath.set(r.path, li);
      // the nearest ancestor shown
      let parent = null;
      const parts = r.path.split("/");
      for (let n = parts.length - 1; n > 0 && !parent; n--) parent = byPath.get(parts.slice(0, n).join("/"));
      if (!parent) {
        tree.appendChild(li);
        continue;
      }
      let ul = parent.querySelector(":scope > ul");
      if (!ul) {
        ul = el("ul");
        parent.appendChild(ul);
      }
      ul.appendChild(li);
    }
  }

  function renderBoard() {
    const tbody = $("board").querySelector("tbody");
    tbody.textContent = "";
    $("board-empty").hidden = state.board.length > 0;
    for (const r of state.board) {
      const tr = el("tr");
      tr.dataset.path = r.path;
      tr.dataset.actual = r.actual;
      tr.appendChild(el("td", null, r.rank));
      tr.appendChild(el("td", "name", r.name || r.scope));
      tr.appendChild(el("td", "num", fmt(r.actual, r)));
      tr.appendChild(el("td", "num", pct(r.attainment)));
      tr.appendChild(el("td", "status " + (r.status || ""), STATUS_TEXT[r.status] || ""));
      tbody.appendChild(tr);
    }
  }

  function alertItem(a, fresh) {
    const li = el("li", a.severity + (a.silenced ? " silenced" : "") + (fresh ? " fresh" : ""));
    li.dataset.aseq = a.aseq;
    li.dataset.key = a.key;
    li.dataset.rule = a.rule;
    const meta = el("div", "meta");
    meta.appendChild(el("span", "sev", a.severity));
    meta.appendChild(el("span", "rule", a.rule));
    meta.appendChild(el("span", "time", (a.state === "firing" || !a.since ? when(a.at) : "since " + when(a.since))));
    if (a.aseq) meta.appendChild(el("span", "aseq", "#" + a.aseq)); // 0: silenced since it started, no record yet
    if (a.silenced)
      meta.appendChild(el("span", "silence", "silenced" + (a.silenced_until ? " until " + when(a.silenced_until) : "")));
    if (a.state && a.state !== "firing" && fresh) meta.appendChild(el("span", "state", a.state));
    li.appendChild(meta);
    li.appendChild(el("div", "summary", a.summary));
    if (a.evidence && a.evidence.length && a.rule.startsWith("anomaly/"))
      li.appendChild(el("div", "meta", "evidence: seq " + a.evidence.map((e) => e.seq).join(", ")));
    return li;
  }

  function renderAlerts() {
    const lag = state.active.filter((a) => !a.rule.startsWith("anomaly/"));
    const anomalies = state.active.filter((a) => a.rule.startsWith("anomaly/"));
    for (const [list, id] of [[lag, "alerts"], [anomalies, "anomalies"]]) {
      const ul = $(id);
      ul.textContent = "";
      for (const a of list) ul.appendChild(alertItem(a, false));
      $(id + "-empty").hidden = list.length > 0;
      $(id + "-count").textContent = list.length ? `(${list.length})` : "";
    }
  }

  function feedAlert(a) {
    const ul = $("feed");
    ul.insertBefore(alertItem(a, true), ul.firstChild);
    while (ul.children.length > 50) ul.removeChild(ul.lastChild);
    $("feed-empty").hidden = true;
  }

  // ---------------------------------------------------------------------
  // The burn-up chart

  function renderChart() {
    const box = $("chart");
    box.textContent = "";
    $("chart-figures").textContent = "";
    const b = state.burnup;
    const row = selectedRow();
    if (!b || !row || b.key.scope !== row.scope || b.key.metric !== row.metric) {
      $("chart-key").textContent = row ? `${row.name || row.scope} · ${row.metric} · ${state.period}: loading…` : "Select a node.";
      return;
    }
    const k = b.key;
    $("chart-key").textContent = `${k.name || k.scope} (${k.path}) · ${k.metric} · ${k.period}` +
      (k.has_target ? "" : " · no target of its own");
    const W = 640, H = 300, L = 70, R = 58, T = 12, B = 28;
    const t0 = k.period_start, t1 = k.period_end;
    const days = b.days;
    const now = Math.min(Math.max(b.now, t0), t1);
    const points = [];   // [t, cumulative actual]
    if (b.cumulative && b.now >= t0) {
      points.push([t0, 0]);
      for (const d of days) if (d.actual !== null) points.push([Math.min(d.end, now), d.actual]);
    }
    const pace = [[t0, 0]];
    for (const d of days) if (d.expected !== null) pace.push([d.end, d.expected]);
    let top = Math.max(1, k.stretch || 0, k.target || 0, k.floor || 0, k.actual || 0);
    for (const p of points) top = Math.max(top, p[1]);
    if (k.forecast !== null && k.forecast !== undefined && k.forecast < top * 1.6) top = Math.max(top, k.forecast);
    top *= 1.05;
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - Math.max(0, v) / top) * (H - T - B);
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "burn-up chart" });
    s.appendChild(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    s.appendChild(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    for (let i = 0; i <= 4; i++) {
      const v = (top / 1.05) * (i / 4);
      s.appendChild(svg("text", { class: "grid-label", x: L - 4, y: y(v) + 4, "text-anchor": "end" }, short(v, k)));
    }
    // day labels: the first, the middle and the last
    if (days.length) {
      for (const d of [days[0], days[Math.floor(days.length / 2)], days[days.length - 1]]) {
        s.appendChild(svg("text", { class: "grid-label", x: x(d.start), y: H - 8, "text-anchor": "start" }, d.day.slice(5)));
      }
    }
    for (const tier of ["floor", "target", "stretch"]) {
      if (k[tier] === null || k[tier] === undefined) continue;
      s.appendChild(svg("line", { class: "tier " + tier, x1: L, y1: y(k[tier]), x2: W - R, y2: y(k[tier]) }));
      s.appendChild(svg("text", { class: "tier-label", x: W - R + 4, y: y(k[tier]) + 4 }, tier));
    }
    if (pace.length > 1)
      s.appendChild(svg("polyline", { class: "pace", points: pace.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") }));
    s.appendChild(svg("line", { class: "now", x1: x(now), y1: T, x2: x(now), y2: H - B }));
    let last = null;
    if (points.length) {
      last = points[points.length - 1];
      s.appendChild(svg("polyline", { class: "actual", points: points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") }));
      if (k.forecast !== null && k.forecast !== undefined && b.now < t1)
        s.appendChild(svg("line", { class: "forecast", x1: x(last[0]), y1: y(last[1]), x2: x(t1), y2: y(Math.min(k.forecast, top)) }));
    }
    s.dataset.actualLast = last ? last[1] : "";
    s.dataset.points = points.length;
    s.dataset.scope = k.scope;
    // legend
    const lg = [["actual", "actual"], ["pace", "pace"], ["forecast", "forecast"]];
    lg.forEach(([cls, label], i) => {
      const lx = L + 8 + i * 80;
      s.appendChild(svg("line", { class: cls, x1: lx, y1: T + 6, x2: lx + 18, y2: T + 6 }));
      s.appendChild(svg("text", { class: "key-label", x: lx + 22, y: T + 10 }, label));
    });
    box.appendChild(s);
    if (!b.cumulative) box.appendChild(el("p", "sub", "Day values of this metric do not add up (a ratio or an average): pace and tiers only."));
    const figs = $("chart-figures");
    const fig = (label, value) => {
      const d = el("div");
      d.appendChild(el("dt", null, label));
      d.appendChild(el("dd", null, value));
      figs.appendChild(d);
    };
    fig("actual", fmt(k.actual, k));
    if (k.has_target) {
      fig("expected by now", fmt(k.expected, k));
      fig("target", fmt(k.target, k));
      fig("floor · stretch", `${fmt(k.floor, k)} · ${fmt(k.stretch, k)}`);
      fig("forecast", fmt(k.forecast, k));
      fig("needed a working day", k.required_rate === null ? "–" : fmt(k.required_rate, k));
      fig("status", `${STATUS_TEXT[k.status] || "–"} (pace ${k.pace_ratio === null ? "–" : k.pace_ratio.toFixed(2)})`);
    }
  }

  function short(v, row) {
    let n = v;
    if (MONEY.has(row.metric)) n = v / Math.pow(10, currencyOf(row)[1] === undefined ? 2 : currencyOf(row)[1]);
    else if (BASIS_POINTS.has(row.metric)) return (v / 100).toFixed(0) + "%";
    if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(1) + "G";
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (Math.abs(n) >= 1e3) return (n / 1e3).toFixed(1) + "k";
    return n.toFixed(0);
  }

  // ---------------------------------------------------------------------
  // Live updates

  // a pushed progress row: move its bar and, for the selected key, the chart
  function onProgress(rows) {
    let changed = false;
    for (const p of rows) {
      if (p.period !== state.period) continue;
      const i = state.rows.findIndex((r) => r.scope === p.scope && r.metric === p.metric &&
        (r.product_line || null) === (p.product_line || null));
      if (i < 0) continue;
      state.rows[i] = Object.assign({}, state.rows[i], p, { name: state.rows[i].name, coverage: state.rows[i].coverage });
      if (p.now) state.now = p.now;
      state.seq = Math.max(state.seq, p.seq || 0);
      const b = state.burnup;
      if (b && b.key.scope === p.scope && b.key.metric === p.metric && !p.product_line) {
        b.key = Object.assign({}, b.key, p, { name: b.key.name, coverage: b.key.coverage });
        b.now = p.now || b.now;
        // today's point is the key's actual now
        let today = null;
        for (const d of b.days) if (d.start <= b.now && b.now < d.end) today = d;
        if (today && b.cumulative) today.actual = p.actual;
      }
      changed = true;
    }
    if (changed) {
      window.pacerDashboard.pushes++;
      render();
      want(["progress"], 1500); // roll-ups, ranks and the chart's history
    }
  }

  function connect() {
    const es = new EventSource("api/events");
    es.addEventListener("open", () => {
      state.connected = true;
      renderClock();
      readAll(0); // whatever happened while not connected
    });
    es.addEventListener("error", () => {
      state.connected = false;
      renderClock();
    });
    es.addEventListener("progress", (e) => {
      state.lastEvent = Date.now();
      onProgress(JSON.parse(e.data));
    });
    es.addEventListener("alert", (e) => {
      state.lastEvent = Date.now();
      const alerts = JSON.parse(e.data);
      for (const a of alerts) {
        feedAlert(a);
        state.aseq = Math.max(state.aseq, a.aseq);
      }
      window.pacerDashboard.pushes++;
      // alerts resolve and fire together; a tick moved the clock too
      want(["alerts", "status", "progress"], 300);
    });
    es.addEventListener("heartbeat", (e) => {
      state.lastEvent = Date.now();
      const h = JSON.parse(e.data);
      if (h.aseq > state.aseq) want(["alerts"], 300);
      if (h.seq > state.seq) want(["progress"], 2000);
    });
    es.addEventListener("resync", () => readAll(0));
  }

  // ---------------------------------------------------------------------
  // Controls

  function setup() {
    readHash();
    $("period-select").addEventListener("change", (e) => {
      state.period = e.target.value;
      state.burnup = null;
      readAll(0);
    });
    $("period-input").addEventListener("change", (e) => {
      const v = e.target.value.trim().toUpperCase();
      if (!v) return;
      state.period = v;
      state.burnup = null;
      e.target.value = "";
      readAll(0);
    });
    $("controls").addEventListener("submit", (e) => e.preventDefault());
    $("metric-select").addEventListener("change", (e) => {
      state.metric = e.target.value;
      state.burnup = null;
      render();
      want(["board", "burnup"], 0);
    });
    $("level-select").addEventListener("change", (e) => {
      state.level = e.target.value;
      want(["board"], 0);
    });
    (async () => {
      try {
        await loadStatus();
      } catch (e) {
        showError(String(e.message || e));
      }
      fillPeriods();
      readAll(0);
      connect();
    })();
  }

  document.addEventListener("DOMContentLoaded", setup);
})();
