"use strict";
// Samples page: draw unconditional samples from /api/samples on load and on every request.

(() => {
  const form = document.getElementById("samples-form");
  const countInput = document.getElementById("samples-count");
  const button = document.getElementById("samples-draw");
  const list = document.getElementById("samples");
  const status = document.getElementById("samples-status");
  const error = document.getElementById("samples-error");
  const maxCount = Number(form.dataset.maxCount);

  async function draw() {
    const count = Number(countInput.value);
    if (!Number.isInteger(count) || count < 1 || count > maxCount) {
      acn.showError(error, `Image count ${countInput.value} is invalid; choose a whole number from 1 to ${maxCount}.`);
      return;
    }
    acn.showError(error, "");
    button.disabled = true;
    status.textContent = `Drawing ${count} samples…`;
    try {
      const response = await acn.requestJson(`/api/samples?count=${count}`);
      const items = response.samples.map((sample, index) => {
        const item = document.createElement("li");
        item.append(acn.makeImage(sample.image, `Unconditional sample ${index + 1} of ${count}`));
        return item;
      });
      list.replaceChildren(...items);
      status.textContent = `Showing ${count} samples of model ${response.model_version}.`;
    } catch (failure) {
      status.textContent = "";
      acn.showError(error, `Sampling failed: ${failure.message}`);
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    draw();
  });
  draw();
})();
