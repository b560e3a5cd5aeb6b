// The runs page: compare's table from /api/runs, refreshed every few seconds; header clicks sort
// (a metric best first by the catalogue), the filter box takes compare's --filter expressions;
// selected runs are overlaid (ROC, rejection with a ratio panel to a reference run) with links to the figures `expctl roc` draws.
"use strict";

(() => {
  const { el, statusClass, getJSON, showError, showWarnings, setLive, drawRoc, loadPlotly, plotText, color, below, CONFIG } = expctl;
  const POLL_MS = 2000;
  // Rows drawn at first (Chromium lays out a 1,000-row table in about half a second); the rest
  // on demand. Sorting and filtering are done by the server over every run.
  const PAGE_ROWS = 100;
  const state = { sort: null, lastText: null, selected: new Map(), overlayKey: "", shown: PAGE_ROWS, seq: 0 };
  const filterBox = document.getElementById("filter");
  const groupBox = document.getElementById("group");
  const allBox = document.getElementById("all");
  const table = document.getElementById("runs");
  let current = null;

  // The page's address holds its view (?filter=...&sort=...&group=0&all=1): it can be shared.
  function readAddress() {
    const params = new URLSearchParams(location.search);
    state.folder = params.get("folder") || "";
    filterBox.value = params.getAll("filter").join("; ");
    state.sort = params.get("sort");
    groupBox.checked = params.get("group") !== "0";
    allBox.checked = params.get("all") === "1";
  }

  function viewParams() {
    const params = new URLSearchParams();
    if (state.folder) params.set("folder", state.folder);
    filterBox.value.split(";").map((f) => f.trim()).filter(Boolean).forEach((f) => params.append("filter", f));
    if (state.sort) params.set("sort", state.sort);
    if (!groupBox.checked) params.set("group", "0");
    if (allBox.checked) params.set("all", "1");
    return params;
  }

  function query() {
    const params = viewParams();
    const address = params.toString();
    if (address !== location.search.replace(/^\?/, "")) {
      history.replaceState(null, "", address ? "?" + address : location.pathname);
    }
    return "/api/runs?" + address;
  }

  async function refresh() {
    // a poll and a click can overlap: only the latest request's answer is shown
    const seq = ++state.seq;
    let answer;
    try {
      answer = await getJSON(query());
    } catch (err) {
      if (seq !== state.seq) return;
      showError(String(err.message || err));
      setLive(!(err instanceof TypeError));
      return;
    }
    if (seq !== state.seq) return;
    setLive(true);
    showError("");
    if (answer.text === state.lastText) return;
    state.lastText = answer.text;
    render(answer.data);
    if (document.getElementById("study").open) updateStudy();
  }

  // The study panel: the chosen metric per run in start order with the best so far (by the
  // catalogue's direction), and against one of the keys that differ (a slice plot).
  async function updateStudy() {
    const select = document.getElementById("study-metric");
    const params = viewParams();
    params.delete("sort");
    params.delete("group");
    params.delete("all");
    if (select.value) params.set("metric", select.value);
    let data;
    try {
      ({ data } = await getJSON("/api/study?" + params.toString()));
    } catch (err) {
      showError(String(err.message || err));
      return;
    }
    state.study = data;
    select.replaceChildren(...data.metrics.map((m) => { const o = el("option", m); o.value = m; return o; }));
    if (data.metric) select.value = data.metric;
    const keys = document.getElementById("study-key");
    const chosen = data.keys.includes(keys.value) ? keys.value : data.keys[0];
    keys.replaceChildren(...data.keys.map((k) => { const o = el("option", k); o.value = k; return o; }));
    if (chosen !== undefined) keys.value = chosen;
    const Plotly = await loadPlotly();
    const runs = data.runs.filter((r) => r.value !== null);
    const order = runs.map((r) => data.runs.indexOf(r) + 1);
    // the best so far counts completed runs only (a pruned or running run's number is partial)
    const best = [];
    let sofar = null;
    runs.forEach((r) => {
      if (r.status === "completed") {
        sofar = sofar === null ? r.value : (data.better === "lower" ? Math.min(sofar, r.value) : Math.max(sofar, r.value));
      }
      best.push(sofar);
    });
    const traces = [{ x: order, y: runs.map((r) => r.value), mode: "markers", type: "scatter",
      name: plotText(data.metric || "") + " (grey: not completed)", text: runs.map((r) => plotText(r.id + " " + r.status)),
      hovertemplate: "%{text}<br>%{y:.4g}<extra></extra>",
      marker: { color: runs.map((r) => (r.status === "completed" ? color(0) : "#aaa")) } }];
    if (data.better) {
      traces.push({ x: order, y: best, mode: "lines", type: "scatter", name: "best so far",
        line: { shape: "hv", color: color(3) }, hoverinfo: "skip" });
    }
    const axis = plotText(data.metric || "") + (data.better ? " (" + data.better + " is better)" : "");
    await Plotly.react("history-chart", traces, {
      title: { text: "optimisation history" }, margin: { l: 60, r: 20, t: 40, b: 80 }, legend: below(),
      xaxis: { title: { text: "run (in start order)" } }, yaxis: { title: { text: axis } },
    }, CONFIG);
    document.getElementById("history-chart").dataset.runs = String(runs.length);
    await drawSlice();
  }

  // The metric against one differing key: numbers on a linear axis, anything else by category.
  async function drawSlice() {
    const data = state.study;
    const key = document.getElementById("study-key").value;
    const at = data.keys.indexOf(key);
    const runs = data.runs.filter((r) => r.value !== null);
    const Plotly = await loadPlotly();
    await Plotly.react("slice-chart", [{
      x: runs.map((r) => (at >= 0 ? r.params[at] : null)), y: runs.map((r) => r.value),
      mode: "markers", type: "scatter", text: runs.map((r) => plotText(r.id)),
      hovertemplate: "%{text}<br>%{x}: %{y:.4g}<extra></extra>", marker: { color: color(0) },
    }], {
      title: { text: plotText(data.metric || "") + " against " + plotText(key || "(no key differs)") },
      margin: { l: 60, r: 20, t: 40, b: 80 }, xaxis: { title: { text: plotText(key || "") } },
      yaxis: { title: { text: plotText(data.metric || "") } },
    }, CONFIG);
    document.getElementById("slice-chart").dataset.key = key || "";
  }

  function sortFor(column) {
    // first click: the column's own order; a click on the sorted column flips it
    const sorted = current && current.sort;
    if (sorted && sorted.key === column.name) return (sorted.descending ? "+" : "-") + column.name;
    return column.first;
  }

  function render(data) {
    current = data;
    document.getElementById("directory").textContent = data.directory;
    document.getElementById("count").textContent =
      data.rows.length + (data.grouped ? " rows" : " runs") + " of " + data.n_read + " read";
    document.getElementById("empty").hidden = data.n_read > 0;
    showWarnings(data.warnings, data.n_warnings);

    const head = el("tr");
    head.appendChild(el("th", "", "select"));
    data.columns.forEach((column) => {
      const th = el("th", column.name, column.numeric ? "num" : "");
      th.dataset.column = column.name;
      if (data.sort && data.sort.key === column.name) th.classList.add(data.sort.descending ? "sorted-desc" : "sorted-asc");
      th.title = column.metric ? (column.better ? column.better + " is better" : "no better direction") : "sort";
      th.addEventListener("click", () => { state.sort = sortFor(column); refresh(); });
      head.appendChild(th);
    });
    table.tHead.replaceChildren(head);

    const body = document.createDocumentFragment();
    const idIndex = data.columns.findIndex((c) => c.name === "id");
    const statusIndex = data.columns.findIndex((c) => c.name === "status");
    data.rows.slice(0, state.shown).forEach((row) => {
      const key = row.ids.join(" ");
      const tr = el("tr");
      tr.dataset.ids = key;
      const box = el("input");
      box.type = "checkbox";
      box.checked = state.selected.has(key);
      tr.classList.toggle("selected", box.checked);
      box.addEventListener("change", () => {
        if (box.checked) state.selected.set(key, row.ids); else state.selected.delete(key);
        tr.classList.toggle("selected", box.checked);
        updateOverlay();
      });
      const pick = el("td");
      pick.appendChild(box);
      tr.appendChild(pick);
      row.cells.forEach((text, i) => {
        const td = el("td", null, data.columns[i].numeric ? "num" : "");
        if (i === idIndex) {
          const link = el("a", text);
          link.href = "/run?" + inFolder({ id: row.ids[0] }).toString();
          td.appendChild(link);
        } else {
          td.textContent = text;
        }
        if (i === statusIndex) td.className = statusClass(row.status);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.tBodies[0].replaceChildren(body);
    const more = document.getElementById("more");
    const hidden = data.rows.length - Math.min(state.shown, data.rows.length);
    more.hidden = hidden <= 0;
    more.textContent = "show " + Math.min(hidden, PAGE_ROWS) + " more (" + hidden + " not shown)";
  }

  // Query parameters naming runs of the page's folder (DIR's own runs without one).
  function inFolder(values) {
    const params = new URLSearchParams();
    if (state.folder) params.set("folder", state.folder);
    Object.entries(values).forEach(([k, v]) => params.append(k, v));
    return params;
  }

  // The folders below DIR that hold runs (a sweep's trials): links to their tables.
  async function showFolders() {
    let data;
    try {
      ({ data } = await getJSON("/api/folders"));
    } catch (err) {
      return;
    }
    const nav = document.getElementById("folders");
    const links = [["", "DIR"], ...data.folders.map((f) => [f, f])].map(([folder, text]) => {
      const link = el("a", text, folder === state.folder ? "current" : "");
      link.href = folder ? "/?folder=" + encodeURIComponent(folder) : "/";
      link.dataset.folder = folder;
      return link;
    });
    const sweeps = (data.sweeps || []).map((folder) => {
      const link = el("a", "sweep " + (folder || "DIR"), "sweep-link");
      link.href = "/sweep?" + new URLSearchParams({ folder: folder }).toString();
      link.dataset.sweep = folder;
      return link;
    });
    nav.replaceChildren(el("span", "folders:", "muted"), ...links, ...sweeps);
    nav.hidden = data.folders.length === 0 && !state.folder;
  }

  function selectedIds() {
    const ids = [];
    state.selected.forEach((list) => list.forEach((id) => ids.push(id)));
    return ids;
  }

  async function updateOverlay() {
    const ids = selectedIds();
    const section = document.getElementById("overlay");
    section.hidden = ids.length === 0;
    const key = ids.join(" ");
    if (key === state.overlayKey) return;
    state.overlayKey = key;
    if (!ids.length) return;
    document.getElementById("selection").textContent = "(" + ids.length + ")";
    const params = inFolder({});
    ids.forEach((id) => params.append("run", id));
    const base = "/api/roc/figure?" + params.toString();
    document.getElementById("export-roc-png").href = base + "&format=png";
    document.getElementById("export-roc-pdf").href = base + "&format=pdf";
    document.getElementById("export-rej-png").href = base + "&hep=1&format=png";
    document.getElementById("export-rej-pdf").href = base + "&hep=1&format=pdf";
    const notes = document.getElementById("overlay-warnings");
    try {
      const data = await fetchRoc(params);
      if (state.overlayKey !== key) return; // a newer selection is on its way
      const [histories, scores] = await Promise.all([
        getJSON("/api/histories?" + params.toString()),
        getJSON("/api/scores?" + params.toString()),
      ]);
      if (state.overlayKey !== key) return;
      notes.replaceChildren(...data.warnings.map((w) => el("li", w)));
      await drawOverlayRoc(data);
      state.histories = histories.data.runs;
      fillCurveChoices();
      await drawCurves();
      await drawScores(scores.data);
    } catch (err) {
      notes.replaceChildren(el("li", String(err.message || err)));
    }
  }

  // The ROC curves and the rejection ratios to the picked reference run (the first run's if the
  // picked one is no longer in the overlay).
  async function fetchRoc(params) {
    const ask = new URLSearchParams(params);
    if (state.reference && params.getAll("run").includes(state.reference)) ask.set("reference", state.reference);
    let answer;
    try {
      answer = await getJSON("/api/roc?" + ask.toString());
    } catch (err) {
      if (!ask.has("reference")) throw err;
      answer = await getJSON("/api/roc?" + params.toString()); // the reference was left out
    }
    return answer.data;
  }

  async function drawOverlayRoc(data) {
    const select = document.getElementById("ratio-reference");
    select.replaceChildren(...data.curves.map((c) => { const o = el("option", c.run); o.value = c.run; return o; }));
    if (data.ratio) select.value = data.ratio.reference;
    select.disabled = data.curves.length < 2;
    await drawRoc(data.curves, "roc-chart", "rejection-chart", colorOf, data.ratio);
  }

  async function changeReference() {
    state.reference = document.getElementById("ratio-reference").value;
    const key = state.overlayKey;
    const params = inFolder({});
    selectedIds().forEach((id) => params.append("run", id));
    try {
      const data = await fetchRoc(params);
      if (state.overlayKey === key) await drawOverlayRoc(data);
    } catch (err) {
      document.getElementById("overlay-warnings").replaceChildren(el("li", String(err.message || err)));
    }
  }

  // A run's colour: its place in the selection, the same in every chart.
  function colorOf(runId, i) {
    const at = selectedIds().indexOf(runId);
    return color(at >= 0 ? at : i);
  }

  // The history columns of the selected runs (training logs, not bookkeeping); val_loss first.
  function fillCurveChoices() {
    const select = document.getElementById("curve-column");
    const names = [];
    state.histories.forEach((run) => run.history.columns.forEach((c) => {
      if (c !== "epoch" && !run.history.bookkeeping.includes(c) && !names.includes(c)) names.push(c);
    }));
    const keep = names.includes(select.value) ? select.value : (names.includes("val_loss") ? "val_loss" : names[0]);
    select.replaceChildren(...names.map((n) => { const o = el("option", n); o.value = n; return o; }));
    if (keep !== undefined) select.value = keep;
  }

  async function drawCurves() {
    const column = document.getElementById("curve-column").value;
    const Plotly = await loadPlotly();
    const traces = state.histories.map((run, i) => {
      const h = run.history;
      const at = h.columns.indexOf(column), ep = h.columns.indexOf("epoch");
      return {
        x: h.rows.map((r, j) => (ep >= 0 ? r[ep] : j + 1)), y: h.rows.map((r) => (at >= 0 ? r[at] : null)),
        mode: "lines+markers", type: "scatter", name: plotText(run.run), line: { color: colorOf(run.run, i) },
      };
    });
    await Plotly.react("curves-chart", traces, {
      title: { text: plotText(column || "") }, margin: { l: 60, r: 20, t: 40, b: 80 },
      xaxis: { title: { text: "epoch" } }, legend: below(),
    }, CONFIG);
    document.getElementById("curves-chart").dataset.runs = String(traces.length);
  }

  async function drawScores(data) {
    const Plotly = await loadPlotly();
    const centres = data.edges.slice(0, -1).map((e, i) => (e + data.edges[i + 1]) / 2);
    const traces = [];
    data.runs.forEach((run, i) => {
      [["signal", "solid"], ["background", "dash"]].forEach(([name, dash]) => {
        if (!run[name]) return;
        traces.push({ x: centres, y: run[name], type: "scatter", mode: "lines", line: { shape: "hvh", dash: dash, color: colorOf(run.run, i) },
          name: plotText(run.run) + " " + name });
      });
    });
    await Plotly.react("scores-chart", traces, {
      title: { text: "score distributions (test)" }, margin: { l: 60, r: 20, t: 40, b: 50 },
      xaxis: { title: { text: "score" } }, yaxis: { title: { text: "density" } }, showlegend: false,
    }, CONFIG);
    document.getElementById("scores-chart").dataset.runs = String(data.runs.length);
  }

  document.getElementById("curve-column").addEventListener("change", drawCurves);
  document.getElementById("ratio-reference").addEventListener("change", changeReference);
  document.getElementById("study").addEventListener("toggle", (event) => { if (event.target.open) updateStudy(); });
  document.getElementById("study-metric").addEventListener("change", updateStudy);
  document.getElementById("study-key").addEventListener("change", drawSlice);
  document.getElementById("more").addEventListener("click", () => {
    state.shown += PAGE_ROWS;
    if (current) render(current);
  });
  document.getElementById("clear").addEventListener("click", () => {
    state.selected.clear();
    table.querySelectorAll("tbody input[type=checkbox]").forEach((b) => { b.checked = false; });
    table.querySelectorAll("tbody tr.selected").forEach((tr) => tr.classList.remove("selected"));
    updateOverlay();
  });
  let typing = null;
  filterBox.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(refresh, 350); });
  groupBox.addEventListener("change", refresh);
  allBox.addEventListener("change", refresh);

  readAddress();
  refresh();
  showFolders();
  setInterval(refresh, POLL_MS);
  setInterval(showFolders, 5 * POLL_MS);
})();
