import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NETDELAY_SOURCE = join(import.meta.dirname, 'netdelay.c');

/** Compiles test/support/netdelay.c once per source version (gcc and libnetfilter-queue-dev come from the set-up script). */
function netdelayBinary(): string {
  const hash = createHash('sha256').update(readFileSync(NETDELAY_SOURCE)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'deepintshield-test-bin');
  const bin = join(dir, `netdelay-${hash}`);
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}`;
    execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, NETDELAY_SOURCE, '-lnetfilter_queue'], {
      stdio: 'inherit',
    });
    execFileSync('mv', [tmp, bin]);
  }
  return bin;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A test network: a bridge in its own namespace and one namespace per host,
 * each linked to the bridge by a veth pair, on 10.77.<subnet>.0/24. Nothing
 * is routed to the real network. `destroy()` removes every namespace (and
 * with it every veth) even after a failed test.
 */
export class TestNetwork {
  readonly id = randomBytes(3).toString('hex');
  readonly bridgeNs = `dis-br-${this.id}`;
  readonly hosts: { ns: string; ip: string; veth: string }[] = [];

  constructor(
    readonly subnet = 77,
    readonly prefix = `10.77.${77}`,
  ) {
    this.prefix = `10.77.${subnet}`;
  }

  create(hostCount: number): this {
    try {
      ip('netns', 'add', this.bridgeNs);
      ip('-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', this.bridgeNs, 'link', 'set', 'br0', 'up');
      ip('-n', this.bridgeNs, 'link', 'set', 'lo', 'up');
      for (let i = 1; i <= hostCount; i++) this.addHost(i);
    } catch (err) {
      this.destroy();
      throw err;
    }
    return this;
  }

  addHost(i: number): { ns: string; ip: string; veth: string } {
    const ns = `dis-h${i}-${this.id}`;
    const hostIp = `${this.prefix}.${i + 10}`;
    const outer = `v${i}-${this.id}`;
    ip('netns', 'add', ns);
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', outer, 'netns', this.bridgeNs);
    ip('-n', this.bridgeNs, 'link', 'set', outer, 'master', 'br0');
    ip('-n', this.bridgeNs, 'link', 'set', outer, 'up');
    ip('-n', ns, 'addr', 'add', `${hostIp}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    // multicast (mDNS) stays on the test bridge
    ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
    const host = { ns, ip: hostIp, veth: outer };
    this.hosts[i - 1] = host;
    return host;
  }

  /** Cuts (or restores) a host's link to the bridge. */
  setLink(i: number, up: boolean): void {
    ip('-n', this.bridgeNs, 'link', 'set', this.hosts[i - 1]!.veth, up ? 'up' : 'down');
  }

  /**
   * Loss, delay and jitter on everything a host sends, as `tc netem loss L% delay D J` would do. This
   * kernel has no sch_netem (CONFIG_NET_SCH_NETEM is not set), so iptables hands the host's outgoing
   * packets to NFQUEUE and test/support/netdelay.c holds each one D ± J ms (uniform; packets may be
   * reordered) or drops it. `--queue-bypass` lets packets through if the delayer is gone.
   */
  async degrade(i: number, o: { lossPercent: number; delayMs: number; jitterMs: number }): Promise<void> {
    const ns = this.hosts[i - 1]!.ns;
    const bin = netdelayBinary();
    execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'iptables',
      '-A',
      'OUTPUT',
      '-o',
      'eth0',
      '-j',
      'NFQUEUE',
      '--queue-num',
      '0',
      '--queue-bypass',
    ]);
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, bin, '0', String(o.delayMs), String(o.jitterMs), String(o.lossPercent / 100)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.delayers.set(i, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('netdelay did not start')), 5000);
      child.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`netdelay exited with ${code}`));
      });
    });
  }

  async clearDegrade(i: number): Promise<void> {
    const child = this.delayers.get(i);
    this.delayers.delete(i);
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM'); // releases what it holds
      await exited;
    }
    try {
      execFileSync('ip', ['netns', 'exec', this.hosts[i - 1]!.ns, 'iptables', '-F', 'OUTPUT'], {
        stdio: 'ignore',
      });
    } catch {
      /* namespace gone */
    }
  }

  private readonly delayers = new Map<number, ChildProcess>();

  /**
   * Drops `percent`% of the packets a host sends, at random (nftables
   * numgen). This kernel has no netem (CONFIG_NET_SCH_NETEM is not set), so
   * loss is what can be emulated; delay and jitter cannot.
   */
  loss(i: number, percent: number): void {
    const ns = this.hosts[i - 1]!.ns;
    const rules = `table inet dis_chaos {\n chain out {\n type filter hook output priority 0; policy accept;\n numgen random mod 100 < ${percent} drop\n }\n}\n`;
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules });
  }

  clearLoss(i: number): void {
    try {
      execFileSync(
        'ip',
        ['netns', 'exec', this.hosts[i - 1]!.ns, 'nft', 'delete', 'table', 'inet', 'dis_chaos'],
        { stdio: 'ignore' },
      );
    } catch {
      /* none set */
    }
  }

  /**
   * Gives the test process (default namespace) a leg on the bridge at
   * <prefix>.1 so it can reach the hosts directly. The veth dies with the
   * bridge namespace in destroy().
   */
  attachRoot(): string {
    const outer = `r-${this.id}`;
    const inner = `dis-r-${this.id}`;
    ip('link', 'add', inner, 'type', 'veth', 'peer', 'name', outer, 'netns', this.bridgeNs);
    ip('-n', this.bridgeNs, 'link', 'set', outer, 'master', 'br0');
    ip('-n', this.bridgeNs, 'link', 'set', outer, 'up');
    ip('addr', 'add', `${this.prefix}.1/24`, 'dev', inner);
    ip('link', 'set', inner, 'up');
    this.rootVeth = inner;
    return `${this.prefix}.1`;
  }

  private rootVeth?: string;

  destroy(): void {
    for (const child of this.delayers.values()) if (child.exitCode === null) child.kill('SIGKILL');
    this.delayers.clear();
    for (const h of this.hosts) {
      if (!h) continue;
      try {
        ip('netns', 'del', h.ns);
      } catch {
        /* already gone */
      }
    }
    if (this.rootVeth) {
      try {
        ip('link', 'del', this.rootVeth);
      } catch {
        /* went with the bridge namespace */
      }
    }
    try {
      ip('netns', 'del', this.bridgeNs);
    } catch {
      /* already gone */
    }
  }
}
