/** A terminal progress bar for long runs (stderr, redrawn in place when stderr is a TTY). */
export class ProgressBar {
  private last = 0;
  private readonly start = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = true,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, info = ''): void {
    if (!this.enabled) return;
    const now = Date.now();
    const final = done >= this.total;
    // Redraw at most 10 times a second on a TTY; otherwise print a line per 10%.
    if (this.tty) {
      if (!final && now - this.last < 100) return;
    } else {
      const step = Math.max(1, Math.ceil(this.total / 10));
      if (!final && done % step !== 0) return;
    }
    this.last = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (now - this.start) / 1000;
    const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : 0;
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const line = `${this.label} [${bar}] ${done}/${this.total} ${elapsed.toFixed(1)}s${final ? '' : ` eta ${eta.toFixed(1)}s`}${info ? '  ' + info : ''}`;
    if (this.tty) this.stream.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else this.stream.write(line + '\n');
  }
}
