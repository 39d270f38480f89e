/**
 * "Now" for every decision: the later of the clock and the latest time observed (clock
 * readings and signed `iat`s), so a clock set back never revives expired state.
 */
export class TimeFloor {
  private floorMs: number;

  constructor(
    /** Epoch ms (`Date.now`, or an injected clock's `getTime()`). */
    private readonly clock: () => number,
    initialMs = 0,
  ) {
    this.floorMs = Number.isFinite(initialMs) ? initialMs : 0;
  }

  /** Reads the clock, raises the floor to it, and returns the floor (epoch ms). */
  now(): number {
    this.observe(this.clock());
    return this.floorMs;
  }

  observe(ms: number): void {
    if (Number.isFinite(ms) && ms > this.floorMs) this.floorMs = ms;
  }

  get floor(): number {
    return this.floorMs;
  }
}
