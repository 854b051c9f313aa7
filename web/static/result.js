"use strict";
// Result view: fetch stochastic reconstructions of the upload or indexed image from /api/reconstructions.

(() => {
  const result = document.getElementById("result");
  const kind = result.dataset.sourceKind;
  const id = Number(result.dataset.sourceId);
  const container = document.getElementById("reconstructions");
  const status = document.getElementById("reconstructions-status");
  const again = document.getElementById("reconstructions-again");
  const SAMPLES = 4;

  async function load() {
    again.disabled = true;
    status.textContent = "Loading reconstructions…";
    try {
      const body = JSON.stringify({ [`${kind}_id`]: id, samples: SAMPLES });
      const response = await acn.requestJson("/api/reconstructions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
      });
      container.replaceChildren(
        ...response.reconstructions.map((url, index) => acn.makeImage(url, `Reconstruction ${index + 1} of ${kind} ${id}`)),
      );
      status.textContent = "";
    } catch (failure) {
      status.textContent = `Reconstructions failed: ${failure.message}`;
    } finally {
      again.disabled = false;
    }
  }

  again.addEventListener("click", load);
  load();
})();
