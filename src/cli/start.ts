import { unencryptedGossipWarning } from '../cluster/membership/exposure.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { DeepIntShieldNode } from '../node.js';
import { createLogger } from '../observability/logger.js';
import { installProcessGuard } from '../server/process-guard.js';
import { applyServerFlags } from './server-flags.js';

export async function runStart(opts: {
  config?: string;
  logFormat?: string;
  logLevel?: string;
  port?: number;
  host?: string;
}): Promise<void> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(opts.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { config, source } = loaded;
  applyServerFlags(config, opts);
  const format = (opts.logFormat ?? config.logging.format) === 'pretty' ? 'pretty' : 'json';
  const logger = createLogger({ level: opts.logLevel ?? config.logging.level, format });
  installProcessGuard(logger);
  const exposed = unencryptedGossipWarning(config.cluster_config);
  if (exposed) logger.warn({ bind_address: config.cluster_config.bind_address }, exposed);
  const node = new DeepIntShieldNode({ config, logger, configSource: source });
  let exiting = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (exiting) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    exiting = true;
    node.shutdown(signal).then(
      () => {
        logger.flush();
        setImmediate(() => process.exit(0));
      },
      (err) => {
        logger.error({ err: err?.message }, 'error during shutdown');
        logger.flush();
        setImmediate(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await node.start();
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'failed to start');
    logger.flush();
    setImmediate(() => process.exit(1));
  }
}
