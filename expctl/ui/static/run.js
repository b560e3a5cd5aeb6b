// A run's page: /api/run once, then /api/run/state every two seconds while the run is running,
// so a new epoch of history.csv shows within a few seconds; learning curves by plotly.js.
"use strict";

(() => {
  const { el, statusClass, getJSON, plotText, showError, showWarnings, setLive, drawRoc, loadPlotly, below, CONFIG } = expctl;
  const POLL_MS = 2000;
  const address = new URLSearchParams(location.search);
  const runId = address.get("id") || "";
  const folder = address.get("folder") || "";
  // the run's query: its id, and its folder below DIR when it has one
  const enc = encodeURIComponent(runId) + (folder ? "&folder=" + encodeURIComponent(folder) : "");
  let lastHistory = null;

  function fillPairs(id, pairs, empty) {
    const table = document.getElementById(id);
    if (!pairs.length && empty) pairs = [[empty, ""]];
    table.replaceChildren(...pairs.map(([key, value]) => {
      const tr = el("tr");
      tr.appendChild(el("td", key));
      tr.appendChild(el("td", value));
      return tr;
    }));
  }

  function showState(data) {
    const state = document.getElementById("state");
    state.textContent = data.state;
    state.className = statusClass(data.state);
    const error = document.getElementById("run-error");
    error.hidden = !data.error;
    error.textContent = data.error || "";
    document.getElementById("live").hidden = data.state !== "running";
  }

  // Columns grouped by what they measure: loss with val_loss, auc with val_auc, ...
  function families(history) {
    const skip = new Set(["epoch", ...history.bookkeeping]);
    const out = new Map();
    history.columns.forEach((name, index) => {
      if (skip.has(name)) return;
      const base = name.startsWith("val_") ? name.slice(4) : name;
      if (!out.has(base)) out.set(base, []);
      out.get(base).push({ name, index });
    });
    const lr = history.columns.indexOf("learning_rate");
    if (lr >= 0) out.set("learning_rate", [{ name: "learning_rate", index: lr }]);
    return out;
  }

  // the learning rate on a log axis (schedules decay it by decades) when it is positive
  function logScale(base, traces) {
    return base === "learning_rate" && traces.every((t) => t.y.every((v) => v === null || v > 0));
  }

  async function drawHistory(history) {
    const text = JSON.stringify(history);
    if (text === lastHistory) return;
    lastHistory = text;
    const epochCol = history.columns.indexOf("epoch");
    const epochs = history.rows.map((row, i) => (epochCol >= 0 ? row[epochCol] : i + 1));
    const count = document.getElementById("epochs");
    count.textContent = history.rows.length + (history.rows.length === 1 ? " epoch" : " epochs");
    count.dataset.epochs = String(history.rows.length);
    if (!history.rows.length) return;
    const Plotly = await loadPlotly();
    const box = document.getElementById("curves");
    const groups = families(history);
    for (const [base, columns] of groups) {
      const id = "curve-" + Array.from(groups.keys()).indexOf(base);
      let div = document.getElementById(id);
      if (!div) {
        div = el("div", null, "chart");
        div.id = id;
        box.appendChild(div);
      }
      const traces = columns.map(({ name, index }) => ({
        x: epochs, y: history.rows.map((row) => row[index]), mode: "lines+markers", type: "scatter",
        name: plotText(name),
      }));
      await Plotly.react(div, traces, {
        title: { text: plotText(base) }, margin: { l: 60, r: 20, t: 40, b: 80 },
        xaxis: { title: { text: "epoch" } }, legend: below(),
        yaxis: logScale(base, traces) ? { type: "log" } : {},
      }, CONFIG);
      div.dataset.points = String(history.rows.length);
    }
  }

  // A bias/variance experiment: its points as a table (with verdicts) and the decomposition
  // against the scanned value, or the training size when nothing was scanned.
  async function drawPoints(points) {
    document.getElementById("points-section").hidden = false;
    const keys = [];
    points.forEach((p) => Object.keys(p.values).forEach((k) => { if (!keys.includes(k)) keys.push(k); }));
    const head = el("tr");
    ["point", "n_train", ...keys, "verdict"].forEach((k) => head.appendChild(el("td", k)));
    const rows = points.map((p) => {
      const tr = el("tr");
      tr.appendChild(el("td", p.scan_key ? p.scan_key + "=" + p.scan_value : ""));
      tr.appendChild(el("td", p.train_size === null ? "-" : String(p.train_size)));
      keys.forEach((k) => tr.appendChild(el("td", k in p.values && p.values[k] !== null ? Number(p.values[k]).toPrecision(4) : "-")));
      tr.appendChild(el("td", p.verdict));
      return tr;
    });
    document.getElementById("points").replaceChildren(head, ...rows);
    const scanned = points.every((p) => p.x !== null);
    const x = points.map((p) => (scanned ? p.x : p.train_size));
    const Plotly = await loadPlotly();
    const traces = keys.map((k) => ({ x: x, y: points.map((p) => (k in p.values ? p.values[k] : null)),
      mode: "lines+markers", type: "scatter", name: plotText(k) }));
    await Plotly.react("points-chart", traces, {
      title: { text: "decomposition" }, margin: { l: 60, r: 20, t: 40, b: 80 }, legend: below(),
      xaxis: { title: { text: plotText(scanned ? points[0].scan_key : "training size") } },
    }, CONFIG);
    document.getElementById("points-chart").dataset.points = String(points.length);
  }

  async function poll() {
    try {
      const { data } = await getJSON("/api/run/state?id=" + enc);
      setLive(true);
      showError("");
      showState(data);
      await drawHistory(data.history);
      if (data.state === "running") setTimeout(poll, POLL_MS);
      else start(); // it has just finished: its metrics, predictions and figures are there now
    } catch (err) {
      setLive(false);
      showError(String(err.message || err));
      setTimeout(poll, POLL_MS * 2);
    }
  }

  async function start() {
    document.getElementById("run-id").textContent = folder ? folder + "/" + runId : runId;
    if (folder) document.getElementById("back").href = "/?folder=" + encodeURIComponent(folder);
    let data;
    try {
      ({ data } = await getJSON("/api/run?id=" + enc));
    } catch (err) {
      showError(String(err.message || err));
      return;
    }
    document.title = "expctl ui: " + data.id;
    document.getElementById("run-name").textContent = data.name;
    showState(data);
    const metrics = document.getElementById("metrics");
    metrics.replaceChildren(...data.metrics.map(([name, value, better]) => {
      const tr = el("tr");
      tr.appendChild(el("td", name));
      tr.appendChild(el("td", value === null ? "-" : Number(value).toPrecision(6)));
      tr.appendChild(el("td", better ? better + " is better" : "", "muted"));
      return tr;
    }));
    if (!data.metrics.length) {
      metrics.replaceChildren(el("tr"));
      metrics.rows[0].appendChild(el("td", data.state === "running" ? "(when the run finishes)" : "(none)"));
    }
    fillPairs("status", data.status, "(none)");
    fillPairs("training", data.training);
    fillPairs("spec", data.spec, "(unreadable)");
    fillPairs("environment", data.environment, "(none)");
    fillPairs("data", data.data, "(none)");
    showWarnings(data.warnings, data.warnings.length);
    const figures = document.getElementById("figures");
    figures.replaceChildren(...data.plots.map((name) => {
      const figure = el("figure");
      const img = el("img");
      img.src = "/api/run/plot?id=" + enc + "&name=" + encodeURIComponent(name);
      img.alt = name;
      img.loading = "lazy";
      figure.appendChild(img);
      figure.appendChild(el("figcaption", name));
      return figure;
    }));
    document.getElementById("figures-section").hidden = data.plots.length === 0;
    if (data.points.length) await drawPoints(data.points);
    await drawHistory(data.history);
    if (data.has_predictions) {
      try {
        const roc = await getJSON("/api/roc?run=" + enc);
        if (roc.data.curves.length) {
          document.getElementById("roc-section").hidden = false;
          await drawRoc(roc.data.curves, "roc-chart", "rejection-chart");
        }
      } catch (err) {
        showError(String(err.message || err));
      }
    }
    if (data.state === "running") setTimeout(poll, POLL_MS);
  }

  start();
})();
