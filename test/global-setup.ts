import { execFileSync } from 'node:child_process';

/**
 * Runs once before the suite: installs the Debian packages the tests run
 * against (real etcd, dnsmasq, PostgreSQL, avahi, nginx, serf, chromium) when
 * they are missing, and builds dist/ so tests can start real node processes.
 */
export default function setup(): void {
  // Each vitest project runs the global setup; once per test run is enough.
  if (process.env.DIS_GLOBAL_SETUP_DONE) return;
  process.env.DIS_GLOBAL_SETUP_DONE = '1';
  execFileSync('bash', ['scripts/install-system-deps.sh'], { stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
