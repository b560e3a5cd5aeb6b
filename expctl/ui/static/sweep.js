// A sweep's page: its trials from sweep.csv (state, value, parameters, host, links to the trial
// runs), the optimisation history with the best value so far, parallel coordinates of the complete
// trials, and the best trial's spec.
"use strict";

(() => {
  const { el, statusClass, getJSON, showError, showWarnings, setLive, loadPlotly, plotText, CONFIG } = expctl;
  const POLL_MS = 2000;
  const folder = new URLSearchParams(location.search).get("folder") || "";
  let lastText = null;

  // Optuna's trial states, shown with the run statuses' colours.
  const STATE_STATUS = { COMPLETE: "completed", RUNNING: "running", FAIL: "failed", PRUNED: "pruned", WAITING: "unknown" };

  function runLink(data, runId) {
    if (!data.trials_folder) return el("span", runId);
    const link = el("a", runId);
    link.href = "/run?" + new URLSearchParams({ folder: data.trials_folder, id: runId }).toString();
    return link;
  }

  function renderTable(data) {
    const table = document.getElementById("trials");
    const head = el("tr");
    ["trial", "state", data.metric || "value", "duration s", "runs", "host", ...data.keys]
      .forEach((name, i) => head.appendChild(el("th", name, i === 2 || i === 3 || i === 0 ? "num" : "")));
    table.tHead.replaceChildren(head);
    const body = document.createDocumentFragment();
    data.trials.forEach((t) => {
      const tr = el("tr");
      tr.dataset.trial = t.trial;
      tr.appendChild(el("td", t.trial, "num"));
      tr.appendChild(el("td", t.state, statusClass(STATE_STATUS[t.state] || "unknown")));
      tr.appendChild(el("td", t.value === null ? "" : t.value.toPrecision(6), "num"));
      tr.appendChild(el("td", t.duration_s === null ? "" : t.duration_s.toFixed(1), "num"));
      const runs = el("td");
      t.runs.forEach((r, i) => { if (i) runs.appendChild(el("span", " ")); runs.appendChild(runLink(data, r)); });
      tr.appendChild(runs);
      tr.appendChild(el("td", t.host));
      t.params.forEach((p) => tr.appendChild(el("td", p)));
      if (data.bestTrial === t.trial) tr.classList.add("selected");
      body.appendChild(tr);
    });
    table.tBodies[0].replaceChildren(body);
  }

  function renderBest(data) {
    const notes = document.getElementById("best-notes");
    const body = document.querySelector("#best tbody");
    if (!data.best) {
      notes.replaceChildren(el("li", "no trial has completed yet"));
      body.replaceChildren();
      return;
    }
    notes.replaceChildren(...data.best.comments.map((c) => el("li", c)));
    body.replaceChildren(...data.best.spec.map(([k, v]) => {
      const tr = el("tr");
      tr.appendChild(el("td", k));
      tr.appendChild(el("td", v));
      return tr;
    }));
  }

  // Each trial's value by trial number (pruned ones grey: stopped early, their value is of an
  // earlier epoch), and the best complete trial so far in the sweep's direction.
  async function drawHistory(data) {
    const higher = data.better !== "lower";
    const done = data.trials.filter((t) => t.value !== null && t.state === "COMPLETE");
    const other = data.trials.filter((t) => t.value !== null && t.state !== "COMPLETE");
    const x = done.map((t) => Number(t.trial)), y = done.map((t) => t.value);
    const best = [];
    y.forEach((v, i) => best.push(i === 0 ? v : (higher ? Math.max(best[i - 1], v) : Math.min(best[i - 1], v))));
    const Plotly = await loadPlotly();
    const metric = plotText(data.metric || "value");
    const hover = "trial %{x}<br>" + metric + " %{y:.5g}<extra></extra>";
    const traces = [
      { x: x, y: y, mode: "markers", type: "scatter", name: "complete", marker: { color: "#1f77b4" }, hovertemplate: hover },
      { x: x, y: best, mode: "lines", type: "scatter", name: "best so far", line: { shape: "hv", color: "#d62728" },
        hoverinfo: "skip" },
    ];
    if (other.length) {
      traces.push({ x: other.map((t) => Number(t.trial)), y: other.map((t) => t.value), mode: "markers",
        type: "scatter", name: "pruned", marker: { color: "#9ca3af" }, hovertemplate: hover });
    }
    const better = data.better ? " (" + data.better + " is better)" : "";
    await Plotly.react("history-chart", traces, {
      margin: { l: 60, r: 20, t: 20, b: 50 }, legend: expctl.inside(higher ? "bottom" : "top"),
      xaxis: { title: { text: "trial" } }, yaxis: { title: { text: metric + better } },
    }, CONFIG);
    document.getElementById("history-chart").dataset.trials = String(done.length + other.length);
  }

  // At most this many polylines (the best trials): one SVG trace each stays quick to draw.
  const MAX_LINES = 500;
  const TICKS = [0, 0.25, 0.5, 0.75, 1];

  // How values sort on a categorical axis: numbers by value, else text with digit runs compared
  // as numbers (so [16] < [32] < [128]).
  function compareValues(a, b) {
    const x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && Number.isFinite(x) && Number.isFinite(y)) return x - y;
    return String(a).localeCompare(String(b), "en", { numeric: true });
  }

  // One axis of the plot: `norm(value)` in [0, 1] and tick labels [[position, text]]. `scale` is
  // the sweep space's (log, linear, category) or undefined: numbers then get a linear axis, and
  // anything else a categorical one. Log needs every value > 0, else the axis is linear.
  function makeAxis(values, scale) {
    const numbers = values.map((v) => (v === "" ? NaN : Number(v)));
    const numeric = scale !== "category" && numbers.every(Number.isFinite);
    if (!numeric) {
      const levels = [...new Set(values)].sort(compareValues);
      const pos = (v) => (levels.length === 1 ? 0.5 : levels.indexOf(v) / (levels.length - 1));
      const every = Math.ceil(levels.length / 10);  // at most ~10 labels on an axis
      return { norm: (v) => pos(v), ticks: levels.filter((_, i) => i % every === 0).map((v) => [pos(v), v]) };
    }
    const log = scale === "log" && numbers.every((v) => v > 0);
    const f = log ? Math.log10 : (v) => v;
    const lo = Math.min(...numbers.map(f)), hi = Math.max(...numbers.map(f));
    if (hi === lo) return { norm: () => 0.5, ticks: [[0.5, numbers[0].toPrecision(4)]], log: log };
    const inverse = (t) => (log ? 10 ** (lo + t * (hi - lo)) : lo + t * (hi - lo));
    return { norm: (v) => (f(Number(v)) - lo) / (hi - lo), ticks: TICKS.map((t) => [t, Number(inverse(t).toPrecision(4)).toString()]), log: log };
  }

  // A colour from light (0) to dark (1) blue: the best trials are the darkest lines.
  function shade(t) {
    const light = [198, 219, 239], dark = [8, 48, 107];
    return "rgb(" + light.map((c, i) => Math.round(c + t * (dark[i] - c))).join(",") + ")";
  }

  // Parallel coordinates without plotly's `parcoords` (WebGL): one vertical axis per swept key
  // and one for the objective, each complete trial one SVG polyline at x = axis index, y = its
  // value normalised to [0, 1] on that axis. The objective's axis puts the best value at 1 (its
  // labels run downwards when lower is better), and lines are drawn worst first so the best,
  // darkest, lie on top.
  async function drawParcoords(data) {
    const chart = document.getElementById("parcoords-chart");
    const sign = data.better === "lower" ? -1 : 1;
    const done = data.trials.filter((t) => t.value !== null && t.state === "COMPLETE");
    done.sort((a, b) => sign * (a.value - b.value));  // worst first
    const shown = done.slice(Math.max(0, done.length - MAX_LINES));
    if (!shown.length) {
      const Plotly = await loadPlotly();
      await Plotly.react("parcoords-chart", [], { xaxis: { visible: false }, yaxis: { visible: false },
        annotations: [{ text: "no trial has completed yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] }, CONFIG);
      chart.dataset.lines = "0";
      chart.dataset.complete = "0";
      return;
    }
    const metric = data.metric || "value";
    const names = [...data.keys, metric];
    const axes = data.keys.map((key, k) => makeAxis(shown.map((t) => t.params[k]), (data.scales || {})[key]));
    const values = shown.map((t) => t.value);
    const vlo = Math.min(...values), vhi = Math.max(...values);
    const objective = vhi === vlo
      ? { norm: () => 1, ticks: [[1, vhi.toPrecision(5)]] }
      : { norm: (v) => (sign > 0 ? v - vlo : vhi - v) / (vhi - vlo),
        ticks: TICKS.map((t) => [t, Number((sign > 0 ? vlo + t * (vhi - vlo) : vhi - t * (vhi - vlo)).toPrecision(5)).toString()]) };
    axes.push(objective);
    const traces = shown.map((t) => {
      const raw = [...t.params, t.value.toPrecision(6)];
      const y = [...t.params.map((p, k) => axes[k].norm(p)), objective.norm(t.value)];
      const hover = "trial " + plotText(t.trial) + "<br>" +
        names.map((n, k) => plotText(n) + " " + plotText(raw[k])).join("<br>") + "<extra></extra>";
      return { x: names.map((_, k) => k), y: y, mode: "lines+markers", type: "scatter", name: "trial " + plotText(t.trial),
        meta: t.trial, line: { color: shade(y[y.length - 1]), width: 2 }, marker: { size: 5 },
        showlegend: false, hovertemplate: hover };
    });
    const annotations = [];
    axes.forEach((axis, k) => axis.ticks.forEach(([pos, text]) => annotations.push({
      x: k, y: pos, xref: "x", yref: "y", text: plotText(text), showarrow: false, xanchor: "right", xshift: -4,
      font: { size: 10, color: "#444" }, bgcolor: "rgba(255,255,255,0.7)" })));
    const shapes = names.map((_, k) => ({ type: "line", xref: "x", yref: "y", x0: k, x1: k, y0: 0, y1: 1,
      line: { color: "#333", width: 1 }, layer: "below" }));
    const Plotly = await loadPlotly();
    await Plotly.react("parcoords-chart", traces, {
      margin: { l: 50, r: 20, t: 20, b: 90 }, hovermode: "closest", annotations: annotations, shapes: shapes,
      xaxis: { tickvals: names.map((_, k) => k), ticktext: names.map((n, k) => plotText(n) + (axes[k].log ? " (log)" : "")),
        range: [-0.6, names.length - 0.6], showgrid: false, zeroline: false },
      yaxis: { range: [-0.05, 1.05], showticklabels: false, showgrid: false, zeroline: false },
    }, CONFIG);
    chart.dataset.lines = String(traces.length);
    chart.dataset.complete = String(done.length);
  }

  function bestTrial(data) {
    const done = data.trials.filter((t) => t.value !== null && t.state === "COMPLETE");
    if (!done.length) return null;
    const sign = data.better === "lower" ? -1 : 1;
    return done.reduce((a, b) => (sign * b.value > sign * a.value ? b : a)).trial;
  }

  async function refresh() {
    let answer;
    try {
      answer = await getJSON("/api/sweep?" + new URLSearchParams({ folder: folder }).toString());
    } catch (err) {
      showError(String(err.message || err));
      setLive(!(err instanceof TypeError));
      return;
    }
    setLive(true);
    showError("");
    if (answer.text === lastText) return;
    lastText = answer.text;
    const data = answer.data;
    data.bestTrial = bestTrial(data);
    document.title = "expctl ui: sweep " + data.name;
    document.getElementById("sweep-folder").textContent = folder || "DIR";
    document.getElementById("sweep-name").textContent = data.name;
    const counts = {};
    data.trials.forEach((t) => { counts[t.state] = (counts[t.state] || 0) + 1; });
    const parts = Object.entries(counts).map(([s, n]) => n + " " + s.toLowerCase());
    document.getElementById("summary").textContent = [data.method, data.trials.length + " trials", parts.join(", "),
      data.metric ? "metric " + data.metric + (data.better ? " (" + data.better + " is better)" : "") : ""]
      .filter(Boolean).join(" · ");
    const link = document.getElementById("trials-link");
    link.hidden = !data.trials_folder;
    if (data.trials_folder) link.href = "/?" + new URLSearchParams({ folder: data.trials_folder }).toString();
    showWarnings(data.warnings, data.warnings.length);
    renderTable(data);
    renderBest(data);
    await drawHistory(data);
    await drawParcoords(data);
  }

  refresh();
  setInterval(refresh, POLL_MS);
})();
