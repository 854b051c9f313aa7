"use strict";
// Latent map: indexed codes projected by PCA (from /api/latent-map) drawn as an SVG scatter plot,
// coloured by label, with the query image ringed. The plot is one focus stop: the arrow keys step
// through the points from left to right, Enter opens the selected one.

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 1000;
  const HEIGHT = 700;
  const MARGIN = 30;
  // Tableau 10, then evenly spread hues for data sets with more labels.
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

  const panel = document.getElementById("map-panel");
  const svg = document.getElementById("map");
  const tooltip = document.getElementById("map-tooltip");
  const status = document.getElementById("map-status");
  const error = document.getElementById("map-error");
  const summary = document.getElementById("map-summary");
  const legend = document.getElementById("map-legend");

  function colour(label) {
    if (label === null) {
      return PALETTE[0];
    }
    return label < PALETTE.length ? PALETTE[label] : `hsl(${(label * 137.5) % 360}, 60%, 50%)`;
  }

  function labelName(point) {
    return point.class_name || (point.label === null ? "" : String(point.label));
  }

  // Map data coordinates into the view box, keeping the aspect ratio of the two components.
  function makeScale(points) {
    const xs = points.map((point) => point.x);
    const ys = points.map((point) => point.y);
    const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
    const spanX = Math.max(maxX - minX, 1e-9), spanY = Math.max(maxY - minY, 1e-9);
    const factor = Math.min((WIDTH - 2 * MARGIN) / spanX, (HEIGHT - 2 * MARGIN) / spanY);
    const offsetX = (WIDTH - factor * spanX) / 2, offsetY = (HEIGHT - factor * spanY) / 2;
    return (x, y) => [offsetX + (x - minX) * factor, HEIGHT - (offsetY + (y - minY) * factor)];
  }

  function element(name, attributes) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      node.setAttribute(key, String(value));
    }
    return node;
  }

  function showTooltip(point, circle) {
    const image = tooltip.querySelector("img");
    image.src = point.image_url;
    image.alt = `Indexed image ${point.id}`;
    const name = labelName(point);
    tooltip.querySelector("figcaption").textContent = `image ${point.id}${name ? `, label ${name}` : ""}`;
    const box = circle.getBoundingClientRect();
    const frame = svg.parentElement.getBoundingClientRect();
    tooltip.style.left = `${Math.min(box.left - frame.left + 12, frame.width - 110)}px`;
    tooltip.style.top = `${box.top - frame.top + 12}px`;
    tooltip.hidden = false;
  }

  function drawLegend(points) {
    const counts = new Map();
    for (const point of points) {
      if (point.label !== null) {
        counts.set(point.label, { name: labelName(point), count: (counts.get(point.label)?.count || 0) + 1 });
      }
    }
    const entries = [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([label, entry]) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour(label);
      item.append(swatch, `${entry.name} (${entry.count})`);
      return item;
    });
    legend.replaceChildren(...entries);
    legend.hidden = entries.length === 0;
  }

  function draw(map) {
    const scale = makeScale(map.query ? [...map.points, map.query] : map.points);
    const circles = map.points.map((point) => {
      const [cx, cy] = scale(point.x, point.y);
      const circle = element("circle", { cx, cy, r: 5, fill: colour(point.label), class: "map-point" });
      const title = element("title", {});
      const name = labelName(point);
      title.textContent = `Image ${point.id}${name ? `, label ${name}` : ""}`;
      circle.append(title);
      circle.addEventListener("mouseenter", () => showTooltip(point, circle));
      circle.addEventListener("mouseleave", () => { tooltip.hidden = true; });
      circle.addEventListener("click", () => window.location.assign(`/images/${point.id}`));
      return circle;
    });
    svg.replaceChildren(...circles);
    if (map.query) {
      const [cx, cy] = scale(map.query.x, map.query.y);
      const marker = element("g", { id: "map-query", class: "map-query" });
      const title = element("title", {});
      title.textContent = `${map.query.kind} ${map.query.id}, the query`;
      // A white halo under the black ring keeps the marker visible on top of points of any colour.
      marker.append(
        title,
        element("circle", { cx, cy, r: 14, class: "halo" }),
        element("circle", { cx, cy, r: 14 }),
        element("circle", { cx, cy, r: 3, class: "centre" }),
      );
      svg.append(marker);
    }
    setUpKeyboard(map.points, circles);
    drawLegend(map.points);
    const [varianceX, varianceY] = map.explained_variance_ratio.map((ratio) => (100 * ratio).toFixed(1));
    summary.textContent = `Scatter plot of ${map.points.length} of ${map.indexed_images} indexed images of model ${map.model_version}. ` +
      `The horizontal axis explains ${varianceX} % of the code variance, the vertical one ${varianceY} %.` +
      (map.query ? ` The ringed point is ${map.query.kind} ${map.query.id}.` : "");
  }

  function setUpKeyboard(points, circles) {
    const order = points.map((point, index) => index).sort((a, b) => points[a].x - points[b].x);
    let position = -1;
    svg.setAttribute("tabindex", "0");
    svg.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        const step = event.key === "ArrowRight" ? 1 : -1;
        position = Math.min(Math.max(position + step, 0), order.length - 1);
        const index = order[position];
        circles.forEach((circle) => circle.classList.remove("selected"));
        circles[index].classList.add("selected");
        showTooltip(points[index], circles[index]);
        status.textContent = circles[index].querySelector("title").textContent;
      } else if (event.key === "Enter" && position >= 0) {
        window.location.assign(`/images/${points[order[position]].id}`);
      } else if (event.key === "Escape") {
        tooltip.hidden = true;
      }
    });
    svg.addEventListener("blur", () => { tooltip.hidden = true; });
  }

  async function load() {
    const query = new URLSearchParams({ points: "1000" });
    if (panel.dataset.uploadId) {
      query.set("upload_id", panel.dataset.uploadId);
    } else if (panel.dataset.imageId) {
      query.set("image_id", panel.dataset.imageId);
    }
    try {
      const map = await acn.requestJson(`/api/latent-map?${query}`);
      draw(map);
      status.textContent = "Use the left and right arrow keys on the map to step through the points, Enter to open one.";
    } catch (failure) {
      status.textContent = "";
      acn.showError(error, `The map could not be loaded: ${failure.message}`);
    }
  }

  load();
})();
