// Shared helpers of the dashboard's pages. Every value that comes from a run's files is put
// into the page with textContent (never innerHTML) and into chart labels through plotText().
"use strict";

const expctl = (() => {
  const STATUSES = new Set([
    "completed", "running", "failed", "crashed", "diverged", "interrupted", "pruned", "unknown",
  ]);

  // An element with text: el("td", "0.91", "num").
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // The CSS class of a run status (a fixed list: a status string never becomes markup).
  function statusClass(status) {
    return "status status-" + (STATUSES.has(status) ? status : "unknown");
  }

  // GET a JSON answer; rejects with the server's message for an error status.
  async function getJSON(url) {
    const response = await fetch(url, { cache: "no-cache", headers: { accept: "application/json" } });
    const text = await response.text();
    let data = null;
    try { data = JSON.parse(text); } catch (err) { data = null; }
    if (!response.ok) {
      const message = data && data.error ? data.error : response.status + " " + response.statusText;
      throw new Error(message);
    }
    return { data: data, text: text };
  }

  // plotly.js, loaded once from this server when the first chart is drawn.
  let plotly = null;
  function loadPlotly() {
    if (!plotly) {
      plotly = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = "/static/plotly.min.js";
        script.onload = () => resolve(window.Plotly);
        script.onerror = () => reject(new Error("could not load plotly.min.js"));
        document.head.appendChild(script);
      });
    }
    return plotly;
  }

  // plotly reads a few HTML tags in labels: a run's text goes in as entities, shown literally.
  function plotText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function showError(message) {
    const box = document.getElementById("error");
    if (!box) return;
    box.hidden = !message;
    box.textContent = message || "";
  }

  function showWarnings(warnings, total) {
    const box = document.getElementById("warnings");
    if (!box) return;
    const list = box.querySelector("ul");
    list.replaceChildren(...warnings.map((w) => el("li", w)));
    box.querySelector("summary").textContent = total + (total === 1 ? " warning" : " warnings");
    box.hidden = total === 0;
  }

  function setLive(ok) {
    const live = document.getElementById("live");
    if (!live) return;
    live.classList.toggle("stale", !ok);
    live.textContent = ok ? "live" : "not reachable";
  }

  const CONFIG = { displaylogo: false, responsive: true };
  // plotly's own colour cycle, fixed here so that a run keeps its colour from chart to chart
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  function color(i) { return PALETTE[i % PALETTE.length]; }

  // A legend inside the plot's right corner (bottom or top), over a light box.
  function inside(corner) {
    return { x: 0.98, xanchor: "right", y: corner === "top" ? 0.98 : 0.02, yanchor: corner,
      bgcolor: "rgba(255,255,255,0.85)", bordercolor: "#ddd", borderwidth: 1, font: { size: 11 } };
  }

  // A horizontal legend under the x axis title (the chart's bottom margin makes room for it).
  function below() {
    return { orientation: "h", x: 0, y: -0.3, yanchor: "top", font: { size: 11 } };
  }

  // ROC and rejection charts of curves {run, label, auc, fpr, tpr}; resolves when both are drawn.
  // `colorOf(run, i)` keeps a run's colour the same across the page's charts. With `ratio`
  // ({reference, efficiency, curves: [{run, label, ratio}]}, /api/roc's) and another run than
  // the reference, the rejection chart gets a ratio panel below it, on the same x axis.
  async function drawRoc(curves, rocId, rejectionId, colorOf, ratio) {
    const Plotly = await loadPlotly();
    const pick = (c, i) => (colorOf ? colorOf(c.run, i) : color(i));
    // one colour per run in both charts
    const roc = curves.map((c, i) => ({
      x: c.fpr, y: c.tpr, mode: "lines", type: "scatter", line: { color: pick(c, i) },
      name: plotText(c.label) + (c.auc === null ? "" : " (AUC " + c.auc.toFixed(4) + ")"),
      hovertemplate: "εB %{x:.4f}<br>εS %{y:.4f}<extra>" + plotText(c.label) + "</extra>",
    }));
    roc.push({ x: [0, 1], y: [0, 1], mode: "lines", type: "scatter", name: "chance",
      line: { dash: "dash", color: "#999", width: 1 }, hoverinfo: "skip" });
    const rejection = curves.map((c, i) => {
      const x = [], y = [];
      c.fpr.forEach((f, j) => { if (f !== null && f > 0 && c.tpr[j] !== null) { x.push(c.tpr[j]); y.push(1 / f); } });
      return { x: x, y: y, mode: "lines", type: "scatter", name: plotText(c.label), line: { color: pick(c, i) },
        hovertemplate: "εS %{x:.4f}<br>1/εB %{y:.4g}<extra>" + plotText(c.label) + "</extra>" };
    });
    const margin = { l: 60, r: 20, t: 40, b: 50 };
    const highest = rejection.reduce((m, t) => t.y.reduce((a, b) => Math.max(a, b), m), 10);
    await Plotly.react(rocId, roc, {
      title: { text: "ROC" }, margin: margin, legend: inside("bottom"),
      xaxis: { title: { text: "false-positive rate εB" }, range: [0, 1] },
      yaxis: { title: { text: "true-positive rate εS" }, range: [0, 1.02] },
    }, CONFIG);
    const layout = {
      title: { text: "background rejection" }, margin: margin, legend: inside("top"),
      xaxis: { title: { text: "signal efficiency εS" }, range: [0, 1] },
      // headroom above the highest rejection (log axis: a range in decades) for the legend
      yaxis: { title: { text: "rejection 1/εB" }, type: "log", range: [0, 1.35 * Math.log10(highest)] },
    };
    const panel = ratio && ratio.curves.length ? ratio : null;
    const chart = document.getElementById(rejectionId);
    if (panel) addRatioPanel(panel, rejection, layout, (run) => pick({ run: run }, curves.findIndex((c) => c.run === run)));
    chart.classList.toggle("tall", Boolean(panel));
    await Plotly.react(rejectionId, rejection, layout, CONFIG);
    document.getElementById(rocId).dataset.curves = String(curves.length);
    chart.dataset.curves = String(curves.length);
    chart.dataset.ratios = String(panel ? panel.curves.length : 0);
    chart.dataset.reference = panel ? panel.reference : "";
  }

  // `expctl roc --hep`'s ratio panel: each run's rejection over the reference's (a line at 1 in
  // the reference's colour), its y range fitted to the ratios at εS >= 0.1 as the figure does.
  function addRatioPanel(ratio, traces, layout, colorOfRun) {
    const x = ratio.efficiency;
    let lo = 1, hi = 1;
    ratio.curves.forEach((c) => {
      traces.push({ x: x, y: c.ratio, xaxis: "x", yaxis: "y2", mode: "lines", type: "scatter",
        line: { color: colorOfRun(c.run) }, showlegend: false,
        hovertemplate: "εS %{x:.3f}<br>ratio %{y:.4g}<extra>" + plotText(c.label) + "</extra>" });
      c.ratio.forEach((r, j) => { if (r !== null && x[j] >= 0.1) { lo = Math.min(lo, r); hi = Math.max(hi, r); } });
    });
    const pad = Math.max(0.1 * (hi - lo), 0.05);
    layout.yaxis.domain = [0.36, 1];
    layout.xaxis.anchor = "y2";
    layout.yaxis2 = { domain: [0, 0.3], anchor: "x", range: [Math.max(Math.min(lo - pad, 0.9), 0), Math.max(hi + pad, 1.1)],
      title: { text: "ratio to " + plotText(ratio.reference), font: { size: 11 } } };
    layout.shapes = [{ type: "line", xref: "x", yref: "y2", x0: 0, x1: 1, y0: 1, y1: 1,
      line: { color: colorOfRun(ratio.reference), width: 1.2 } }];
  }

  return { el, statusClass, getJSON, loadPlotly, plotText, showError, showWarnings, setLive, drawRoc, color, inside, below, CONFIG };
})();
