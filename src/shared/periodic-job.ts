/**
 * A background job run on an interval (an unref'd timer, so it never keeps the process alive) that never overlaps
 * itself: a run asked for while one is in progress joins it. Failures of timer-started runs go to `onError`.
 */
export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;

  constructor(private readonly job: () => Promise<T>, private readonly onError: (err: unknown) => void) {}

  /** Runs the job every `intervalMs` (the first time after one interval); a second call changes nothing. */
  start(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.run().catch(this.onError), intervalMs);
    this.timer.unref();
  }

  /** Runs the job now, or joins the run in progress. */
  run(): Promise<T> {
    this.running ??= this.job().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops the timer and waits for a run in progress (its failure is left to whoever awaited it). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
