/** Inline-SVG charts for the dashboard: time series as stacked bars, with a legend and hover titles. */
// biome-ignore lint/complexity/noUselessStringRaw: client code must keep any backslash verbatim
export const UI_CHART_JS = String.raw`
const PALETTE = ['var(--c1)', 'var(--c2)', 'var(--c3)', 'var(--c4)', 'var(--c5)', 'var(--c6)', 'var(--c7)', 'var(--c8)'];
const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs || {}) e.setAttribute(k, String(attrs[k]));
  for (let i = 2; i < arguments.length; i++) if (arguments[i]) e.appendChild(arguments[i]);
  return e;
}
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
/**
 * buckets: [{t: ms, values: {series: number}}], in time order, equal width.
 * format: how to print a value (axis and hover). Returns a <div class=chart>.
 */
function stackedBars(buckets, format, emptyText) {
  const names = [];
  for (const b of buckets) for (const k in b.values) if (!names.includes(k)) names.push(k);
  names.sort();
  const top = names.length > 7 ? names.slice(0, 7) : names;
  const colour = (n) => PALETTE[top.includes(n) ? top.indexOf(n) : 7];
  const W = 640, H = 200, L = 54, R = 8, T = 10, B = 24;
  const totals = buckets.map((b) => Object.values(b.values).reduce((a, v) => a + v, 0));
  const max = niceMax(Math.max(0, ...totals));
  const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
  for (let i = 0; i <= 4; i++) {
    const y = T + (H - T - B) * (1 - i / 4);
    svg.appendChild(s('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'axis' }));
    const label = s('text', { x: L - 6, y: y + 4, 'text-anchor': 'end' }); label.textContent = format(max * i / 4); svg.appendChild(label);
  }
  const n = Math.max(1, buckets.length);
  const bw = (W - L - R) / n;
  buckets.forEach((b, i) => {
    let y = H - B;
    const x = L + i * bw + Math.max(0.5, bw * 0.12);
    const w = Math.max(1, bw * 0.76);
    for (const name of names) {
      const v = b.values[name];
      if (!v) continue;
      const hgt = (H - T - B) * v / max;
      y -= hgt;
      const r = s('rect', { x: x, y: y, width: w, height: Math.max(0.5, hgt), fill: colour(name), rx: 1.5 });
      const tip = s('title'); tip.textContent = new Date(b.t).toLocaleTimeString([], { hour12: false }) + ' · ' + name + ': ' + format(v);
      r.appendChild(tip);
      svg.appendChild(r);
    }
    if (i % Math.ceil(n / 6) === 0) {
      const t = s('text', { x: L + i * bw + bw / 2, y: H - 7, 'text-anchor': 'middle' });
      t.textContent = new Date(b.t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
      svg.appendChild(t);
    }
  });
  if (!totals.some((v) => v > 0)) {
    const t = s('text', { x: (L + W) / 2, y: H / 2, 'text-anchor': 'middle' }); t.textContent = emptyText || 'no data in this range'; svg.appendChild(t);
  }
  const legend = h('div', { class: 'legend' }, top.map((nm) => h('span', null, (() => { const i = h('i'); i.style.background = colour(nm); return i; })(), nm)),
    names.length > top.length ? h('span', { text: '+' + (names.length - top.length) + ' more (grey)' }) : null);
  return h('div', { class: 'chart' }, svg, legend);
}
`;
