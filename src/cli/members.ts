interface StatusNode {
  name: string;
  address: string;
  http_address: string;
  state: string;
  healthy: boolean;
  incarnation: number;
  version?: string;
  traffic?: { rps: number; in_flight: number };
}

export async function runMembers(opts: { url: string; json?: boolean }): Promise<void> {
  const base = opts.url.replace(/\/+$/, '');
  let status: {
    local_node: string;
    members: number;
    healthy_members: number;
    cluster_health: string;
    nodes: StatusNode[];
  };
  try {
    const res = await fetch(`${base}/cluster/status`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    status = (await res.json()) as typeof status;
  } catch (err) {
    process.stderr.write(`cannot read ${base}/cluster/status: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return;
  }
  const tty = process.stdout.isTTY;
  const colour = (code: string, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
  const stateColour: Record<string, string> = { alive: '32', suspect: '33', dead: '31', left: '90' };
  const rows = status.nodes.map((n) => [
    n.name + (n.name === status.local_node ? ' *' : ''),
    n.address,
    n.http_address,
    n.state,
    n.healthy ? 'yes' : 'no',
    String(n.incarnation),
    n.version ?? '',
    n.traffic ? String(n.traffic.rps) : '',
    n.traffic ? String(n.traffic.in_flight) : '',
  ]);
  const header = ['NAME', 'GOSSIP', 'HTTP', 'STATE', 'HEALTHY', 'INC', 'VERSION', 'RPS', 'IN-FLIGHT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${colour('1', line(header))}\n`);
  for (const r of rows) {
    const text = line(r);
    process.stdout.write(`${tty ? text.replace(r[3]!, colour(stateColour[r[3]!] ?? '0', r[3]!)) : text}\n`);
  }
  const health =
    status.cluster_health === 'HEALTHY'
      ? colour('32', status.cluster_health)
      : colour('31', status.cluster_health);
  process.stdout.write(
    `\n${status.members} members, ${status.healthy_members} healthy — cluster ${health}\n`,
  );
}
