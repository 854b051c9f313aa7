"use strict";
// The admin page: start and watch training runs, read their reports, activate versions and add images.
// Requests carry the session cookie, and every state-changing one also sends the page's CSRF token.

(() => {
  const root = document.getElementById("admin");
  const csrf = { [root.dataset.csrfHeader]: root.dataset.csrfToken };
  let stream = null;

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function button(label, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = label;
    element.addEventListener("click", onClick);
    return element;
  }

  async function loadRuns() {
    const runs = await acn.requestJson("/api/admin/training-runs");
    const body = document.querySelector("#runs tbody");
    body.replaceChildren();
    for (const run of runs) {
      const row = document.createElement("tr");
      cell(row, run.id);
      cell(row, run.state);
      cell(row, run.stage);
      cell(row, `${Math.round(run.progress * 100)}%`);
      cell(row, run.request.data);
      const actions = cell(row, "");
      actions.appendChild(button("Watch", () => watch(run.id)));
      if (run.state === "queued" || run.state === "running") {
        actions.appendChild(button("Cancel", () => cancel(run.id)));
      }
      body.appendChild(row);
    }
  }

  async function cancel(runId) {
    try {
      await acn.requestJson(`/api/admin/training-runs/${runId}`, { method: "DELETE", headers: csrf });
    } catch (error) {
      acn.showError(document.getElementById("start-status"), error.message);
    }
    await loadRuns();
  }

  function watch(runId) {
    if (stream) {
      stream.close();
    }
    document.getElementById("run-detail").hidden = false;
    document.getElementById("run-heading").textContent = `Run ${runId}`;
    stream = new EventSource(`/api/admin/training-runs/${runId}/events`);
    stream.addEventListener("run", (event) => showRun(JSON.parse(event.data)));
    stream.addEventListener("end", () => {
      stream.close();
      loadRuns();
      loadVersions();
    });
  }

  function showRun(run) {
    document.getElementById("run-progress").value = run.progress;
    const error = document.getElementById("run-error");
    error.hidden = !run.error;
    error.textContent = run.error || "";
    document.getElementById("run-swap").textContent = run.swap
      ? `${run.swap.activate ? "Activated" : "Not activated"}: ${run.swap.reasons.join("; ")}`
      : "";
    document.getElementById("run-log").textContent = run.log_tail;
    drawLosses(run.metrics.filter((row) => row.kl !== undefined));
    showReport(run);
  }

  // Draw KL and reconstruction against step, each scaled to its own range so both stay visible.
  function drawLosses(rows) {
    const canvas = document.getElementById("loss-chart");
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    if (rows.length < 2) {
      return;
    }
    const steps = rows.map((row) => row.step);
    const first = Math.min(...steps);
    const span = Math.max(...steps) - first || 1;
    const series = [["reconstruction", "#1f5fbf"], ["kl", "#c2410c"]];
    series.forEach(([field, colour], index) => {
      const values = rows.map((row) => row[field]);
      const low = Math.min(...values);
      const range = Math.max(...values) - low || 1;
      context.strokeStyle = colour;
      context.beginPath();
      rows.forEach((row, position) => {
        const x = 40 + ((row.step - first) / span) * (canvas.width - 50);
        const y = canvas.height - 20 - ((row[field] - low) / range) * (canvas.height - 40);
        if (position === 0) {
          context.moveTo(x, y);
        } else {
          context.lineTo(x, y);
        }
      });
      context.stroke();
      context.fillStyle = colour;
      context.fillText(`${field} ${low.toFixed(1)}..${(low + range).toFixed(1)}`, 45, 14 + 14 * index);
    });
  }

  function showReport(run) {
    const body = document.querySelector("#report tbody");
    body.replaceChildren();
    const figures = document.getElementById("figures");
    figures.replaceChildren();
    if (!run.report) {
      const row = document.createElement("tr");
      cell(row, run.request.evaluate ? "no report yet" : "evaluation was skipped for this run");
      body.appendChild(row);
      return;
    }
    const report = run.report;
    const fields = [
      ["reconstruction (nats)", report.reconstruction],
      ["ordered (nats)", report.ordered],
      ["unordered (nats)", report.unordered],
      ["KL K=1 (nats)", report.kl && report.kl.k1],
      ["linear probe on codes", report.linear_probe && report.linear_probe.codes],
      ["k-NN k=1 on codes", report.knn_accuracy && report.knn_accuracy.codes && report.knn_accuracy.codes.k1],
    ];
    for (const [name, value] of fields) {
      const row = document.createElement("tr");
      cell(row, name);
      cell(row, typeof value === "number" ? value.toFixed(3) : "n/a");
      body.appendChild(row);
    }
    for (const name of report.figures || []) {
      figures.appendChild(acn.makeImage(`/api/admin/training-runs/${run.id}/figures/${encodeURIComponent(name)}`, name, "figure"));
    }
  }

  function percent(value) {
    return typeof value === "number" ? `${(100 * value).toFixed(1)}%` : "n/a";
  }

  async function loadVersions() {
    const models = await acn.requestJson("/api/models");
    const body = document.querySelector("#versions tbody");
    body.replaceChildren();
    for (const version of models.versions) {
      const row = document.createElement("tr");
      const summary = version.summary || {};
      cell(row, version.id);
      cell(row, version.active ? `${version.version} (active)` : version.version);
      cell(row, typeof summary.dataset === "object" && summary.dataset ? summary.dataset.name : summary.dataset);
      cell(row, summary.indexed_images);
      cell(row, summary.checkpoint_step);
      // The evaluation numbers side by side, so versions can be compared before one is activated.
      const metrics = summary.metrics || {};
      cell(row, percent(metrics.linear_probe && metrics.linear_probe.codes));
      cell(row, percent(metrics.knn_accuracy && metrics.knn_accuracy.codes && metrics.knn_accuracy.codes.k1));
      cell(row, typeof metrics.unordered === "number" ? metrics.unordered.toFixed(2) : "n/a");
      cell(row, version.registered_at);
      const actions = cell(row, "");
      if (!version.active) {
        actions.appendChild(button("Activate", () => activate(version.id)));
      }
      body.appendChild(row);
    }
  }

  async function activate(versionId) {
    const status = document.getElementById("versions-status");
    status.textContent = "Activating…";
    try {
      const version = await acn.requestJson(`/api/admin/models/${versionId}/activate`, { method: "POST", headers: csrf });
      status.textContent = `Version ${version.version} is active.`;
    } catch (error) {
      acn.showError(status, error.message);
    }
    await loadVersions();
  }

  function numberOrNull(text) {
    return text === "" ? null : Number(text);
  }

  document.getElementById("start-run").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const status = document.getElementById("start-status");
    try {
      const body = {
        data: form.data.value,
        preset: form.preset.value,
        steps: numberOrNull(form.steps.value),
        minutes: numberOrNull(form.minutes.value),
        evaluate: form.evaluate.checked,
        overrides: JSON.parse(form.overrides.value || "{}"),
      };
      const created = await acn.requestJson("/api/admin/training-runs", {
        method: "POST",
        headers: { ...csrf, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      status.textContent = `Run ${created.id} is queued.`;
      await loadRuns();
      watch(created.id);
    } catch (error) {
      acn.showError(status, error.message);
    }
  });

  document.getElementById("add-images").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("add-status");
    try {
      const added = await acn.requestJson("/api/admin/images", { method: "POST", headers: csrf, body: new FormData(event.target) });
      status.textContent = `Added ${added.ids.length} images; the index of ${added.model_version} now has ${added.indexed_images}.`;
    } catch (error) {
      acn.showError(status, error.message);
    }
  });

  loadRuns().catch((error) => acn.showError(document.getElementById("start-status"), error.message));
  loadVersions().catch((error) => acn.showError(document.getElementById("versions-status"), error.message));
})();
