/** Splits an SSE byte stream into events; tolerant of \r\n and of events split across chunks. */
export class SseParser {
  private buf = '';

  /** Feeds raw bytes; returns the complete events seen so far. */
  push(chunk: Buffer | string): { event?: string; data: string }[] {
    this.buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.buf.includes('\r')) this.buf = this.buf.replace(/\r\n?/g, '\n');
    const out: { event?: string; data: string }[] = [];
    let end = this.buf.indexOf('\n\n');
    while (end !== -1) {
      const block = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      let event: string | undefined;
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5);
        else if (line.startsWith('event:')) event = line.slice(line[6] === ' ' ? 7 : 6).trim();
      }
      if (data || event) out.push({ event, data });
      end = this.buf.indexOf('\n\n');
    }
    return out;
  }
}

export function sseData(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
