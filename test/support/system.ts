import { execFileSync } from 'node:child_process';

/**
 * Asserts a system binary is present. Global setup installs them, so a missing
 * one is a failure, never a skip (CI=true forbids skips).
 */
export function requireBinary(name: string): string {
  try {
    return execFileSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`required system binary "${name}" is missing: run scripts/install-system-deps.sh`);
  }
}
