// The atlas explorer's progressive enhancement: every page works without this file.
// - API key: asked once (a form field), kept in sessionStorage for this tab only;
// - the job, chart, study and import forms post to the server with the kept key in their key
//   field; the cancel forms post to the JSON API with it in X-API-Key;
// - a job's, chart's or study's page and a solution being analysed follow their progress by
//   polling the API;
// - pictures in .zoomable figures zoom and pan; graph nodes light their edges on hover;
// - a table frame is a tab stop only while its table is wider than it (it scrolls).
"use strict";

(function () {
  const KEY = "atlas-api-key";

  function storedKey() {
    try { return sessionStorage.getItem(KEY); } catch (e) { return null; }
  }
  function storeKey(key) {
    try { sessionStorage.setItem(KEY, key); } catch (e) { /* private mode: ask again */ }
  }

  function showKeyState() {
    if (document.querySelector("[data-key-refused]")) {  // the server refused the kept key
      try { sessionStorage.removeItem(KEY); } catch (e) { /* ignore */ }
    }
    const known = Boolean(storedKey());
    document.querySelectorAll("[data-key-field]").forEach((field) => {
      field.hidden = known;
      const input = field.querySelector("input");
      if (input) input.required = !known;
    });
    document.querySelectorAll("[data-key-known]").forEach((note) => { note.hidden = !known; });
  }

  function problemText(body, response) {
    if (body && body.detail) return body.detail;
    return "The server answered " + response.status + " " + response.statusText;
  }

  function showProblem(text, form) {
    const region = document.getElementById((form && form.dataset.problem) || "form-problem");
    if (!region) return;
    region.innerHTML = "";
    if (!text) return;
    const p = document.createElement("p");
    p.className = "problem";
    p.textContent = text;
    region.appendChild(p);
  }

  async function sendJson(url, options) {
    const response = await fetch(url, options);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (response.status === 401 || response.status === 403) {
      try { sessionStorage.removeItem(KEY); } catch (e) { /* ignore */ }
      showKeyState();
    }
    if (!response.ok) throw new Error(problemText(body, response));
    return body;
  }

  const submitters = {
    async "cancel-chart"(form, key) {
      await sendJson("/charts/" + form.dataset.chart + "/cancel", {
        method: "POST", headers: { "X-API-Key": key },
      });
      pollChart(true);
    },
    async "cancel-study"(form, key) {
      await sendJson("/studies/" + form.dataset.study + "/cancel", {
        method: "POST", headers: { "X-API-Key": key },
      });
      pollStudy(true);
    },
    async cancel(form, key) {
      await sendJson("/jobs/" + form.dataset.job + "/cancel", {
        method: "POST", headers: { "X-API-Key": key },
      });
      pollJob(true);
    },
  };

  function enhanceForms() {
    document.querySelectorAll("form[data-api-form]").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        const field = form.querySelector("input[name=api_key]");
        const key = (field && field.value) || storedKey();
        if (!submitters[form.dataset.apiForm]) {
          // The server reads these forms itself (one set of checks and messages, with or
          // without this file): the key kept in this tab rides in their key field.
          if (key) { storeKey(key); if (field) field.value = key; }
          return;
        }
        event.preventDefault();
        if (!key) { showProblem("Give the server's API key first.", form); return; }
        storeKey(key);
        if (field) field.value = "";
        showKeyState();
        const button = form.querySelector("button[type=submit]");
        if (button) button.disabled = true;
        showProblem("", form);
        try {
          await submitters[form.dataset.apiForm](form, key);
        } catch (error) {
          showProblem(error.message, form);
        } finally {
          if (button) button.disabled = false;
        }
      });
    });
    document.querySelectorAll("[data-forget-key]").forEach((button) => {
      button.addEventListener("click", () => {
        try { sessionStorage.removeItem(KEY); } catch (e) { /* ignore */ }
        showKeyState();
      });
    });
  }

  // ---- live progress ---------------------------------------------------------------------
  const FINISHED = ["succeeded", "partially_succeeded", "failed", "cancelled"];

  function statusBadge(value) {
    const span = document.createElement("span");
    span.className = "status status-" + value;
    span.textContent = String(value).replace(/_/g, " ");
    return span;
  }

  function cell(content, numeric) {
    const td = document.createElement("td");
    if (numeric) td.className = "num";
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    return td;
  }

  function formatLoss(value) {
    if (value === null || value === undefined) return "—";
    return Math.abs(value) < 1e-3 ? value.toExponential(2) : value.toPrecision(3);
  }

  function renderJob(root, job) {
    const field = (name) => root.querySelector("[data-field=" + name + "]");
    field("status").replaceChildren(statusBadge(job.status));
    const p = job.progress;
    field("progress").value = p.fraction;
    field("progress").textContent = Math.round(100 * p.fraction) + "%";
    field("progress-text").textContent = p.saved + " of " + job.count + " saved; epoch " + p.epoch +
      " of " + p.max_epochs + "; " + p.converged + " converged, " + p.failed + " failed";
    if (job.finished_at) field("finished").textContent = job.finished_at.replace("T", " ").slice(0, 16) + " UTC";
    const rows = document.querySelector("[data-field=networks]");
    if (rows && job.networks.length) {
      rows.replaceChildren(...job.networks.map((n) => {
        const tr = document.createElement("tr");
        const link = document.createElement("a");
        link.href = "/atlas/solutions/" + n.id;
        link.textContent = n.id;
        tr.append(cell(link), cell(String(n.seed), true), cell(statusBadge(n.status)),
          cell(String(n.epochs ?? "—"), true), cell(formatLoss(n.validation_loss), true),
          cell(statusBadge(n.analysis_status)));
        return tr;
      }));
    }
    const done = FINISHED.includes(job.status);
    field("live").textContent = done ? "Job " + job.status.replace(/_/g, " ") + "." :
      "Live: updated " + new Date().toLocaleTimeString() + ".";
    if (done) {
      root.dataset.unfinished = "false";
      const cancel = document.querySelector("form[data-api-form=cancel]");
      if (cancel) cancel.hidden = true;
    }
    return done;
  }

  let jobTimer = null;
  function pollJob(now) {
    const root = document.getElementById("job");
    if (!root || root.dataset.unfinished !== "true") return;
    clearTimeout(jobTimer);
    const tick = async () => {
      try {
        const job = await sendJson("/jobs/" + root.dataset.job, {});
        if (renderJob(root, job)) return;
      } catch (error) { /* transient: try again */ }
      jobTimer = setTimeout(tick, 1000);
    };
    jobTimer = setTimeout(tick, now ? 0 : 1000);
  }

  // A chart's or a study's page: status and progress follow the JSON at `url`; the page
  // reloads once the work has finished, to show what it found.
  const workTimers = {};
  function pollWork(id, url, describe, now) {
    const root = document.getElementById(id);
    if (!root || root.dataset.unfinished !== "true") return;
    clearTimeout(workTimers[id]);
    const field = (name) => root.querySelector("[data-field=" + name + "]");
    const tick = async () => {
      try {
        const work = await sendJson(url(root), {});
        if (FINISHED.includes(work.status)) { window.location.reload(); return; }
        field("status").replaceChildren(statusBadge(work.status));
        field("progress").value = work.progress.fraction;
        field("progress-text").textContent = describe(work);
        field("live").textContent = "Live: updated " + new Date().toLocaleTimeString() + ".";
      } catch (error) { /* transient */ }
      workTimers[id] = setTimeout(tick, 2000);
    };
    workTimers[id] = setTimeout(tick, now ? 0 : 2000);
  }

  function pollChart(now) {
    pollWork("chart", (root) => "/charts/" + root.dataset.chart, (chart) => {
      const p = chart.progress;
      return p.accepted + " accepted, " + p.trained + " trained, " + p.failed + " failed, " +
        p.analysed + " analysed";
    }, now);
  }

  function pollStudy(now) {
    pollWork("study", (root) => "/studies/" + root.dataset.study, (study) => {
      const p = study.progress;
      return p.finished + " of " + study.count + " trained; step " + p.step + " of " +
        p.max_steps + "; " + p.solved + " solved";
    }, now);
  }

  function pollAnalysis() {
    const root = document.getElementById("analysis-state");
    if (!root || ["done", "failed"].includes(root.dataset.analysisStatus)) return;
    const tick = async () => {
      try {
        const solution = await sendJson("/solutions/" + root.dataset.solution, {});
        if (["done", "failed"].includes(solution.analysis_status)) { window.location.reload(); return; }
        root.querySelector("p").firstChild.textContent =
          "Analysis " + solution.analysis_status + " (live): this page shows more once it is done. ";
      } catch (error) { /* transient */ }
      setTimeout(tick, 1500);
    };
    setTimeout(tick, 1500);
  }

  // ---- zoom and pan ----------------------------------------------------------------------
  function enhanceZoom() {
    document.querySelectorAll("figure.zoomable").forEach((figure) => {
      const frame = figure.querySelector(".zoom-frame");
      const img = frame && frame.querySelector("img");
      if (!img) return;
      let scale = 1, x = 0, y = 0, drag = null;
      const apply = () => {
        img.style.transform = "translate(" + x + "px," + y + "px) scale(" + scale + ")";
      };
      const zoom = (factor, cx, cy) => {
        const next = Math.min(8, Math.max(1, scale * factor));
        const px = cx === undefined ? frame.clientWidth / 2 : cx;
        const py = cy === undefined ? frame.clientHeight / 2 : cy;
        x = px - (px - x) * (next / scale);
        y = py - (py - y) * (next / scale);
        scale = next;
        if (scale === 1) { x = 0; y = 0; }
        apply();
      };
      const tools = document.createElement("div");
      tools.className = "zoom-tools";
      [["+", "Zoom in", () => zoom(1.5)], ["−", "Zoom out", () => zoom(1 / 1.5)],
       ["Reset", "Reset zoom", () => { scale = 1; x = 0; y = 0; apply(); }]].forEach(([text, label, act]) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary";
        button.textContent = text;
        button.setAttribute("aria-label", label);
        button.addEventListener("click", act);
        tools.appendChild(button);
      });
      figure.insertBefore(tools, frame);
      frame.tabIndex = 0;
      frame.setAttribute("role", "group");
      frame.setAttribute("aria-label", "Zoomable picture: + and − zoom, arrow keys pan");
      frame.addEventListener("wheel", (event) => {
        event.preventDefault();
        const box = frame.getBoundingClientRect();
        zoom(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX - box.left, event.clientY - box.top);
      }, { passive: false });
      frame.addEventListener("pointerdown", (event) => {
        if (scale === 1) return;
        drag = { px: event.clientX, py: event.clientY, x, y };
        frame.setPointerCapture(event.pointerId);
      });
      frame.addEventListener("pointermove", (event) => {
        if (!drag) return;
        x = drag.x + event.clientX - drag.px;
        y = drag.y + event.clientY - drag.py;
        apply();
      });
      frame.addEventListener("pointerup", () => { drag = null; });
      frame.addEventListener("keydown", (event) => {
        const steps = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };
        if (event.key === "+" || event.key === "=") zoom(1.5);
        else if (event.key === "-") zoom(1 / 1.5);
        else if (event.key === "0") { scale = 1; x = 0; y = 0; apply(); }
        else if (steps[event.key] && scale > 1) { x += steps[event.key][0]; y += steps[event.key][1]; apply(); }
        else return;
        event.preventDefault();
      });
    });
  }

  // ---- table frames ----------------------------------------------------------------------
  // A table frame (the table_frame macro) is a tab stop so that the arrow keys scroll a table
  // wider than the screen; where its table fits, the tab stop goes, and comes back if not.
  function enhanceTableFrames() {
    const frames = [...document.querySelectorAll("[data-table-frame]")];
    if (!frames.length) return;
    const update = () => frames.forEach((frame) => {
      if (frame.scrollWidth > frame.clientWidth) frame.tabIndex = 0;
      else if (frame !== document.activeElement) frame.removeAttribute("tabindex");
    });
    update();
    if (!("ResizeObserver" in window)) return;  // the tab stops stay, as without this file
    const observer = new ResizeObserver(update);
    frames.forEach((frame) => {
      observer.observe(frame);
      const table = frame.querySelector("table");
      if (table) observer.observe(table);  // rows a poll adds widen the table, not the frame
    });
  }

  // ---- graph hover -----------------------------------------------------------------------
  function enhanceGraphs() {
    document.querySelectorAll("figure.graph-figure").forEach((figure) => {
      const svg = figure.querySelector("svg.graph");
      const info = figure.querySelector(".graph-info");
      if (!svg) return;
      const original = info ? info.textContent : "";
      svg.querySelectorAll(".node").forEach((node) => {
        const id = node.dataset.node;
        const light = (on) => {
          svg.classList.toggle("focused", on);
          node.classList.toggle("lit", on);
          svg.querySelectorAll(".edge").forEach((edge) => {
            const touches = edge.dataset.source === id || edge.dataset.target === id;
            edge.classList.toggle("lit", on && touches);
          });
          if (info) {
            if (!on) { info.textContent = original; return; }
            const edges = [...svg.querySelectorAll(".edge.lit title")].map((t) => t.textContent);
            const title = node.querySelector("title");
            info.textContent = (title ? title.textContent : "node " + id) + (edges.length ? ". " + edges.join("; ") : "");
          }
        };
        node.addEventListener("mouseenter", () => light(true));
        node.addEventListener("mouseleave", () => light(false));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    showKeyState();
    enhanceForms();
    enhanceZoom();
    enhanceGraphs();
    enhanceTableFrames();
    pollJob(false);
    pollChart(false);
    pollStudy(false);
    pollAnalysis();
  });
})();
