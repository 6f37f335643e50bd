// Throttled answers (429) are held back for up to their Retry-After, at most
// `maxDelayMs`: a client that ignores Retry-After and asks again at once would otherwise
// spin on refusals, and thousands of cheap refusals a second still take the CPU that
// other tenants need. Held answers cost a timer each; past `maxHeld` at once, the rest
// are answered straight away.

export type HoldBack = <T>(answer: T, retryAfterSeconds: number) => Promise<T>;

export function createHoldBack(maxDelayMs: number, maxHeld = 1_000): HoldBack {
  let held = 0;
  return async (answer, retryAfterSeconds) => {
    if (maxDelayMs <= 0 || held >= maxHeld) return answer;
    held += 1;
    try {
      await new Promise((resolve) => setTimeout(resolve, Math.min(maxDelayMs, retryAfterSeconds * 1000)));
    } finally {
      held -= 1;
    }
    return answer;
  };
}
