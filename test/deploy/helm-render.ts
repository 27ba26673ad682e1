import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYamlText } from 'yaml';

/**
 * A small renderer for the Go-template subset the chart uses, so the chart can
 * be tested without Helm. Supported, and nothing else (anything unknown
 * throws): `{{ .Values.a.b }}`, `{{ .Release.Name }}`, `{{ .Chart.X }}`, `.`,
 * string and number literals, `{{- ... -}}` trimming, `if`/`else`/`end`,
 * `define`/`end` (in _helpers.tpl), pipes, and the functions `include`,
 * `toYaml`, `toJson`, `nindent`, `quote`, `default`, `not`.
 */

type Node =
  | { t: 'text'; v: string }
  | { t: 'action'; expr: string }
  | { t: 'if'; cond: string; yes: Node[]; no: Node[] };

interface Ctx {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string };
  Chart: Record<string, unknown>;
}

type Token = { kind: 'text'; v: string } | { kind: 'tag'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ kind: 'text', v: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    const close = src.indexOf('}}', open);
    if (close < 0) throw new Error('unterminated {{');
    let inner = src.slice(open + 2, close);
    if (inner.startsWith('-')) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    let next = close + 2;
    if (inner.endsWith('-')) {
      inner = inner.slice(0, -1);
      const m = /^\s*/.exec(src.slice(next))!;
      next += m[0].length;
    }
    if (text) out.push({ kind: 'text', v: text });
    out.push({ kind: 'tag', v: inner.trim() });
    i = next;
  }
  return out;
}

function parse(tokens: Token[], defines: Map<string, Node[]>): Node[] {
  let pos = 0;
  const block = (stopAt: string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos++]!;
      if (tok.kind === 'text') {
        nodes.push({ t: 'text', v: tok.v });
        continue;
      }
      const tag = tok.v;
      if (tag.startsWith('/*')) continue;
      if (stopAt.includes(tag)) return { nodes, stop: tag };
      if (tag.startsWith('if ')) {
        const a = block(['else', 'end']);
        const b = a.stop === 'else' ? block(['end']) : { nodes: [], stop: 'end' };
        nodes.push({ t: 'if', cond: tag.slice(3).trim(), yes: a.nodes, no: b.nodes });
      } else if (tag.startsWith('define ')) {
        const name = JSON.parse(tag.slice(7).trim()) as string;
        defines.set(name, block(['end']).nodes);
      } else if (/^(else|end|range|with|template|block)\b/.test(tag)) {
        throw new Error(`unsupported or misplaced template construct: {{ ${tag} }}`);
      } else {
        nodes.push({ t: 'action', expr: tag });
      }
    }
    if (stopAt.length) throw new Error(`missing {{ ${stopAt.join(' / ')} }}`);
    return { nodes, stop: '' };
  };
  return block([]).nodes;
}

function splitArgs(s: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|\S+/g;
  for (const m of s.matchAll(re)) out.push(m[0]);
  return out;
}

function splitPipes(expr: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inStr = false;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '"' && expr[i - 1] !== '\\') inStr = !inStr;
    if (c === '|' && !inStr) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function toText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') throw new Error('cannot print a map or list without toYaml/toJson');
  return String(v);
}

const FUNCS = new Set(['include', 'toYaml', 'toJson', 'nindent', 'quote', 'default', 'not']);

export class HelmRenderer {
  private readonly defines = new Map<string, Node[]>();

  constructor(private readonly chartDir: string) {
    const helpers = join(chartDir, 'templates', '_helpers.tpl');
    parse(tokenize(readFileSync(helpers, 'utf8')), this.defines);
  }

  private value(arg: string, dot: unknown): unknown {
    if (arg.startsWith('"')) return JSON.parse(arg);
    if (/^-?\d+(\.\d+)?$/.test(arg)) return Number(arg);
    if (arg === '.') return dot;
    if (arg === 'true' || arg === 'false') return arg === 'true';
    if (arg.startsWith('.')) {
      let v: unknown = dot;
      for (const k of arg.slice(1).split('.')) v = v == null ? undefined : (v as Record<string, unknown>)[k];
      return v;
    }
    throw new Error(`unsupported argument ${arg}`);
  }

  private call(fn: string, args: unknown[], dot: unknown): unknown {
    switch (fn) {
      case 'include': {
        const body = this.defines.get(args[0] as string);
        if (!body) throw new Error(`include of undefined template ${String(args[0])}`);
        return this.renderNodes(body, args[1]);
      }
      case 'toYaml':
        return args[0] === undefined || args[0] === null ? '' : toYamlText(args[0]).replace(/\n$/, '');
      case 'toJson':
        return JSON.stringify(args[0] ?? null);
      case 'nindent': {
        const pad = ' '.repeat(args[0] as number);
        return `\n${toText(args[1])
          .split('\n')
          .map((l) => pad + l)
          .join('\n')}`;
      }
      case 'quote':
        return JSON.stringify(toText(args[0]));
      case 'default':
        return truthy(args[1]) ? args[1] : args[0];
      case 'not':
        return !truthy(args[0]);
      default:
        void dot;
        throw new Error(`unsupported function ${fn}`);
    }
  }

  private evalExpr(expr: string, dot: unknown): unknown {
    let acc: unknown;
    let first = true;
    for (const cmd of splitPipes(expr)) {
      const parts = splitArgs(cmd);
      const [head, ...rest] = parts;
      if (!head) throw new Error(`empty command in ${expr}`);
      if (FUNCS.has(head)) {
        const args = rest.map((a) => this.value(a, dot));
        if (!first) args.push(acc);
        acc = this.call(head, args, dot);
      } else {
        if (parts.length !== 1 || !first) throw new Error(`unsupported command ${cmd}`);
        acc = this.value(head, dot);
      }
      first = false;
    }
    return acc;
  }

  private renderNodes(nodes: Node[], dot: unknown): string {
    let out = '';
    for (const n of nodes) {
      if (n.t === 'text') out += n.v;
      else if (n.t === 'action') out += toText(this.evalExpr(n.expr, dot));
      else out += this.renderNodes(truthy(this.evalExpr(n.cond, dot)) ? n.yes : n.no, dot);
    }
    return out;
  }

  /** Renders every templates/*.yaml with values.yaml merged with `overrides`; returns the text per file. */
  render(releaseName: string, overrides: Record<string, unknown> = {}): Map<string, string> {
    const values = deepMerge(
      parseYaml(readFileSync(join(this.chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>,
      overrides,
    );
    const chart = parseYaml(readFileSync(join(this.chartDir, 'Chart.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    const ctx: Ctx = {
      Values: values,
      Release: { Name: releaseName, Namespace: 'default' },
      Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    };
    const out = new Map<string, string>();
    for (const f of readdirSync(join(this.chartDir, 'templates')).sort()) {
      if (!f.endsWith('.yaml')) continue;
      const nodes = parse(tokenize(readFileSync(join(this.chartDir, 'templates', f), 'utf8')), this.defines);
      out.set(f, this.renderNodes(nodes, ctx));
    }
    return out;
  }
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    // Helm semantics: a null override removes the default.
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
