// A sweep's page: its trials from sweep.csv (state, value, parameters, host, links to the trial
// runs), the optimisation history with the best value so far, and the best trial's spec.
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
  }

  refresh();
  setInterval(refresh, POLL_MS);
})();
