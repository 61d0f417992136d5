/* Limestone's client-side image viewer: one script for the dashboard (a Streamlit v2 component),
   the comparison page (two linked panes) and the share portal. The browser holds the series and
   draws on a canvas; window/level is applied here from the modality values. No patient data is
   ever part of this script: everything arrives as data (options and frame chunks). */
"use strict";
function LimestoneViewer(root, opts) {
  const CHUNK = 8, INFLIGHT = 2;
  const presets = opts.presets || {};
  // Labels in the page's language: opts.text maps each English label to its translation.
  const T = (s, vars) => {
    let out = (opts.text && opts.text[s]) || s;
    for (const k in (vars || {})) out = out.split(`{${k}}`).join(vars[k]);
    return out;
  };
  const stats = (window.limestoneViewerStats = window.limestoneViewerStats || {draws: [], keys: []});
  const el = (tag, cls, parent, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  };
  const box = el("div", "lsv" + (opts.panes.length > 1 ? " lsv-two" : ""), root);
  const bar = el("div", "lsv-bar", box);
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", T("Image tools"));
  // A button's name is its title, which holds its visible word (WCAG 2.5.3, label in name).
  const setLabel = (b, label, title) => { b.textContent = label; b.title = title; b.setAttribute("aria-label", title); };
  const button = (label, title, onclick) => {
    const b = el("button", "lsv-btn", bar);
    setLabel(b, label, title);
    b.type = "button";
    b.addEventListener("click", onclick);
    return b;
  };
  const windowSelect = el("select", "lsv-select", bar);
  windowSelect.setAttribute("aria-label", T("Window preset"));
  [["file", T("File's own window")], ...Object.keys(presets).map((k) => [k, k])].forEach(([v, t]) => {
    const o = el("option", null, windowSelect, t); o.value = v;
  });
  if (opts.window && presets[opts.window]) windowSelect.value = opts.window;
  const tools = {};
  const invertBtn = button(T("Invert"), T("Invert the grey scale (I)"), () => { forPanes((p) => { p.invert = !p.invert; }); redraw(); });
  button("−", T("Zoom out"), () => zoomBy(1 / 1.25));
  button("+", T("Zoom in"), () => zoomBy(1.25));
  button(T("Fit"), T("Fit the image and reset the window"), () => { forPanes((p) => { p.zoom = 1; p.pan = [0, 0]; p.window = null; }); windowSelect.value = "file"; redraw(); });
  const cineBtn = button(T("▶ Cine"), T("Cine: play the series as a film (Space)"), () => toggleCine());
  for (const [name, label] of [["scroll", "Scroll"], ["pan", "Pan"], ["distance", "Distance"], ["ellipse", "Ellipse"]]) {
    tools[name] = button(T(label), T(label === "Scroll" ? "Drag to scroll through the images" :
      label === "Pan" ? "Pan: drag to move the image" : label === "Distance" ? "Measure: drag to draw a distance" :
      "Measure: drag to draw an ellipse"), () => setTool(name));
  }
  let follow = null, linkBox = null;
  if (opts.panes.length > 1) {
    const lab = el("label", "lsv-check", bar);
    follow = el("input", null, lab); follow.type = "checkbox"; follow.checked = !!opts.follow;
    el("span", null, lab, " Window and zoom follow");
    {
      const lab2 = el("label", "lsv-check", bar);
      linkBox = el("input", null, lab2); linkBox.type = "checkbox"; linkBox.checked = true;
      el("span", null, lab2, " Scroll linked");
    }
  }
  const area = el("div", "lsv-panes", box);
  const help = el("p", "lsv-help", box, opts.help ||
    T("Scroll: wheel, arrow keys, Page Up/Down, Home/End, drag or swipe. Window: presets or right-drag. Zoom: +/− or Ctrl+wheel."));
  let tool = "scroll", current = 0, cine = null, reportTimer = null;

  const panes = opts.panes.map((spec, n) => {
    const wrap = el("div", "lsv-pane", area);
    if (spec.label) el("div", "lsv-label", wrap, spec.label);
    const canvas = el("canvas", "lsv-canvas", wrap);
    canvas.tabIndex = 0;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", (spec.label || T("Image")) + ": " + T("use the arrow keys to scroll"));
    const live = el("div", "lsv-live", wrap);
    live.setAttribute("aria-live", "polite");
    live.setAttribute("role", "status");
    const p = {n, spec, wrap, canvas, live, ctx: canvas.getContext("2d"), count: spec.count,
      images: new Array(spec.count), pending: new Set(), inflight: 0, index: Math.min(spec.index || 0, Math.max(0, spec.count - 1)),
      window: null, invert: false, zoom: 1, pan: [0, 0], marks: [], drawing: null,
      off: document.createElement("canvas"), offKey: null, lut: null, lutKey: null, firstDrawn: null, opened: performance.now()};
    return p;
  });
  const forPanes = (f) => panes.forEach((p) => { if (p.n === current || (follow && follow.checked)) f(p); });
  const zoomBy = (k) => { forPanes((p) => { p.zoom = Math.min(16, Math.max(0.25, p.zoom * k)); }); redraw(); };
  const setTool = (name) => { tool = name; Object.entries(tools).forEach(([k, b]) => b.setAttribute("aria-pressed", String(k === name))); };
  setTool("scroll");

  /* ---- loading: nearest chunks first ---------------------------------------------------- */
  function parseChunk(p, start, buf) {
    const view = new DataView(buf);
    let at = 0, i = start;
    const dec = new TextDecoder();
    while (at + 4 <= buf.byteLength) {
      const hl = view.getUint32(at, true); at += 4;
      const h = JSON.parse(dec.decode(new Uint8Array(buf, at, hl))); at += hl;
      const bytes = buf.slice(at, at + h.bytes); at += h.bytes;
      if (h.kind === "i16") h.values = new Int16Array(bytes);
      else if (h.kind === "f32") h.values = new Float32Array(bytes);
      else if (h.kind === "rgb") h.values = new Uint8Array(bytes);
      p.images[i++] = h;
      fileWindows(h);
      stats.loaded = stats.loaded || {}; stats.loaded[p.n] = (stats.loaded[p.n] || 0) + 1;
    }
  }
  function fileWindows(h) {
    // A file with several windows (e.g. "lung" and "mediastinum"): each becomes a choice.
    if (!h.voi || h.voi.windows.length < 2 || windowSelect.querySelector('option[value^="file:"]')) return;
    const after = windowSelect.options[0].nextSibling;
    h.voi.windows.forEach((w, k) => {
      const o = document.createElement("option"); o.value = "file:" + k; o.textContent = w[2] || ("File window " + (k + 1));
      windowSelect.insertBefore(o, after);
    });
  }
  function nextStart(p) {
    const c = p.index, seen = (s) => p.pending.has(s) || p.images[s] !== undefined;
    if (!seen(c)) return [c, 1];
    for (let d = 0; d < p.count; d++) {
      for (const s of [c + d, c - d]) {
        if (s < 0 || s >= p.count || seen(s)) continue;
        let k = 1;
        const dir = s >= c ? 1 : -1;
        if (dir > 0) { while (k < CHUNK && s + k < p.count && !seen(s + k)) k++; return [s, k]; }
        let a = s; while (k < CHUNK && a - 1 >= 0 && !seen(a - 1)) { a--; k++; } return [a, k];
      }
    }
    return null;
  }
  function pump(p) {
    // The image on screen comes first and alone (a chunk fetched beside it would share the
    // server's time with it); then the rest, nearest first, INFLIGHT chunks at a time.
    while (p.inflight < (p.images[p.index] === undefined ? 1 : INFLIGHT)) {
      const next = nextStart(p);
      if (!next) return;
      const [start, count] = next;
      for (let s = start; s < start + count; s++) p.pending.add(s);
      p.inflight++;
      p.spec.fetch(start, count).then((buf) => {
        parseChunk(p, start, buf);
      }).catch((err) => {
        for (let s = start; s < start + count; s++) if (p.images[s] === undefined) p.images[s] = {kind: "none", problem: "could not be loaded (" + err.message + ")"};
      }).finally(() => {
        for (let s = start; s < start + count; s++) p.pending.delete(s);
        p.inflight--;
        if (p.index >= start && p.index < start + count) draw(p);
        pump(p);
      });
    }
  }

  /* ---- drawing ------------------------------------------------------------------------ */
  /* The grey transform (PS3.3 C.11.2.1.2) from modality values to 0..255: the file's own VOI
     (its VOI LUT, else its first window with its VOILUTFunction: LINEAR, LINEAR_EXACT or SIGMOID;
     another of its windows when chosen), a preset (LINEAR) or the user's right-drag window (with
     the file's function). A transform's output range is scaled to 8 bits as the server does. */
  const lutIds = new WeakMap();
  let lutCount = 0;
  function voiOf(p, img) {
    const v = img.voi, sel = windowSelect.value, preset = presets[sel];
    const fn = preset || !v ? "LINEAR" : v.function;
    if (p.window) return {fn, w: p.window};
    if (preset) return {fn, w: preset};
    if (v && sel.startsWith("file:") && v.windows[+sel.slice(5)]) return {fn, w: v.windows[+sel.slice(5)]};
    if (v && v.lut) return {lut: v.lut};
    if (v && v.windows.length) return {fn, w: v.windows[0]};
    return {fn, w: img.window || [128, 256]};
  }
  function voiKey(t) {
    if (!t.lut) return t.fn + "/" + t.w[0] + "/" + t.w[1];
    if (!lutIds.has(t.lut)) lutIds.set(t.lut, ++lutCount);
    return "lut" + lutIds.get(t.lut);
  }
  function greyFn(t) {
    if (t.lut) {
      const L = t.lut, d = L.data, n = d.length, k = 255 / Math.max(L.hi - L.lo, 1e-9);
      return (x) => { let i = Math.round(x) - L.first; i = i < 0 ? 0 : i > n - 1 ? n - 1 : i; return (d[i] - L.lo) * k; };
    }
    const c = t.w[0], w = t.w[1];
    if (t.fn === "SIGMOID") return (x) => 255 / (1 + Math.exp(-4 * (x - c) / w));
    if (t.fn === "LINEAR_EXACT") return (x) => (x <= c - w / 2 ? 0 : x > c + w / 2 ? 255 : ((x - c) / w + 0.5) * 255);
    const width = Math.max(1, w), low = c - 0.5 - (width - 1) / 2, scale = 255 / Math.max(1, width - 1);
    return (x) => (width <= 1 ? (x <= c - 0.5 ? 0 : 255) : (x - low) * scale);
  }
  function windowOf(p, img) {
    const t = voiOf(p, img);
    return t.lut ? (img.window || [128, 256]) : t.w;
  }
  function lutFor(p, t, inv) {
    const key = voiKey(t) + "/" + inv;
    if (p.lutKey === key) return p.lut;
    const lut = p.lut || new Uint32Array(65536), f = greyFn(t);
    for (let v = -32768; v < 32768; v++) {
      let g = Math.round(f(v));
      g = g < 0 ? 0 : g > 255 ? 255 : g;
      if (inv) g = 255 - g;
      lut[v + 32768] = 0xff000000 | (g << 16) | (g << 8) | g;
    }
    p.lut = lut; p.lutKey = key;
    return lut;
  }
  function render(p, img) {
    const t = voiOf(p, img), inv = p.invert !== !!img.mono1;
    const key = p.index + "|" + voiKey(t) + "|" + inv;
    if (p.offKey === key) return;
    const off = p.off;
    if (off.width !== img.cols || off.height !== img.rows) { off.width = img.cols; off.height = img.rows; p.offCtx = null; }
    p.offCtx = p.offCtx || off.getContext("2d", {willReadFrequently: true});
    const data = p.offCtx.createImageData(img.cols, img.rows);
    const out = new Uint32Array(data.data.buffer), v = img.values, n = img.rows * img.cols;
    if (img.kind === "i16") {
      const lut = lutFor(p, t, inv);
      for (let i = 0; i < n; i++) out[i] = lut[v[i] + 32768];
    } else if (img.kind === "f32") {
      const f = greyFn(t);
      for (let i = 0; i < n; i++) {
        let g = Math.round(f(v[i])); g = g < 0 ? 0 : g > 255 ? 255 : g; if (inv) g = 255 - g;
        out[i] = 0xff000000 | (g << 16) | (g << 8) | g;
      }
    } else {
      for (let i = 0, j = 0; i < n; i++, j += 3) {
        let r = v[j], g = v[j + 1], b = v[j + 2];
        if (p.invert) { r = 255 - r; g = 255 - g; b = 255 - b; }
        out[i] = 0xff000000 | (b << 16) | (g << 8) | r;
      }
    }
    p.offCtx.putImageData(data, 0, 0);
    p.offKey = key;
  }
  function geometry(p, img) {
    const W = p.canvas.width, H = p.canvas.height;
    const s = Math.min(W / img.cols, H / img.rows) * p.zoom;
    return {s, x: W / 2 - (img.cols * s) / 2 + p.pan[0] * s, y: H / 2 - (img.rows * s) / 2 + p.pan[1] * s};
  }
  function corner(ctx, lines, x, y, alignRight, up) {
    const dpr = window.devicePixelRatio || 1, lh = 15 * dpr;
    ctx.font = `${12 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = alignRight ? "right" : "left";
    ctx.textBaseline = up ? "bottom" : "top";
    const shown = lines.filter((t) => t);
    shown.forEach((t, k) => {
      const yy = up ? y - (shown.length - 1 - k) * lh : y + k * lh;
      ctx.fillStyle = "rgba(0,0,0,0.6)"; ctx.fillText(t, x + dpr, yy + dpr);
      ctx.fillStyle = "#f5d76e"; ctx.fillText(t, x, yy);
    });
  }
  function fmt(x) { return (Math.round(x * 10) / 10).toString(); }
  function draw(p) {
    const ctx = p.ctx, W = p.canvas.width, H = p.canvas.height, img = p.images[p.index];
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, W, H);
    const label = T("Image {n} of {count}", {n: p.index + 1, count: p.count});
    let note = "";
    if (img === undefined) {
      note = T("Loading…");
    } else if (img.kind === "none") {
      note = `Image ${p.index + 1} ${img.problem}. The other images of the series can still be viewed.`;
    } else {
      render(p, img);
      const g = geometry(p, img);
      ctx.imageSmoothingEnabled = g.s < 1.5;
      ctx.drawImage(p.off, g.x, g.y, img.cols * g.s, img.rows * g.s);
      drawMarks(p, img, g);
      const w = windowOf(p, img), dpr = window.devicePixelRatio || 1, m = 6 * dpr;
      const cn = img.corners || {tl: [], tr: [], bl: [], br: []};
      corner(ctx, [cn.tl[0], `Im ${p.index + 1}/${p.count}` + (img.frames > 1 ? `  Fr ${img.frame + 1}/${img.frames}` : ""),
        img.location != null ? `Loc ${fmt(img.location)} mm` : ""], m, m, false, false);
      corner(ctx, cn.tr, W - m, m, true, false);
      const lutShown = img.kind !== "rgb" && voiOf(p, img).lut;
      corner(ctx, [img.kind === "rgb" ? "" : lutShown ? "VOI LUT (file)" : `W ${fmt(w[1])} L ${fmt(w[0])}`, ...(cn.bl || []),
        img.spacing ? `${img.spacing[0].toFixed(2)} mm/px` : ""], m, H - m, false, true);
      corner(ctx, [p.zoom !== 1 ? `Zoom ${fmt(p.zoom)}x` : "", ...(cn.br || [])], W - m, H - m, true, true);
    }
    if (note) {
      const dpr = window.devicePixelRatio || 1;
      ctx.fillStyle = "#ddd"; ctx.font = `${14 * dpr}px system-ui, sans-serif`; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.fillText(note.length > 90 ? note.slice(0, 90) + "…" : note, W / 2, H / 2);
    }
    const text = label + (img && img.frames > 1 ? T(" (frame {n} of {count})", {n: img.frame + 1, count: img.frames}) : "") +
      (note && img ? T(": cannot be shown") : "");
    if (p.live.textContent !== text) p.live.textContent = text;
    if (img && img.kind !== "none" && img !== undefined) {
      const index = p.index;
      requestAnimationFrame(() => {
        const t = performance.now();
        stats.draws.push({pane: p.n, index, t});
        if (stats.draws.length > 5000) stats.draws.splice(0, 1000);
        if (p.firstDrawn === null) { p.firstDrawn = t; stats.first = stats.first || {}; stats.first[p.n] = t - p.opened; }
      });
    }
  }
  function drawMarks(p, img, g) {
    const ctx = p.ctx, dpr = window.devicePixelRatio || 1;
    const all = p.marks.filter((m) => m.index === p.index).concat(p.drawing ? [p.drawing] : []);
    ctx.lineWidth = 2 * dpr; ctx.strokeStyle = "#4fc3f7"; ctx.fillStyle = "#4fc3f7";
    ctx.font = `${12 * dpr}px system-ui, sans-serif`; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
    for (const m of all) {
      const ax = g.x + m.a[0] * g.s, ay = g.y + m.a[1] * g.s, bx = g.x + m.b[0] * g.s, by = g.y + m.b[1] * g.s;
      ctx.beginPath();
      if (m.kind === "distance") { ctx.moveTo(ax, ay); ctx.lineTo(bx, by); }
      else ctx.ellipse((ax + bx) / 2, (ay + by) / 2, Math.abs(bx - ax) / 2 || 1, Math.abs(by - ay) / 2 || 1, 0, 0, 2 * Math.PI);
      ctx.stroke();
      if (m.text) ctx.fillText(m.text, Math.max(ax, bx) + 4 * dpr, Math.min(ay, by));
    }
  }
  function redraw() { panes.forEach(draw); }

  /* ---- measurements ------------------------------------------------------------------- */
  function measure(p, m) {
    const img = p.images[m.index], sp = img.spacing;
    if (m.kind === "distance") {
      const dx = m.b[0] - m.a[0], dy = m.b[1] - m.a[1];
      m.pixels = Math.hypot(dx, dy);
      m.mm = sp ? Math.hypot(dy * sp[0], dx * sp[1]) : null;
      m.text = m.mm != null ? `${m.mm.toFixed(1)} mm` : `${m.pixels.toFixed(1)} px (no pixel spacing)`;
      return m;
    }
    const c0 = Math.min(m.a[0], m.b[0]), c1 = Math.max(m.a[0], m.b[0]), r0 = Math.min(m.a[1], m.b[1]), r1 = Math.max(m.a[1], m.b[1]);
    const cc = (c0 + c1) / 2, cr = (r0 + r1) / 2, hc = Math.max((c1 - c0) / 2, 0.5), hr = Math.max((r1 - r0) / 2, 0.5);
    let n = 0, sum = 0, sq = 0, lo = Infinity, hi = -Infinity;
    if (img.kind === "i16" || img.kind === "f32") {
      for (let r = Math.max(0, Math.floor(r0)); r <= Math.min(img.rows - 1, Math.ceil(r1)); r++) {
        for (let c = Math.max(0, Math.floor(c0)); c <= Math.min(img.cols - 1, Math.ceil(c1)); c++) {
          if (((r - cr) / hr) ** 2 + ((c - cc) / hc) ** 2 > 1) continue;
          const v = img.values[r * img.cols + c]; n++; sum += v; sq += v * v; lo = Math.min(lo, v); hi = Math.max(hi, v);
        }
      }
    }
    if (!n) { m.text = "no pixels"; return m; }
    m.mean = sum / n; m.sd = n > 1 ? Math.sqrt(Math.max(0, (sq - n * m.mean * m.mean) / (n - 1))) : 0;
    m.min = lo; m.max = hi; m.pixels = n; m.area_mm2 = sp ? n * sp[0] * sp[1] : null;
    const unit = (img.corners && /^CT\b/.test(img.corners.tl[0] || "")) ? " HU" : "";
    m.unit = unit.trim();
    m.text = `mean ${m.mean.toFixed(1)}${unit}, SD ${m.sd.toFixed(1)}${unit}, area ` + (m.area_mm2 != null ? `${m.area_mm2.toFixed(1)} mm²` : `${n} px`);
    return m;
  }

  /* ---- moving ------------------------------------------------------------------------- */
  function report() {
    if (!opts.onState) return;
    clearTimeout(reportTimer);
    reportTimer = setTimeout(() => opts.onState("position", panes.map((p) => p.index)), 700);
  }
  function go(p, index, fromLink) {
    index = Math.max(0, Math.min(p.count - 1, index));
    if (index === p.index && !fromLink) return;
    p.index = index;
    draw(p);
    pump(p);
    if (!fromLink && opts.link && linkBox && linkBox.checked) {
      for (const q of panes) {
        if (q === p) continue;
        const map = opts.link[p.n + ">" + q.n];
        if (map && map[index] != null) go(q, map[index], true);
      }
    }
    report();
  }
  function step(p, k) { go(p, p.index + k); }
  function toggleCine() {
    if (cine) { clearInterval(cine); cine = null; setLabel(cineBtn, T("▶ Cine"), T("Cine: play the series as a film (Space)")); return; }
    const p = panes[current];
    cine = setInterval(() => go(p, p.index + 1 >= p.count ? 0 : p.index + 1), 1000 / (opts.fps || 15));
    setLabel(cineBtn, T("■ Stop"), T("Stop the film (Space)"));
  }
  function imagePoint(p, ev) {
    const img = p.images[p.index]; if (!img || img.kind === "none") return null;
    const r = p.canvas.getBoundingClientRect(), dpr = p.canvas.width / r.width, g = geometry(p, img);
    return [((ev.clientX - r.left) * dpr - g.x) / g.s, ((ev.clientY - r.top) * dpr - g.y) / g.s];
  }

  panes.forEach((p) => {
    const c = p.canvas;
    c.addEventListener("focus", () => { current = p.n; });
    c.addEventListener("keydown", (ev) => {
      const k = {ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10}[ev.key];
      stats.keys.push({pane: p.n, t: ev.timeStamp, key: ev.key});
      if (stats.keys.length > 5000) stats.keys.splice(0, 1000);
      if (k) step(p, k);
      else if (ev.key === "Home") go(p, 0);
      else if (ev.key === "End") go(p, p.count - 1);
      else if (ev.key === "i" || ev.key === "I") invertBtn.click();
      else if (ev.key === " ") toggleCine();
      else return;
      ev.preventDefault();
    });
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault(); current = p.n;
      if (ev.ctrlKey) { zoomBy(ev.deltaY < 0 ? 1.1 : 1 / 1.1); return; }
      step(p, ev.deltaY > 0 ? 1 : -1);
    }, {passive: false});
    c.addEventListener("contextmenu", (ev) => ev.preventDefault());
    let drag = null;
    c.addEventListener("pointerdown", (ev) => {
      current = p.n; c.focus({preventScroll: true});
      try { c.setPointerCapture(ev.pointerId); } catch (e) { /* a synthetic pointer */ }
      const img = p.images[p.index];
      const mode = ev.button === 2 ? "window" : tool;
      drag = {mode, x: ev.clientX, y: ev.clientY, acc: 0, start: p.index, w: img && img.kind !== "rgb" && img.kind !== "none" ? windowOf(p, img).slice() : null,
              pan: p.pan.slice(), a: (mode === "distance" || mode === "ellipse") ? imagePoint(p, ev) : null};
    });
    c.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (drag.mode === "scroll") {
        const per = Math.max(4, Math.min(12, c.getBoundingClientRect().height / Math.max(1, p.count)));
        go(p, drag.start + Math.round(dy / per));
      } else if (drag.mode === "window" && drag.w) {
        const k = Math.max(1, drag.w[1] / 200);
        const w = [drag.w[0] + dy * k, Math.max(1, drag.w[1] + dx * k)];
        forPanes((q) => { q.window = w; });
        redraw();
      } else if (drag.mode === "pan") {
        const img = p.images[p.index]; if (!img || img.kind === "none") return;
        const r = c.getBoundingClientRect(), s = geometry(p, img).s * r.width / c.width;
        forPanes((q) => { q.pan = [drag.pan[0] + dx / s, drag.pan[1] + dy / s]; });
        redraw();
      } else if (drag.a) {
        const b = imagePoint(p, ev);
        if (b) { p.drawing = measure(p, {kind: drag.mode, index: p.index, a: drag.a, b}); draw(p); }
      }
    });
    const end = () => {
      if (drag && drag.a && p.drawing) {
        p.marks.push(p.drawing); p.drawing = null; draw(p);
        if (opts.onState) opts.onState("measurements", panes.map((q) => q.marks.map((m) => ({
          kind: m.kind, image: m.index + 1, a: m.a, b: m.b, text: m.text, mm: m.mm ?? null, mean: m.mean ?? null,
          sd: m.sd ?? null, area_mm2: m.area_mm2 ?? null, pixels: m.pixels ?? null, unit: m.unit ?? null}))));
      }
      drag = null;
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
  });
  windowSelect.addEventListener("change", () => { forPanes((p) => { p.window = null; }); redraw(); });

  const sizer = new ResizeObserver(() => {
    panes.forEach((p) => {
      const r = p.canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
      const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
      if (p.canvas.width !== w || p.canvas.height !== h) { p.canvas.width = w; p.canvas.height = h; draw(p); }
    });
  });
  panes.forEach((p) => { sizer.observe(p.canvas); draw(p); pump(p); });
  return {
    destroy() { sizer.disconnect(); if (cine) clearInterval(cine); clearTimeout(reportTimer); box.remove(); },
    go: (n, index) => go(panes[n], index),
    setLink(link) { opts.link = link; },
    panes,
  };
}

/* A chunk source over HTTP: a POST with a text/plain body (a "simple" request, so a cross-origin
   image server needs no CORS preflight) answered by the frames of archive.viewing.frames.chunk. */
function limestoneSource(url, body) {
  return (start, count) => fetch(url, {method: "POST", credentials: "same-origin", cache: "no-store",
    headers: {"content-type": "text/plain"}, body: JSON.stringify(Object.assign({}, body, {start, count}))})
    .then((r) => { if (!r.ok) throw new Error("refused (" + r.status + ")"); return r.arrayBuffer(); });
}
