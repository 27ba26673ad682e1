import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { parseFixedDuration } from '../../config/duration.js';
import { formatHostPort } from './address.js';
import type { DiscoveryContext, DiscoveryMethod } from './types.js';
import { abortable, errText, sleep } from './util.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * In-cluster service-account config, else KUBECONFIG / ~/.kube/config; throws
 * when none is there. `rootPrefix` relocates /var/run/secrets (tests).
 */
export function loadKubeConfig(rootPrefix = ''): KubeConfig {
  const kc = new KubeConfig();
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(`${rootPrefix}${SA_DIR}/token`)) {
    kc.loadFromCluster(rootPrefix);
    return kc;
  }
  const file = process.env.KUBECONFIG || join(homedir(), '.kube', 'config');
  const files = file.split(':').filter(Boolean);
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0)
    throw new Error(`no in-cluster service account and no kubeconfig at ${files.join(', ')}`);
  kc.loadFromFile(present[0]!);
  if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${present[0]} has no current cluster`);
  return kc;
}

export function podReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    !!pod.status.podIP &&
    !pod.metadata?.deletionTimestamp &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/**
 * Kubernetes: pods in k8s_namespace matching k8s_label_selector that are
 * Running and Ready; a watch on the same selection triggers early rounds.
 */
export class KubernetesDiscovery implements DiscoveryMethod {
  readonly type = 'kubernetes' as const;
  private kc?: KubeConfig;
  private api?: CoreV1Api;
  private readonly namespace: string;
  private readonly selector: string;
  private readonly port: number;
  private readonly timeoutMs: number;
  private listener?: () => void;
  private watchAbort?: AbortController;
  private resourceVersion?: string;
  private stopped = false;
  private watching = false;
  private rbacWarned = false;

  constructor(
    private readonly ctx: DiscoveryContext,
    opts: { kubeConfig?: KubeConfig; rootPrefix?: string } = {},
  ) {
    const c = ctx.config;
    if (!c.k8s_label_selector) throw new Error('k8s_label_selector is required for kubernetes discovery');
    this.selector = c.k8s_label_selector;
    this.rootPrefix = opts.rootPrefix ?? '';
    const saDir = `${this.rootPrefix}${SA_DIR}`;
    let ns = c.k8s_namespace;
    if (!ns) {
      try {
        ns = readFileSync(join(saDir, 'namespace'), 'utf8').trim() || undefined;
      } catch {
        /* not in a pod */
      }
    }
    this.namespace = ns ?? 'default';
    this.port = c.bind_port ?? ctx.gossipPort;
    this.timeoutMs = parseFixedDuration(c.dial_timeout);
    this.kc = opts.kubeConfig;
  }

  private readonly rootPrefix: string;

  onChange(cb: () => void): void {
    this.listener = cb;
  }

  private client(): CoreV1Api {
    if (this.api) return this.api;
    try {
      this.kc ??= loadKubeConfig(this.rootPrefix);
    } catch (err) {
      this.ctx.logger.error({ err: errText(err) }, 'error getting kubernetes config');
      throw err;
    }
    this.api = this.kc.makeApiClient(CoreV1Api);
    return this.api;
  }

  async start(): Promise<void> {
    this.client();
  }

  private explain(err: unknown): Error {
    const code = (err as { code?: number }).code;
    if (code === 403) {
      const msg = `kubernetes RBAC: the service account may not list pods in namespace ${this.namespace} (needs verbs get, list, watch on resource pods)`;
      if (!this.rbacWarned) {
        this.rbacWarned = true;
        this.ctx.logger.error({ namespace: this.namespace, verb: 'list', resource: 'pods' }, msg);
      }
      return new Error(msg);
    }
    if (code === 401) return new Error('kubernetes API rejected our credentials (401)');
    return err instanceof Error ? err : new Error(String(err));
  }

  async discover(signal: AbortSignal): Promise<string[]> {
    const api = this.client();
    let list: Awaited<ReturnType<CoreV1Api['listNamespacedPod']>>;
    try {
      list = await abortable(
        api.listNamespacedPod({
          namespace: this.namespace,
          labelSelector: this.selector,
          timeoutSeconds: Math.max(1, Math.ceil(this.timeoutMs / 1000)),
        }),
        signal,
      );
    } catch (err) {
      throw this.explain(err);
    }
    this.resourceVersion = list.metadata?.resourceVersion;
    if (!this.watching && !this.stopped) void this.watchLoop();
    return list.items.filter(podReady).map((p) => formatHostPort(p.status!.podIP!, this.port));
  }

  private async watchLoop(): Promise<void> {
    if (!this.kc) return;
    this.watching = true;
    const watch = new Watch(this.kc);
    let failures = 0;
    for (let i = 0; !this.stopped && i < 1e9; i++) {
      const started = Date.now();
      await new Promise<void>((resolve) => {
        watch
          .watch(
            `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`,
            {
              labelSelector: this.selector,
              resourceVersion: this.resourceVersion,
              allowWatchBookmarks: true,
            },
            (phase, obj: V1Pod) => {
              if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
              if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') this.listener?.();
            },
            (err) => {
              if (err && !this.stopped)
                this.ctx.logger.debug({ err: errText(err) }, 'kubernetes watch ended');
              if (err && (err as { code?: number }).code === 410) this.resourceVersion = undefined;
              resolve();
            },
          )
          .then((ac) => {
            this.watchAbort = ac;
            if (this.stopped) ac.abort();
          })
          .catch((err) => {
            if (!this.stopped) this.explain(err);
            resolve();
          });
      });
      if (this.stopped) break;
      failures = Date.now() - started < 1000 ? failures + 1 : 0;
      await sleep(Math.min(10_000, 200 * 2 ** Math.min(failures, 6)));
    }
    this.watching = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watchAbort?.abort();
  }
}
