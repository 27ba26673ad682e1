import { UI_CHART_JS } from './client-chart.js';
import { UI_CORE_JS } from './client-core.js';
import { UI_MANAGE_JS } from './client-manage.js';
import { UI_OBSERVE_JS } from './client-observe.js';
import { UI_CSS } from './styles.js';

/**
 * The dashboard: one self-contained HTML page (inline CSS and JS, no external
 * resources, no build step), served by every node. Pages are routed by the
 * URL hash: #/cluster, #/logs, #/usage, #/providers, #/keys.
 */
export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>DeepIntShield</title>
<style>${UI_CSS}</style>
</head>
<body>
<header>
<div class="brand"><i></i>DeepIntShield</div>
<nav>
<a href="#/cluster" data-page="cluster">Cluster</a>
<a href="#/logs" data-page="logs">Requests</a>
<a href="#/usage" data-page="usage">Usage</a>
<a href="#/providers" data-page="providers">Providers</a>
<a href="#/keys" data-page="keys">Virtual keys</a>
</nav>
<span class="spacer"></span>
<span class="who"><span id="node-name"></span><span id="health" class="badge neutral">…</span><span id="who"></span></span>
</header>
<main id="page"></main>
<script>
${UI_CORE_JS}
${UI_CHART_JS}
${UI_OBSERVE_JS}
${UI_MANAGE_JS}
renderWho();
route();
setInterval(() => { if (current.name !== 'cluster') fetchStatus(); }, 5000);
fetchStatus();
</script>
</body>
</html>
`;
