// The wall-clock checkpoint timer.
import { describe, expect, it } from "vitest";
import { CheckpointClock } from "../../trainer/train/checkpoint_clock.js";

describe("CheckpointClock", () => {
  it("is due once the minutes have passed since the last checkpoint, and not again until the next interval", () => {
    let now = 0;
    const clock = new CheckpointClock(10, () => now);
    now = 9 * 60_000;
    expect(clock.due()).toBe(false);
    now = 10 * 60_000;
    expect(clock.due()).toBe(true);
    clock.reset();
    now += 5 * 60_000;
    expect(clock.due()).toBe(false);
  });

  it("is never due when set to 0", () => {
    let now = 0;
    const clock = new CheckpointClock(0, () => now);
    now = 1e12;
    expect(clock.due()).toBe(false);
  });
});
