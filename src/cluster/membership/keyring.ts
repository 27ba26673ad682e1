import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * memberlist's AES-GCM envelope: version(1) | nonce(12) | ciphertext | tag(16).
 * Version 1 = no padding (sent); version 0 = PKCS#7 padded plaintext (accepted).
 */
export const ENCRYPT_OVERHEAD = 1 + 12 + 16;
const NONCE = 12;
const TAG = 16;

function algo(key: Buffer): string {
  switch (key.length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      throw new Error('encryption key must be 16, 24 or 32 bytes');
  }
}

export function parseKey(b64: string): Buffer {
  const key = Buffer.from(b64.trim(), 'base64');
  algo(key);
  return key;
}

export class Keyring {
  private keys: Buffer[];

  constructor(primary: Buffer, others: Buffer[] = []) {
    algo(primary);
    for (const k of others) algo(k);
    this.keys = [primary, ...others.filter((k) => !k.equals(primary))];
  }

  static fromBase64(primary: string, others: string[] = []): Keyring {
    return new Keyring(parseKey(primary), others.map(parseKey));
  }

  get primary(): Buffer {
    return this.keys[0]!;
  }

  get all(): readonly Buffer[] {
    return this.keys;
  }

  encrypt(plain: Buffer, aad?: Buffer): Buffer {
    const key = this.primary;
    const nonce = randomBytes(NONCE);
    const c = createCipheriv(algo(key) as 'aes-256-gcm', key, nonce);
    if (aad && aad.length > 0) c.setAAD(aad);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([Buffer.from([1]), nonce, body, c.getAuthTag()]);
  }

  /** Tries every installed key; returns null when none decrypts (wrong key, tampering, plaintext). */
  decrypt(env: Buffer, aad?: Buffer): Buffer | null {
    if (env.length < ENCRYPT_OVERHEAD) return null;
    const version = env[0];
    if (version !== 0 && version !== 1) return null;
    const nonce = env.subarray(1, 1 + NONCE);
    const body = env.subarray(1 + NONCE, env.length - TAG);
    const tag = env.subarray(env.length - TAG);
    for (const key of this.keys) {
      try {
        const d = createDecipheriv(algo(key) as 'aes-256-gcm', key, nonce);
        if (aad && aad.length > 0) d.setAAD(aad);
        d.setAuthTag(tag);
        const plain = Buffer.concat([d.update(body), d.final()]);
        if (version === 0) {
          const pad = plain[plain.length - 1];
          if (pad === undefined || pad === 0 || pad > 16 || pad > plain.length) return null;
          return plain.subarray(0, plain.length - pad);
        }
        return plain;
      } catch {
        // try the next key
      }
    }
    return null;
  }
}
