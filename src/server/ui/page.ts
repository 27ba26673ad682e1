/**
 * The cluster dashboard: one self-contained HTML page (inline CSS and JS, no
 * external resources). It polls /cluster/status every second and, when they
 * answer 200, /api/governance/virtual-keys and /api/governance/usage.
 * Everything from the server is inserted with textContent, never as HTML.
 */
export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DeepIntShield cluster</title>
<style>
:root{--fg:#1d2330;--mut:#667085;--bg:#f6f7f9;--card:#fff;--ok:#12805c;--warn:#b54708;--bad:#b42318;--line:#e4e7ec}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:center;gap:16px;padding:12px 20px;background:var(--card);border-bottom:1px solid var(--line)}
header h1{font-size:17px;margin:0}
main{padding:16px 20px;max-width:1400px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin-bottom:16px}
section h2{font-size:14px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:var(--mut)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
th{font-weight:600;color:var(--mut);font-size:12px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.alive,.HEALTHY,.yes{background:var(--ok)}
.suspect{background:var(--warn)}
.dead,.no,.NOT{background:var(--bad)}
.left{background:var(--mut)}
.kpis{display:flex;gap:24px;flex-wrap:wrap}
.kpi b{display:block;font-size:22px}
.kpi span{color:var(--mut);font-size:12px}
.bar{position:relative;height:8px;width:120px;background:var(--line);border-radius:4px;overflow:hidden;display:inline-block;vertical-align:middle;margin-right:6px}
.bar i{position:absolute;left:0;top:0;bottom:0;background:var(--ok)}
.bar i.hi{background:var(--warn)}.bar i.full{background:var(--bad)}
#err{color:var(--bad)}
.mut{color:var(--mut)}
tr.self td:first-child{font-weight:600}
</style>
</head>
<body>
<header><h1>DeepIntShield cluster</h1><span id="health" class="badge">…</span><span class="mut" id="updated"></span><span id="err"></span></header>
<main>
<section><h2>Cluster</h2><div class="kpis">
<div class="kpi"><b id="k-members">–</b><span>members</span></div>
<div class="kpi"><b id="k-healthy">–</b><span>healthy</span></div>
<div class="kpi"><b id="k-rps">–</b><span>req/s (cluster)</span></div>
<div class="kpi"><b id="k-inflight">–</b><span>in flight</span></div>
<div class="kpi"><b id="k-local">–</b><span>this node</span></div>
</div></section>
<section><h2>Members</h2>
<table id="members"><thead><tr><th>Name</th><th>State</th><th>Healthy</th><th>Gossip address</th><th>HTTP address</th><th>Version</th><th class="num">Incarnation</th><th class="num">req/s</th><th class="num">In flight</th><th class="num">Error rate</th></tr></thead><tbody></tbody></table>
</section>
<section id="vk-section" hidden><h2>Virtual keys</h2>
<table id="vks"><thead><tr><th>Id</th><th>Status</th><th>Allowed models</th><th>Requests</th><th>Tokens</th><th>Budget (USD)</th></tr></thead><tbody></tbody></table>
</section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
function badge(text, cls) { return el('span', text, 'badge ' + cls); }
function num(v, d) { return typeof v === 'number' && isFinite(v) ? v.toFixed(d) : '–'; }
function usageCell(used, limit) {
  const td = el('td');
  if (typeof limit !== 'number' || limit <= 0) { td.textContent = used === undefined ? 'no limit' : String(used) + ' / no limit'; return td; }
  if (typeof used !== 'number') { td.textContent = '– / ' + limit; td.title = 'usage not reported by this node'; return td; }
  const u = used;
  const f = Math.min(1, u / limit);
  const bar = el('span', undefined, 'bar'); const fill = el('i', undefined, f >= 1 ? 'full' : f >= 0.8 ? 'hi' : '');
  fill.style.width = (f * 100).toFixed(1) + '%'; bar.appendChild(fill); td.appendChild(bar);
  td.appendChild(document.createTextNode((Math.round(u * 100) / 100) + ' / ' + limit));
  return td;
}
const denied = new Set();
async function getJson(path) {
  if (denied.has(path)) return undefined;
  const r = await fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } });
  // 401/403 (admin token required) and 404 (not on this version) do not change: stop asking
  if (r.status === 401 || r.status === 403 || r.status === 404) denied.add(path);
  if (r.status !== 200) return undefined;
  return r.json();
}
function renderStatus(s) {
  const h = $('health'); h.textContent = s.cluster_health; h.className = 'badge ' + (s.cluster_health === 'HEALTHY' ? 'HEALTHY' : 'NOT');
  $('k-members').textContent = s.members; $('k-healthy').textContent = s.healthy_members; $('k-local').textContent = s.local_node;
  let rps = 0, inflight = 0;
  const tb = document.querySelector('#members tbody');
  const rows = [];
  for (const n of s.nodes || []) {
    const t = n.traffic || {};
    if (n.state === 'alive' || n.state === 'suspect') { rps += t.rps || 0; inflight += t.in_flight || 0; }
    const tr = el('tr'); tr.dataset.node = n.name; tr.dataset.state = n.state;
    if (n.name === s.local_node) tr.className = 'self';
    tr.appendChild(el('td', n.name));
    const st = el('td'); st.appendChild(badge(n.state, n.state)); tr.appendChild(st);
    const he = el('td'); he.appendChild(badge(n.healthy ? 'yes' : 'no', n.healthy ? 'yes' : 'no')); tr.appendChild(he);
    tr.appendChild(el('td', n.address || '–'));
    tr.appendChild(el('td', n.http_address || '–'));
    tr.appendChild(el('td', n.version || '–'));
    tr.appendChild(el('td', n.incarnation ?? '–', 'num'));
    tr.appendChild(el('td', num(t.rps, 1), 'num'));
    tr.appendChild(el('td', t.in_flight ?? '–', 'num'));
    tr.appendChild(el('td', typeof t.error_rate === 'number' ? (t.error_rate * 100).toFixed(1) + '%' : '–', 'num'));
    rows.push(tr);
  }
  tb.replaceChildren(...rows);
  $('k-rps').textContent = num(rps, 1); $('k-inflight').textContent = inflight;
}
function renderKeys(keys, usage) {
  const sec = $('vk-section');
  if (!keys || !Array.isArray(keys.virtual_keys)) { sec.hidden = true; return; }
  const byId = {};
  const list = usage && (Array.isArray(usage.virtual_keys) ? usage.virtual_keys : Array.isArray(usage.usage) ? usage.usage : Array.isArray(usage) ? usage : []);
  for (const u of list || []) if (u && u.id) byId[u.id] = u;
  const rows = [];
  for (const vk of keys.virtual_keys) {
    const u = byId[vk.id] || {};
    const rl = vk.rate_limit || {}; const b = vk.budget || {};
    const tr = el('tr'); tr.dataset.vk = vk.id;
    tr.appendChild(el('td', vk.id));
    const st = el('td'); st.appendChild(vk.disabled ? badge('disabled', 'no') : badge('active', 'yes')); tr.appendChild(st);
    tr.appendChild(el('td', (vk.allowed_models || []).join(', ') || 'all'));
    tr.appendChild(usageCell(u.requests ?? u.request_count, rl.request_max_limit));
    tr.appendChild(usageCell(u.tokens ?? u.token_count, rl.token_max_limit));
    tr.appendChild(usageCell(u.spend_usd ?? u.spend ?? u.cost, b.max_limit));
    rows.push(tr);
  }
  document.querySelector('#vks tbody').replaceChildren(...rows);
  sec.hidden = false;
}
async function fetchStatus() {
  const r = await fetch('/cluster/status', { cache: 'no-store', headers: { accept: 'application/json' } });
  return r.status === 200 ? r.json() : undefined;
}
let tick = 0;
async function poll() {
  try {
    const s = await fetchStatus();
    if (!s) throw new Error('/cluster/status did not answer 200');
    renderStatus(s);
    $('err').textContent = '';
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    $('err').textContent = 'cannot reach this node: ' + (e && e.message ? e.message : e);
    const h = $('health'); h.textContent = 'UNREACHABLE'; h.className = 'badge NOT';
  }
  if (tick++ % 5 === 0) {
    try {
      const [keys, usage] = await Promise.all([getJson('/api/governance/virtual-keys').catch(() => undefined), getJson('/api/governance/usage').catch(() => undefined)]);
      renderKeys(keys, usage);
    } catch { $('vk-section').hidden = true; }
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
`;
