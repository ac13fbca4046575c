/**
 * Exponential backoff with "equal jitter": half the window fixed, half random, so many proxies that
 * lost the upstream together do not come back in lockstep, and no retry is immediate.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const window = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return window / 2 + random() * (window / 2);
}

/** A timer loop that can be woken early and stopped; the task returns the delay until its next run. */
export class Loop {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private wakeRequested = false;

  constructor(private readonly task: () => Promise<number>) {}

  start(delayMs = 0): void {
    this.schedule(delayMs);
  }

  /** Run now (or right after the current run) instead of waiting for the timer. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
  }

  private async run(): Promise<void> {
    this.running = true;
    this.wakeRequested = false;
    let next: number;
    try {
      next = await this.task();
    } catch {
      // Tasks handle their own failures; this only keeps an unexpected throw from ending the loop.
      next = 1000;
    }
    this.running = false;
    this.schedule(this.wakeRequested ? 0 : next);
  }
}
