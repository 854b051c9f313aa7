"use strict";
// Home page: send a dropped, chosen or drawn image to /api/encode, then open its result view.

(() => {
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file-input");
  const status = document.getElementById("upload-status");
  const error = document.getElementById("upload-error");

  async function upload(file) {
    acn.showError(error, "");
    status.textContent = `Encoding ${file.name}…`;
    const body = new FormData();
    body.append("files", file, file.name);
    try {
      const result = await acn.requestJson("/api/encode", { method: "POST", body });
      status.textContent = "Opening the result…";
      window.location.assign(`/uploads/${result.items[0].upload_id}`);
    } catch (failure) {
      status.textContent = "";
      acn.showError(error, failure.message);
    }
  }

  input.addEventListener("change", () => {
    if (input.files.length > 0) {
      upload(input.files[0]);
    }
    input.value = "";  // so that choosing the same file again fires change again
  });

  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("dragover", (event) => {
    event.preventDefault();
    form.classList.add("dragging");
  });
  form.addEventListener("dragleave", () => form.classList.remove("dragging"));
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    form.classList.remove("dragging");
    const files = event.dataTransfer.files;
    if (files.length === 0) {
      acn.showError(error, "The dropped item is not a file; drop an image file.");
      return;
    }
    upload(files[0]);
  });

  setUpCanvas(upload);

  // Digit models only: a canvas to draw white ink on black, like MNIST, searched as a PNG file.
  function setUpCanvas(send) {
    const canvas = document.getElementById("draw-canvas");
    if (!canvas) {
      return;
    }
    const context = canvas.getContext("2d");
    let drawing = false;
    let hasInk = false;

    function clear() {
      context.fillStyle = "#000";
      context.fillRect(0, 0, canvas.width, canvas.height);
      hasInk = false;
    }

    // Return the pointer position in canvas pixels, because CSS scales the canvas on narrow screens.
    function position(event) {
      const box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
    }

    canvas.addEventListener("pointerdown", (event) => {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      const [x, y] = position(event);
      context.beginPath();
      context.moveTo(x, y);
      context.lineTo(x, y);
      context.stroke();
      hasInk = true;
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drawing) {
        return;
      }
      const [x, y] = position(event);
      context.lineTo(x, y);
      context.stroke();
    });
    const stop = () => { drawing = false; };
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);

    document.getElementById("draw-clear").addEventListener("click", clear);
    document.getElementById("draw-search").addEventListener("click", () => {
      if (!hasInk) {
        acn.showError(error, "The canvas is empty; draw a digit first.");
        return;
      }
      canvas.toBlob((blob) => send(new File([blob], "drawing.png", { type: "image/png" })), "image/png");
    });

    clear();
    context.strokeStyle = "#fff";
    context.lineWidth = canvas.width / 12;  // about the stroke width of an MNIST digit
    context.lineCap = "round";
    context.lineJoin = "round";
  }
})();
