/** Minimal progress bar on stderr: redraws in place on a TTY, sparse plain lines otherwise. */
export class Progress {
  private done = 0;
  private lastLine = 0;
  private lastPct = -1;
  private readonly t0 = Date.now();
  private readonly tty: boolean;
  constructor(
    private total: number,
    private readonly enabled = true,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = !!stream.isTTY;
  }
  setTotal(total: number) {
    this.total = total;
  }
  tick(label: string, n = 1) {
    this.done += n;
    this.render(label);
  }
  note(msg: string) {
    if (!this.enabled) return;
    if (this.tty) this.stream.write('\r' + ' '.repeat(this.width()) + '\r');
    this.stream.write(msg + '\n');
  }
  private width() {
    return Math.max(40, Math.min(this.stream.columns || 100, 120) - 1);
  }
  private render(label: string) {
    if (!this.enabled) return;
    const frac = this.total ? Math.min(1, this.done / this.total) : 1;
    const pct = Math.floor(frac * 100);
    const el = (Date.now() - this.t0) / 1000;
    const eta = frac > 0 ? el / frac - el : 0;
    const fmt = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);
    if (this.tty) {
      const now = Date.now();
      if (now - this.lastLine < 100 && this.done < this.total) return;
      this.lastLine = now;
      const barW = 24;
      const filled = Math.round(frac * barW);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(barW - filled)}] ${String(pct).padStart(3)}% ${fmt(el)} eta ${fmt(eta)} ${label}`;
      const w = this.width();
      this.stream.write('\r' + (line.length > w ? line.slice(0, w) : line.padEnd(w)));
      if (this.done >= this.total) this.stream.write('\n');
    } else {
      // plain text: one line per 5% step (and at the end), never control characters
      const step = Math.floor(pct / 5);
      if (step === this.lastPct && this.done < this.total) return;
      this.lastPct = step;
      this.stream.write(`progress ${String(pct).padStart(3)}% (${this.done}/${this.total}) elapsed ${fmt(el)} eta ${fmt(eta)} ${label}\n`);
    }
  }
}
