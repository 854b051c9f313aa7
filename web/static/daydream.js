"use strict";
// Result view: a daydream chain from /api/daydreams/stream (server-sent events), shown frame by frame.
// EventSource reconnects on its own after a dropped connection, which would start a new chain, so the
// page closes it on every end, error and stop, and offers a restart instead.

(() => {
  const result = document.getElementById("result");
  const kind = result.dataset.sourceKind;
  const id = result.dataset.sourceId;
  const form = document.getElementById("daydream-form");
  const lengthInput = document.getElementById("daydream-length");
  const startButton = document.getElementById("daydream-start");
  const stopButton = document.getElementById("daydream-stop");
  const restartButton = document.getElementById("daydream-restart");
  const progress = document.getElementById("daydream-progress");
  const status = document.getElementById("daydream-status");
  const error = document.getElementById("daydream-error");
  const frames = document.getElementById("daydream-frames");
  const maxLength = Number(form.dataset.maxLength);

  let stream = null;
  let length = 0;
  let received = 0;

  function setRunning(running) {
    startButton.disabled = running;
    stopButton.disabled = !running;
    lengthInput.disabled = running;
    progress.hidden = !running;
  }

  function close() {
    if (stream !== null) {
      stream.close();
      stream = null;
    }
    setRunning(false);
  }

  function addFrame(step, url, caption) {
    const item = document.createElement("li");
    item.dataset.step = String(step);
    item.dataset.arrivedMs = String(performance.now());
    const figure = document.createElement("figure");
    const label = document.createElement("figcaption");
    label.textContent = caption;
    figure.append(acn.makeImage(url, step === 0 ? `Daydream start: ${kind} ${id}` : `Daydream step ${step} of ${length}`), label);
    item.append(figure);
    frames.append(item);
  }

  function start() {
    close();
    acn.showError(error, "");
    restartButton.hidden = true;
    length = Number(lengthInput.value);
    if (!Number.isInteger(length) || length < 1 || length > maxLength) {
      acn.showError(error, `Chain length ${lengthInput.value} is invalid; choose a whole number from 1 to ${maxLength}.`);
      return;
    }

    received = 0;
    frames.replaceChildren();
    progress.value = 0;
    status.textContent = "Starting the daydream…";
    setRunning(true);
    const query = new URLSearchParams({ [`${kind}_id`]: id, length: String(length), progress: "true" });
    stream = new EventSource(`/api/daydreams/stream?${query}`);
    listen(stream);
  }

  function listen(source) {
    source.addEventListener("start", (event) => {
      const data = JSON.parse(event.data);
      addFrame(0, data.image, "start");
      status.textContent = `Dreaming ${length} steps…`;
    });
    source.addEventListener("progress", (event) => {
      const data = JSON.parse(event.data);
      progress.value = ((data.step - 1) * data.rows + data.rows_done) / (length * data.rows);
    });
    source.addEventListener("image", (event) => {
      const data = JSON.parse(event.data);
      received += 1;
      addFrame(data.step, data.image, `step ${data.step}`);
      status.textContent = `Received ${received} of ${length} frames.`;
    });
    source.addEventListener("end", () => {
      close();
      status.textContent = `Daydream finished: ${received} frames.`;
    });
    source.addEventListener("error", (event) => {
      close();
      if (event.data !== undefined) {
        // An error event that the server sent: the chain failed there.
        const data = JSON.parse(event.data);
        acn.showError(error, `The daydream failed: ${data.message}`);
      } else {
        // The connection dropped or was refused before the end event.
        acn.showError(error, `The event stream stopped after ${received} of ${length} frames.`);
      }
      status.textContent = "";
      restartButton.hidden = false;
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start();
  });
  restartButton.addEventListener("click", () => {
    start();
    startButton.focus();
  });
  stopButton.addEventListener("click", () => {
    close();
    status.textContent = `Stopped after ${received} of ${length} frames.`;
    startButton.focus();
  });
  window.addEventListener("pagehide", close);
})();
