// Plots drawn by the console itself as SVG (no chart library): bars per day stacked by
// office, and a histogram. Colours and sizes live in console.css through classes.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c);
  return el;
}

function text(x, y, value, cls) {
  const el = svg("text", { x, y, class: cls });
  el.textContent = value;
  return el;
}

// days: [{label, parts: [{key, value}]}]; keys: the series in legend order.
export function stackedBars(days, keys, { title, testid }) {
  const width = 1200, height = 300, left = 48, bottom = 40, top = 16;
  const right = 220;
  const plotW = width - left - right, plotH = height - top - bottom;
  // a multiple of 4, so the four gridlines fall on whole numbers (counts are whole)
  const max = 4 * Math.ceil(Math.max(1, ...days.map((d) => d.parts.reduce((s, p) => s + p.value, 0))) / 4);
  const step = plotW / Math.max(1, days.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart", "data-testid": testid });
  const label = svg("title");
  label.textContent = title;
  chart.append(label);
  for (let i = 0; i <= 4; i += 1) {
    const y = top + plotH - (plotH * i) / 4;
    chart.append(svg("line", { x1: left, x2: left + plotW, y1: y, y2: y, class: "gridline" }),
      text(left - 8, y + 5, String(Math.round((max * i) / 4)), "axis end"));
  }
  days.forEach((day, i) => {
    let y = top + plotH;
    const x = left + i * step + step * 0.15;
    for (const part of day.parts) {
      if (part.value <= 0) continue;
      const hgt = (plotH * part.value) / max;
      y -= hgt;
      const bar = svg("rect", { x, y, width: step * 0.7, height: hgt, class: `series s${keys.indexOf(part.key) % 8}` });
      const tip = svg("title");
      tip.textContent = `${day.label} · ${part.key}: ${part.value}`;
      bar.append(tip);
      chart.append(bar);
    }
    chart.append(text(x + step * 0.35, height - bottom + 22, day.label, "axis middle"));
  });
  keys.forEach((key, i) => {
    const y = top + 10 + i * 26;
    chart.append(svg("rect", { x: width - right + 20, y, width: 16, height: 16, class: `series s${i % 8}` }),
      text(width - right + 44, y + 14, key, "legend"));
  });
  return chart;
}

// buckets: [{label, value}]
export function histogram(buckets, { title, testid }) {
  const width = 1200, height = 260, left = 48, bottom = 40, top = 16;
  const plotW = width - left - 20, plotH = height - top - bottom;
  const max = Math.max(1, ...buckets.map((b) => b.value));
  const step = plotW / buckets.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart", "data-testid": testid });
  const label = svg("title");
  label.textContent = title;
  chart.append(label);
  buckets.forEach((b, i) => {
    const hgt = (plotH * b.value) / max;
    const x = left + i * step + step * 0.1;
    chart.append(svg("rect", { x, y: top + plotH - hgt, width: step * 0.8, height: hgt, class: "series s0" }),
      text(x + step * 0.4, top + plotH - hgt - 6, String(b.value), "axis middle"),
      text(x + step * 0.4, height - bottom + 22, b.label, "axis middle"));
  });
  chart.append(svg("line", { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH, class: "gridline" }));
  return chart;
}
