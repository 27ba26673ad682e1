import { describe, expect, it } from 'vitest';
import { HealthChecker, probeAddress } from '../../src/cluster/health.js';
import { unencryptedGossipWarning } from '../../src/cluster/membership/exposure.js';
import { mpEncode } from '../../src/cluster/membership/msgpack.js';
import { decodeTags, encodeTags } from '../../src/cluster/membership/serf.js';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';

/** SSRF through forged gossip: a member's `http` tag may pick a port, never a host or a path. */
describe('forged gossip cannot aim health checks', () => {
  it('probes only the gossip IP, with the port of a well-formed tag', () => {
    expect(probeAddress('10.0.0.5:8080', '10.0.0.5')).toBe('10.0.0.5:8080');
    expect(probeAddress('169.254.169.254:80', '10.0.0.9')).toBe('10.0.0.9:80');
    expect(probeAddress('metadata.google.internal:80', '10.0.0.9')).toBe('10.0.0.9:80');
    expect(probeAddress('[::1]:8080', 'fd00::7')).toBe('[fd00::7]:8080');
    expect(probeAddress('x:8080', '::ffff:10.1.2.3')).toBe('10.1.2.3:8080');
    for (const evil of [
      'host:80/admin',
      'host:80?x=1',
      'user@host:80',
      'host:0',
      'host:65536',
      'host:99999',
      'host',
      'host:80#x',
      ' host:80',
      'http://host:80',
      '',
    ])
      expect(probeAddress(evil, '10.0.0.9'), evil).toBeUndefined();
    expect(probeAddress('a:80', 'not-an-ip')).toBeUndefined();
  });

  it('never polls a member whose tag is malformed, and polls the gossip IP otherwise', async () => {
    const probed: string[] = [];
    const h = new HealthChecker({
      intervalMs: 10_000,
      timeoutMs: 100,
      successThreshold: 1,
      failureThreshold: 1,
      logger: silentLogger(),
      check: async (addr) => {
        probed.push(addr);
        return true;
      },
    });
    h.setPeers([
      { name: 'forged', httpAddress: '169.254.169.254:80', gossipIp: '127.0.0.9' },
      { name: 'path', httpAddress: '127.0.0.1:80/evil', gossipIp: '127.0.0.9' },
    ]);
    await new Promise((r) => setTimeout(r, 20));
    expect(probed).toEqual(['127.0.0.9:80']);
    expect(h.isHealthy('path')).toBe(false);
    h.stop();
  });

  it('drops tags with control bytes, non-ASCII or odd names, keeps good ones', () => {
    const meta = Buffer.concat([
      Buffer.from([0xff]),
      mpEncode(
        new Map<string, string | Buffer>([
          ['http', '127.0.0.1:8080'],
          ['version', '0.1.0'],
          ['evil\nname', 'x'],
          ['crlf', 'a\r\nb'],
          ['utf', 'é'],
          ['long', 'x'.repeat(300)],
        ]),
      ),
    ]);
    expect(decodeTags(meta)).toEqual({ http: '127.0.0.1:8080', version: '0.1.0' });
    expect(decodeTags(encodeTags({ http: 'h:1', role: 'gw' }))).toEqual({ http: 'h:1', role: 'gw' });
    expect(decodeTags(Buffer.from('legacy-role'))).toEqual({ role: 'legacy-role' });
    expect(decodeTags(Buffer.from([0x01, 0x02]))).toEqual({});
  });
});

describe('unencrypted gossip on a non-loopback address', () => {
  const cluster = (c: Record<string, unknown>) =>
    validateConfig({ cluster_config: { enabled: true, ...c } }, 'test').cluster_config;

  it('is warned about loudly; loopback or a key is not', () => {
    expect(unencryptedGossipWarning(cluster({ bind_address: '0.0.0.0' }))).toMatch(/GOSSIP IS NOT ENCRYPTED/);
    expect(unencryptedGossipWarning(cluster({ bind_address: '10.0.0.5' }))).toMatch(/encryption_key/);
    expect(unencryptedGossipWarning(cluster({ bind_address: '127.0.0.1' }))).toBeUndefined();
    expect(
      unencryptedGossipWarning(
        cluster({
          bind_address: '0.0.0.0',
          gossip: { encryption_key: Buffer.alloc(32, 1).toString('base64') },
        }),
      ),
    ).toBeUndefined();
    expect(
      unencryptedGossipWarning(validateConfig({ cluster_config: { enabled: false } }, 'test').cluster_config),
    ).toBeUndefined();
  });
});
