/** The dashboard's stylesheet: system fonts, no external resources, light and dark schemes. */
export const UI_CSS = `
:root{--fg:#101828;--mut:#667085;--bg:#f4f5f7;--card:#fff;--line:#e4e7ec;--acc:#3559e0;--acc-bg:#eef2ff;
--ok:#12805c;--ok-bg:#e7f6ef;--warn:#b54708;--warn-bg:#fef4e6;--bad:#b42318;--bad-bg:#fdecea;--code:#f2f4f7;
--c1:#3559e0;--c2:#12a17a;--c3:#e0892b;--c4:#c23d7a;--c5:#7a4ed8;--c6:#2a9fc9;--c7:#8d9a2b;--c8:#d04b3a}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ef;--mut:#98a2b3;--bg:#0f1115;--card:#171a21;--line:#2a2f3a;
--acc:#7b97ff;--acc-bg:#1d2540;--ok:#3ccf91;--ok-bg:#133025;--warn:#f5a623;--warn-bg:#3a2a10;--bad:#ff6b5e;--bad-bg:#3a1714;--code:#11141a}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--acc)}
header{position:sticky;top:0;z-index:5;display:flex;align-items:center;gap:18px;padding:0 20px;height:54px;background:var(--card);border-bottom:1px solid var(--line)}
.brand{font-weight:700;font-size:16px;display:flex;align-items:center;gap:8px;white-space:nowrap}
.brand i{display:inline-block;width:18px;height:18px;border-radius:5px;background:linear-gradient(135deg,var(--acc),var(--c2))}
nav{display:flex;gap:2px;height:100%}
nav a{display:flex;align-items:center;padding:0 12px;color:var(--mut);text-decoration:none;font-weight:500;border-bottom:2px solid transparent}
nav a:hover{color:var(--fg)}
nav a.on{color:var(--fg);border-bottom-color:var(--acc)}
.spacer{flex:1}
.who{display:flex;align-items:center;gap:10px;color:var(--mut);font-size:13px;white-space:nowrap}
main{padding:20px;max-width:1480px;margin:0 auto}
h2{font-size:18px;margin:0}
.pagehead{display:flex;align-items:center;gap:12px;margin-bottom:14px;flex-wrap:wrap}
.pagehead p{margin:0;color:var(--mut);flex-basis:100%}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin-bottom:16px;overflow-x:auto}
section>h3{font-size:12px;margin:0 0 10px;text-transform:uppercase;letter-spacing:.05em;color:var(--mut)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:7px 9px;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:middle}
tbody tr:last-child td{border-bottom:none}
th{font-weight:600;color:var(--mut);font-size:12px;background:var(--card)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal;max-width:420px;word-break:break-word}
tr.click{cursor:pointer}
tr.click:hover td{background:var(--acc-bg)}
tr.fresh td{animation:fresh 2s ease-out}
@keyframes fresh{from{background:var(--ok-bg)}to{background:transparent}}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.alive,.HEALTHY,.yes,.s2{background:var(--ok)}
.suspect,.s4{background:var(--warn)}
.dead,.no,.NOT,.s5{background:var(--bad)}
.left,.neutral{background:var(--mut)}
.tag{display:inline-block;padding:0 7px;border-radius:4px;font-size:12px;background:var(--code);color:var(--mut);border:1px solid var(--line)}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.kpi b{display:block;font-size:24px;font-variant-numeric:tabular-nums;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.kpi span{color:var(--mut);font-size:12px}
.bar{position:relative;height:8px;width:110px;background:var(--line);border-radius:4px;overflow:hidden;display:inline-block;vertical-align:middle;margin-right:8px}
.bar i{position:absolute;left:0;top:0;bottom:0;background:var(--ok)}
.bar i.hi{background:var(--warn)}.bar i.full{background:var(--bad)}
.mut{color:var(--mut)}
.err{color:var(--bad)}
tr.self td:first-child{font-weight:600}
tr.self td:first-child::after{content:" (this node)";font-weight:400;color:var(--mut)}
button,.btn{font:inherit;font-size:13px;font-weight:500;padding:6px 12px;border-radius:7px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer;white-space:nowrap}
button:hover{border-color:var(--acc)}
button.primary{background:var(--acc);border-color:var(--acc);color:#fff}
button.danger{color:var(--bad)}
button.danger:hover{border-color:var(--bad)}
button.small{padding:3px 9px;font-size:12px}
button:disabled{opacity:.5;cursor:default}
button.on{background:var(--ok-bg);border-color:var(--ok);color:var(--ok)}
input,select,textarea{font:inherit;font-size:13px;padding:6px 8px;border-radius:7px;border:1px solid var(--line);background:var(--card);color:var(--fg);min-width:0}
input:focus,select:focus,textarea:focus{outline:2px solid var(--acc-bg);border-color:var(--acc)}
input[aria-invalid=true],textarea[aria-invalid=true],select[aria-invalid=true]{border-color:var(--bad);background:var(--bad-bg)}
textarea{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;width:100%;min-height:90px}
.filters{display:flex;gap:8px;flex-wrap:wrap;align-items:end}
.filters label{display:flex;flex-direction:column;gap:3px;font-size:12px;color:var(--mut)}
.filters input{width:140px;height:32px}
.filters input[type=datetime-local]{width:200px}
.empty{padding:28px;text-align:center;color:var(--mut)}
.empty b{display:block;color:var(--fg);font-size:15px;margin-bottom:4px}
.banner{padding:9px 12px;border-radius:8px;margin-bottom:12px;border:1px solid}
.banner.warn{background:var(--warn-bg);border-color:var(--warn);color:var(--warn)}
.banner.bad{background:var(--bad-bg);border-color:var(--bad);color:var(--bad)}
.banner.ok{background:var(--ok-bg);border-color:var(--ok);color:var(--ok)}
.banner code{user-select:all;color:var(--fg)}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px}
.grid2>section{margin-bottom:0}
.chart svg{display:block;width:100%;height:auto}
.chart .axis{stroke:var(--line)}
.chart text{fill:var(--mut);font-size:11px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--mut);margin-top:6px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.overlay{position:fixed;inset:0;background:rgba(16,24,40,.45);display:flex;justify-content:flex-end;z-index:10}
.overlay.center{align-items:center;justify-content:center}
.panel{background:var(--card);width:min(620px,100%);height:100%;overflow-y:auto;padding:20px 22px;box-shadow:-8px 0 24px rgba(0,0,0,.15)}
.dialog{background:var(--card);width:min(420px,92%);border-radius:12px;padding:22px;box-shadow:0 12px 32px rgba(0,0,0,.25)}
.panel h3,.dialog h3{margin:0 0 14px;font-size:17px;display:flex;align-items:center;gap:10px}
.panel h3 .spacer{flex:1}
.field{display:flex;flex-direction:column;gap:4px;margin-bottom:12px}
.field>span{font-size:12px;font-weight:600;color:var(--mut)}
.field>small{font-size:12px;color:var(--mut)}
.field .ferr{font-size:12px;color:var(--bad)}
.field input:not([type=checkbox]),.field select{width:100%}
.row{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.row3{display:grid;grid-template-columns:1.2fr 1.6fr 1.6fr .7fr auto;gap:6px;align-items:start}
fieldset{border:1px solid var(--line);border-radius:8px;padding:10px 12px 2px;margin:0 0 12px}
legend{font-size:12px;font-weight:600;color:var(--mut);padding:0 4px}
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:16px}
.formerr{margin-bottom:12px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0}
dl.kv dt{color:var(--mut);font-size:12px}
dl.kv dd{margin:0;word-break:break-word;font-variant-numeric:tabular-nums}
pre{background:var(--code);border:1px solid var(--line);border-radius:8px;padding:10px;overflow:auto;max-height:320px;font-size:12px;margin:6px 0 12px}
.secret{font-family:ui-monospace,Menlo,Consolas,monospace;background:var(--code);padding:2px 6px;border-radius:4px}
`;
