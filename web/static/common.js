"use strict";
// Helpers shared by the gallery pages: JSON requests that surface the API's error messages, and image elements.

window.acn = (() => {
  // Return the message of an API error body {"detail": {"code", "message"}}, or describe the status.
  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.detail && typeof body.detail.message === "string") {
        return body.detail.message;
      }
    } catch (ignored) {
      // The body is not JSON (a proxy's error page, say), so the status line describes the error.
    }
    return `the server returned ${response.status} ${response.statusText}`;
  }

  // Fetch a JSON resource. A failed request throws an Error whose message is the server's own.
  async function requestJson(url, options) {
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      throw new Error(`the server could not be reached (${error.message})`);
    }
    if (!response.ok) {
      throw new Error(await errorMessage(response));
    }
    return response.json();
  }

  // Show a message in an alert element, or hide the element when the message is empty.
  function showError(element, message) {
    element.textContent = message || "";
    element.hidden = !message;
  }

  function makeImage(src, alt, className) {
    const image = document.createElement("img");
    image.src = src;
    image.alt = alt;
    image.className = className || "pixel-image";
    return image;
  }

  return { requestJson, showError, makeImage };
})();
