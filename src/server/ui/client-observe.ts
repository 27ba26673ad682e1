/** Dashboard pages that watch: the cluster, the request log and usage/cost over time. */
// biome-ignore lint/complexity/noUselessStringRaw: client code must keep any backslash verbatim
export const UI_OBSERVE_JS = String.raw`
// ---------- cluster ----------
const KNOWN_STATUS = ['local_node', 'members', 'healthy_members', 'cluster_health', 'nodes'];
const KNOWN_NODE = ['name', 'address', 'http_address', 'state', 'healthy', 'incarnation', 'version', 'traffic'];
function setHealth(s) {
  const b = $('#health');
  if (!s) { b.textContent = 'UNREACHABLE'; b.className = 'badge NOT'; return; }
  b.textContent = s.cluster_health; b.className = 'badge ' + (s.cluster_health === 'HEALTHY' ? 'HEALTHY' : 'NOT');
  $('#node-name').textContent = s.local_node || '';
}
async function fetchStatus() {
  const r = await api('GET', '/cluster/status');
  setHealth(r.ok ? r.data : undefined);
  return r;
}
pages.cluster = {
  title: 'Cluster',
  render(root) {
    const kpi = (id, label) => h('div', { class: 'kpi' }, h('b', { id: id, text: '–' }), h('span', { text: label }));
    const tbody = h('tbody');
    const extra = h('div', { id: 'cluster-extra' });
    const nodeExtra = h('section', { id: 'node-extra', hidden: true }, h('h3', { text: 'Per-node details' }), h('div'));
    const err = h('div', { id: 'err', class: 'err' });
    root.append(
      h('div', { class: 'pagehead' }, h('h2', { text: 'Cluster' }), h('span', { class: 'mut', id: 'updated' }), err,
        h('p', { text: 'Membership and health as this node sees it, refreshed every second.' })),
      h('div', { class: 'kpis', style: 'margin-bottom:16px' }, kpi('k-members', 'members'), kpi('k-healthy', 'healthy'), kpi('k-rps', 'req/s (cluster)'), kpi('k-inflight', 'in flight'), kpi('k-local', 'this node')),
      h('section', null, h('h3', { text: 'Members' }),
        h('table', { id: 'members' }, h('thead', null, h('tr', null, ['Name', 'State', 'Healthy', 'Gossip address', 'HTTP address', 'Version'].map((t) => h('th', { text: t })),
          ['Incarnation', 'req/s', 'In flight', 'Error rate'].map((t) => h('th', { class: 'num', text: t })))), tbody)),
      nodeExtra, extra);
    every(1000, async () => {
      const r = await fetchStatus();
      if (!r.ok) { err.textContent = 'cannot read /cluster/status: ' + r.message; return; }
      err.textContent = '';
      const st = r.data;
      $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString([], { hour12: false });
      $('#k-members').textContent = st.members; $('#k-healthy').textContent = st.healthy_members; $('#k-local').textContent = st.local_node;
      let rps = 0, inflight = 0;
      const rows = [];
      const extras = [];
      for (const n of st.nodes || []) {
        const t = n.traffic || {};
        if (n.state === 'alive' || n.state === 'suspect') { rps += t.rps || 0; inflight += t.in_flight || 0; }
        const tr = h('tr', { dataset: { node: n.name, state: n.state }, class: n.name === st.local_node ? 'self' : '' },
          h('td', { text: n.name }), h('td', null, badge(n.state, n.state)), h('td', null, badge(n.healthy ? 'yes' : 'no', n.healthy ? 'yes' : 'no')),
          h('td', { text: n.address || '–' }), h('td', { text: n.http_address || '–' }), h('td', { text: n.version || '–' }),
          h('td', { class: 'num', text: n.incarnation ?? '–' }), h('td', { class: 'num', text: fmt(t.rps, 1) }),
          h('td', { class: 'num', text: t.in_flight ?? '–' }),
          h('td', { class: 'num', text: typeof t.error_rate === 'number' ? (t.error_rate * 100).toFixed(1) + '%' : '–' }));
        rows.push(tr);
        const more = { node: n.name };
        let any = false;
        for (const k in n) if (!KNOWN_NODE.includes(k)) { more[k] = n[k]; any = true; }
        for (const k in t) if (!['rps', 'in_flight', 'error_rate'].includes(k)) { more['traffic.' + k] = t[k]; any = true; }
        if (any) extras.push(more);
      }
      tbody.replaceChildren(...rows);
      $('#k-rps').textContent = fmt(rps, 1); $('#k-inflight').textContent = inflight;
      nodeExtra.hidden = extras.length === 0;
      if (extras.length) nodeExtra.lastChild.replaceChildren(genericTable(extras, 'node'));
      const sections = [];
      for (const k in st) if (!KNOWN_STATUS.includes(k)) sections.push(h('section', { dataset: { field: k } }, h('h3', { text: k.replace(/_/g, ' ') }), generic(st[k])));
      extra.replaceChildren(...sections);
    });
  },
};

// ---------- request log ----------
const LOG_FILTERS = ['provider', 'model', 'status', 'virtual_key', 'since', 'until'];
function logQuery(f, extra) {
  const q = new URLSearchParams();
  for (const k of LOG_FILTERS) if (f[k]) q.set(k, f[k]);
  for (const k in extra || {}) if (extra[k] !== undefined) q.set(k, extra[k]);
  return '/api/logs?' + q.toString();
}
function logsUnavailable() {
  return h('div', { class: 'empty', id: 'logs-unavailable' }, h('b', { text: 'The request log is not available on this node' }),
    'GET /api/logs answered 404: this node runs a version without the request log. Nodes with it list every inference request here.');
}
function logRow(e, fresh) {
  const tok = e.tokens || {};
  return h('tr', { class: 'click' + (fresh ? ' fresh' : ''), dataset: { id: e.id }, onclick: () => showLog(e.id) },
    h('td', { text: timeOf(e.time), title: e.time }), h('td', { text: e.node || '–' }), h('td', { text: e.route || '–' }),
    h('td', { text: e.virtual_key || '–' }), h('td', { text: (e.provider || '–') + '/' + (e.model || '–') }),
    h('td', null, badge(e.status ?? '–', statusClass(e.status))), h('td', { class: 'num', text: ms(e.latency_ms) }),
    h('td', { class: 'num', text: ms(e.ttft_ms) }), h('td', { class: 'num', text: fmt(tok.prompt) + ' / ' + fmt(tok.completion) }),
    h('td', { class: 'num', text: money(e.cost) }), h('td', { class: 'num', text: (e.attempts ?? '–') + (e.fallback_index ? ' (fb ' + e.fallback_index + ')' : '') }),
    h('td', { class: 'wrap err', text: e.error ? String(e.error).slice(0, 120) : '' }));
}
async function showLog(id) {
  const body = h('div', null, h('p', { class: 'mut', text: 'loading…' }));
  openPanel('Request ' + id, body);
  const r = await api('GET', '/api/logs/' + encodeURIComponent(id));
  if (!r.ok) { body.replaceChildren(refusal(r, 'this request')); return; }
  const e = r.data && r.data.log ? r.data.log : r.data;
  const big = {};
  const small = {};
  for (const k in e) (k.endsWith('body') || k === 'bodies' || k === 'request' || k === 'response' ? big : small)[k] = e[k];
  body.replaceChildren();
  append(body, [h('dl', { class: 'kv', id: 'log-detail' }, Object.entries(flatten(small, '', {})).map(([k, v]) =>
    [h('dt', { text: k }), h('dd', { text: k === 'time' ? dateTime(v) + ' (' + v + ')' : compact(v) })])),
    Object.entries(big).map(([k, v]) => [h('h3', { class: 'mut', style: 'font-size:12px;margin:16px 0 0', text: k }), h('pre', { text: typeof v === 'string' ? v : JSON.stringify(v, null, 2) })])]);
}
pages.logs = {
  title: 'Requests',
  render(root) {
    const filters = {};
    const inputs = {};
    const field = (k, label, ph, type) => {
      inputs[k] = h('input', { name: k, placeholder: ph, type: type || 'text' });
      return h('label', null, label, inputs[k]);
    };
    const tbody = h('tbody');
    const box = h('div', { id: 'logs-box' });
    const note = h('div', { id: 'logs-note' });
    const more = h('button', { id: 'logs-more', hidden: true, text: 'Load older', onclick: () => load(false) });
    const tail = h('button', { id: 'logs-tail', text: 'Live tail: off', onclick: () => {
      tailing = !tailing; tail.textContent = 'Live tail: ' + (tailing ? 'on' : 'off'); tail.classList.toggle('on', tailing);
      if (tailing && !tailLoop) { tailLoop = true; every(2000, poll); }
    } });
    let cursor = null, tailing = false, tailLoop = false;
    const seen = new Set();
    const table = h('table', { id: 'logs' }, h('thead', null, h('tr', null, ['Time', 'Node', 'Route', 'Virtual key', 'Provider / model', 'Status'].map((t) => h('th', { text: t })),
      ['Latency', 'TTFT', 'Tokens in / out', 'Cost', 'Attempts'].map((t) => h('th', { class: 'num', text: t })), h('th', { text: 'Error' }))), tbody);
    const read = () => {
      for (const k of LOG_FILTERS) {
        const v = inputs[k].value.trim();
        filters[k] = (k === 'since' || k === 'until') && v ? new Date(v).toISOString() : v;
      }
    };
    const show = (res) => {
      if (res.status === 404) { box.replaceChildren(logsUnavailable()); more.hidden = true; return false; }
      if (!res.ok) { box.replaceChildren(refusal(res, 'the request log')); more.hidden = true; return false; }
      note.replaceChildren(res.data.partial ? h('div', { class: 'banner warn', id: 'logs-partial', text: 'Partial result: some nodes did not answer, their requests are missing.' }) : '');
      if (box.firstChild !== table) box.replaceChildren(table);
      return true;
    };
    async function load(reset) {
      if (reset) { read(); cursor = null; seen.clear(); tbody.replaceChildren(); }
      const res = await api('GET', logQuery(filters, { limit: 100, cursor: reset ? undefined : cursor || undefined }));
      if (!show(res)) return;
      for (const e of res.data.logs || []) if (!seen.has(e.id)) { seen.add(e.id); tbody.appendChild(logRow(e, false)); }
      cursor = res.data.next_cursor || null;
      more.hidden = !cursor;
      if (!tbody.firstChild) box.replaceChildren(h('div', { class: 'empty', id: 'logs-empty' }, h('b', { text: 'No requests match' }), 'Send a request to /v1/chat/completions, or widen the filters.'));
    }
    async function poll() {
      if (!tailing) return;
      const res = await api('GET', logQuery(filters, { limit: 50 }));
      if (!show(res)) return;
      const fresh = (res.data.logs || []).filter((e) => !seen.has(e.id));
      for (const e of fresh.reverse()) { seen.add(e.id); tbody.insertBefore(logRow(e, true), tbody.firstChild); }
      while (tbody.children.length > 1000) tbody.lastChild.remove();
    }
    const form = h('form', { class: 'filters', id: 'log-filters', onsubmit: (ev) => { ev.preventDefault(); load(true); } },
      field('provider', 'Provider', 'openai'), field('model', 'Model', 'gpt-4o-mini'), field('status', 'Status', '200, 429…'),
      field('virtual_key', 'Virtual key', 'team-a'), field('since', 'Since', '', 'datetime-local'), field('until', 'Until', '', 'datetime-local'),
      h('button', { class: 'primary', type: 'submit', text: 'Apply' }), h('button', { type: 'button', text: 'Clear', onclick: () => { form.reset(); load(true); } }), tail);
    root.append(h('div', { class: 'pagehead' }, h('h2', { text: 'Requests' }), h('p', { text: 'Every inference request across the cluster, newest first. Click a row for its details.' })),
      h('section', null, form), note, h('section', null, box, h('div', { style: 'text-align:center;margin-top:10px' }, more)));
    load(true);
  },
};

// ---------- usage and cost ----------
const RANGES = { '15m': 15 * 60e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3 };
const usageSamples = [];
function usageCell(used, limit) {
  const td = h('td');
  if (typeof limit !== 'number' || limit <= 0) { td.textContent = used === undefined ? 'no limit' : fmt(used) + ' / no limit'; return td; }
  if (typeof used !== 'number') { td.textContent = '– / ' + fmt(limit); td.title = 'usage not reported by this node'; return td; }
  const f = Math.min(1, used / limit);
  const fill = h('i', { class: f >= 1 ? 'full' : f >= 0.8 ? 'hi' : '' });
  fill.style.width = (f * 100).toFixed(1) + '%';
  td.append(h('span', { class: 'bar' }, fill), fmt(Math.round(used * 100) / 100) + ' / ' + fmt(limit));
  return td;
}
async function fetchLogsSince(since, maxPages) {
  const logs = [];
  let cursor;
  for (let i = 0; i < maxPages; i++) {
    const res = await api('GET', logQuery({ since: new Date(since).toISOString() }, { limit: 500, cursor: cursor }));
    if (!res.ok) return { status: res.status, res: res, logs: logs };
    logs.push(...(res.data.logs || []));
    cursor = res.data.next_cursor;
    if (!cursor) break;
  }
  return { status: 200, logs: logs, truncated: !!cursor };
}
function bucketise(logs, since, span, by, metric) {
  const n = 30, width = span / n;
  const buckets = Array.from({ length: n }, (_, i) => ({ t: since + i * width, values: {} }));
  for (const e of logs) {
    const i = Math.floor((Date.parse(e.time) - since) / width);
    if (i < 0 || i >= n) continue;
    const key = by(e) || '(none)';
    const v = metric(e);
    if (v) buckets[i].values[key] = (buckets[i].values[key] || 0) + v;
  }
  return buckets;
}
function totalsBy(logs, by) {
  const m = {};
  for (const e of logs) {
    const k = by(e) || '(none)';
    const t = m[k] || (m[k] = { name: k, requests: 0, errors: 0, prompt: 0, completion: 0, cost: 0, lat: [] });
    t.requests++; if (e.status >= 400) t.errors++;
    t.prompt += (e.tokens && e.tokens.prompt) || 0; t.completion += (e.tokens && e.tokens.completion) || 0;
    t.cost += e.cost || 0; if (typeof e.latency_ms === 'number') t.lat.push(e.latency_ms);
  }
  return Object.values(m).sort((a, b) => b.cost - a.cost || b.requests - a.requests).map((t) => {
    t.lat.sort((a, b) => a - b);
    return h('tr', { dataset: { name: t.name } }, h('td', { text: t.name }), h('td', { class: 'num', text: fmt(t.requests) }), h('td', { class: 'num', text: fmt(t.errors) }),
      h('td', { class: 'num', text: fmt(t.prompt) }), h('td', { class: 'num', text: fmt(t.completion) }), h('td', { class: 'num', text: money(t.cost) }),
      h('td', { class: 'num', text: ms(t.lat[Math.floor(t.lat.length / 2)]) }));
  });
}
pages.usage = {
  title: 'Usage',
  render(root) {
    let range = '1h';
    const limits = h('div', { id: 'usage-limits' }, h('p', { class: 'mut', text: 'loading…' }));
    const charts = h('div', { id: 'usage-charts' });
    const picker = h('div', { class: 'filters' }, Object.keys(RANGES).map((k) => h('button', { class: k === range ? 'on' : '', dataset: { range: k }, text: k, onclick: (ev) => {
      range = k; for (const b of picker.children) b.classList.toggle('on', b.dataset.range === k); drawLogs();
    } })));
    root.append(h('div', { class: 'pagehead' }, h('h2', { text: 'Usage and cost' }), h('span', { class: 'spacer' }), picker,
      h('p', { text: 'Per virtual key, provider and model, from the request log; current limit windows from governance.' })),
      h('section', null, h('h3', { text: 'Virtual keys: current window' }), limits), charts);
    async function drawLimits() {
      const [keys, usage] = await Promise.all([api('GET', '/api/governance/virtual-keys'), api('GET', '/api/governance/usage')]);
      if (!keys.ok) { limits.replaceChildren(refusal(keys, 'virtual key usage')); return; }
      const byId = {};
      for (const u of (usage.ok && usage.data && usage.data.virtual_keys) || []) byId[u.id] = u;
      usageSamples.push({ t: Date.now(), values: Object.fromEntries(Object.values(byId).map((u) => [u.id, u.spend_usd || 0])) });
      if (usageSamples.length > 720) usageSamples.shift();
      const list = keys.data.virtual_keys || [];
      if (!list.length) { limits.replaceChildren(h('div', { class: 'empty' }, h('b', { text: 'No virtual keys yet' }), h('a', { href: '#/keys', text: 'Create one' }))); return; }
      limits.replaceChildren(h('table', { id: 'vks' }, h('thead', null, h('tr', null, ['Virtual key', 'Status', 'Allowed models', 'Requests', 'Tokens', 'Budget (USD)'].map((t) => h('th', { text: t })))),
        h('tbody', null, list.map((vk) => {
          const u = byId[vk.id] || {}; const rl = vk.rate_limit || {}; const b = vk.budget || {};
          return h('tr', { dataset: { vk: vk.id } }, h('td', { text: vk.id }), h('td', null, vk.disabled ? badge('disabled', 'no') : badge('active', 'yes')),
            h('td', { class: 'wrap', text: (vk.allowed_models || []).join(', ') || 'all models' }),
            usageCell(u.requests, rl.request_max_limit ?? u.request_limit), usageCell(u.tokens, rl.token_max_limit ?? u.token_limit), usageCell(u.spend_usd, b.max_limit ?? u.budget_usd));
        }))));
    }
    async function drawLogs() {
      const span = RANGES[range];
      const since = Date.now() - span;
      const got = await fetchLogsSince(since, 4);
      if (got.status === 404) {
        charts.replaceChildren(h('div', { class: 'banner warn', id: 'usage-no-logs', text: 'Charts over time need the request log (GET /api/logs answered 404 on this node). Showing spend per virtual key sampled while this page is open.' }),
          h('section', null, h('h3', { text: 'Spend per virtual key (sampled, USD)' }), stackedBars(usageSamples.slice(-60), money, 'collecting samples…')));
        return;
      }
      if (got.status !== 200) { charts.replaceChildren(h('section', null, refusal(got.res, 'usage over time'))); return; }
      const L = got.logs;
      const tokens = (e) => ((e.tokens && e.tokens.prompt) || 0) + ((e.tokens && e.tokens.completion) || 0);
      const byKey = (e) => e.virtual_key, byProvider = (e) => e.provider, byModel = (e) => (e.provider ? e.provider + '/' : '') + (e.model || '');
      const card = (title, id, chart) => h('section', { id: id }, h('h3', { text: title }), chart);
      const totals = (title, by, id) => h('section', { id: id }, h('h3', { text: title }), h('table', null,
        h('thead', null, h('tr', null, h('th', { text: 'Name' }), ['Requests', 'Errors', 'Tokens in', 'Tokens out', 'Cost', 'p50 latency'].map((t) => h('th', { class: 'num', text: t })))),
        h('tbody', null, L.length ? totalsBy(L, by) : h('tr', null, h('td', { class: 'mut', colspan: 7, text: 'no requests in this range' })))));
      charts.replaceChildren(
        got.truncated ? h('div', { class: 'banner warn', text: 'Showing the newest ' + L.length + ' requests of this range.' }) : '',
        h('div', { class: 'grid2' },
          card('Requests by provider', 'chart-requests', stackedBars(bucketise(L, since, span, byProvider, () => 1), fmt)),
          card('Cost by model (USD)', 'chart-cost', stackedBars(bucketise(L, since, span, byModel, (e) => e.cost || 0), money)),
          card('Tokens by virtual key', 'chart-tokens', stackedBars(bucketise(L, since, span, byKey, tokens), fmt)),
          card('Errors by provider', 'chart-errors', stackedBars(bucketise(L, since, span, byProvider, (e) => (e.status >= 400 ? 1 : 0)), fmt))),
        h('div', { style: 'height:16px' }),
        totals('By virtual key', byKey, 'totals-keys'), totals('By provider', byProvider, 'totals-providers'), totals('By model', byModel, 'totals-models'));
    }
    every(5000, async () => { await drawLimits(); await drawLogs(); });
  },
};
`;
