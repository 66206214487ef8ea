// Wall-clock checkpoint timing: "a checkpoint is due" once N minutes passed since the last one was written.

export class CheckpointClock {
  private last: number;

  /** `everyMinutes` 0 turns it off. `now` is injectable so tests need not wait. */
  constructor(
    private readonly everyMinutes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  due(): boolean {
    return this.everyMinutes > 0 && this.now() - this.last >= this.everyMinutes * 60_000;
  }

  /** Called when any checkpoint (periodic, epoch end, SIGTERM) has been written. */
  reset(): void {
    this.last = this.now();
  }
}
