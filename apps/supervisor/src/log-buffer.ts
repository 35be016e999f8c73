import type { LogLine } from '@handover/process-table';

/** The last N lines a worker printed, kept in a ring so a chatty worker costs bounded memory. */
export class LogBuffer {
  private readonly lines: LogLine[] = [];
  private next = 0;
  private partial: Record<LogLine['stream'], string> = { stdout: '', stderr: '' };

  constructor(private readonly capacity: number) {}

  /** Feeds a chunk of output; complete lines are kept, a trailing partial line waits. */
  write(stream: LogLine['stream'], chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    // A line without a newline for 8 KiB is kept as is rather than growing forever.
    if (this.partial[stream].length > 8192) {
      parts.push(this.partial[stream]);
      this.partial[stream] = '';
    }
    const at = new Date().toISOString();
    for (const part of parts) this.push({ at, stream, text: part.replace(/\r$/, '') });
  }

  /** Keeps whatever partial lines are left (the process ended). */
  flush(): void {
    const at = new Date().toISOString();
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') this.push({ at, stream, text: this.partial[stream] });
      this.partial[stream] = '';
    }
  }

  /** The newest `count` lines, oldest first. */
  tail(count: number = this.capacity): LogLine[] {
    const ordered =
      this.lines.length < this.capacity
        ? this.lines.slice()
        : [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
    return count >= ordered.length ? ordered : ordered.slice(ordered.length - count);
  }

  /** The newest lines as one text block, for error messages. */
  tailText(count: number): string {
    return this.tail(count)
      .map((line) => line.text)
      .join('\n');
  }

  private push(line: LogLine): void {
    if (this.capacity <= 0) return;
    if (this.lines.length < this.capacity) {
      this.lines.push(line);
    } else {
      this.lines[this.next] = line;
      this.next = (this.next + 1) % this.capacity;
    }
  }
}
