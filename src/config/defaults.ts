/**
 * Constants shared by the code and the deployment files (deploy/). The tests
 * in test/deploy/ assert the manifests against these, so they cannot drift.
 */
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_GOSSIP_PORT = 10101;
export const DEFAULT_SERVICE_NAME = 'deepintshield-cluster';
export const DEFAULT_DRAIN_TIMEOUT_SECONDS = 30;
export const DEFAULT_DRAIN_ACCEPT_SECONDS = 5;
export const DEFAULT_SQLITE_PATH = './data/config.db';

export const HEALTH_PATH = '/health';
export const READY_PATH = '/ready';
export const CLUSTER_STATUS_PATH = '/cluster/status';
export const METRICS_PATH = '/metrics';
export const UI_PATH = '/ui';

/** Labels every Kubernetes object of a deployment carries. */
export const K8S_APP_NAME = 'deepintshield';
export const K8S_LABELS = {
  'app.kubernetes.io/name': K8S_APP_NAME,
  'app.kubernetes.io/component': 'gateway',
} as const;
/** The selector the kubernetes discovery method uses to find its peers. */
export const DEFAULT_K8S_LABEL_SELECTOR =
  'app.kubernetes.io/name=deepintshield,app.kubernetes.io/component=gateway';

/** Names of the container ports in the manifests. */
export const K8S_PORT_NAMES = { http: 'http', gossipTcp: 'gossip-tcp', gossipUdp: 'gossip-udp' } as const;
