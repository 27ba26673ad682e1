import { ConfigError, loadConfig } from '../config/load.js';
import { maskSecrets } from '../config/secrets.js';

export function runCheckConfig(opts: { config?: string }): void {
  try {
    const { config, source } = loadConfig(opts.config);
    const tty = process.stdout.isTTY;
    process.stdout.write(`${tty ? '\x1b[32m✔\x1b[0m ' : ''}config OK (${source})\n`);
    process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
    process.exit(0);
  } catch (err) {
    if (err instanceof ConfigError) {
      const tty = process.stderr.isTTY;
      process.stderr.write(
        `${tty ? '\x1b[31m✖\x1b[0m ' : ''}invalid configuration (${err.source}): ${err.problems.length} problem(s)\n`,
      );
      for (const p of err.problems) process.stdout.write(`${p}\n`);
      process.exit(2);
    }
    throw err;
  }
}
