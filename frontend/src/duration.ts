import type { FaultType } from './api/types';

/** The hub's own bound on every run (chaoshub/services/runs.py MAX_DURATION_SECONDS). */
export const HUB_MAX_DURATION_SECONDS = 7 * 24 * 3600;

/** What is wrong with a duration the user typed, in the API's own bounds; null when fine.
 * The value is never rewritten: an out-of-range number is an error, not a clamp. */
export function durationError(
  value: number | string,
  fault: Pick<FaultType, 'durationRequired' | 'minDurationSeconds' | 'maxDurationSeconds'>,
): string | null {
  if (value === '' || value === undefined) return fault.durationRequired ? 'give a duration in seconds' : null;
  const n = Number(value);
  if (!Number.isFinite(n)) return 'a duration is a number of seconds';
  const max = fault.maxDurationSeconds ?? HUB_MAX_DURATION_SECONDS;
  const low = fault.minDurationSeconds;
  if (low != null && n < low) return `at least ${low} s for this fault (at most ${max} s)`;
  if (n <= 0) return `more than 0 s (at most ${max} s)`;
  if (n > max) return `at most ${max} s${fault.maxDurationSeconds != null ? ' for this tool' : ' (7 days, the hub\'s limit)'}`;
  return null;
}
