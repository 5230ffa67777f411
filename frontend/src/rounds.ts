import type { HubEvent, Phase, Run } from './api/types';

const TERMINAL_PHASES = ['completed', 'aborted', 'failed'];

/** The run's events oldest first (the API may list newest first; equal times by id). */
export function chronological(events: HubEvent[]): HubEvent[] {
  return [...events].sort((a, b) => {
    const d = new Date(a.at).getTime() - new Date(b.at).getTime();
    return d !== 0 ? d : Number(a.id) - Number(b.id);
  });
}

export type Step = { phase: Phase | 'end'; label: string; at: string | null; state: 'done' | 'current' | 'future' };

/** Every phase the run entered, in the order it entered them (running → paused → injecting →
 * running again after a resume), then what is still to come. */
export function phaseSteps(run: Run): Step[] {
  const entered: { phase: Phase; at: string }[] = [{ phase: 'pending', at: run.createdAt }];
  for (const e of chronological(run.events)) {
    if (e.kind !== 'phase' || !e.toPhase || e.toPhase === 'pending') continue;
    entered.push({ phase: e.toPhase as Phase, at: e.at });
  }
  const terminal = TERMINAL_PHASES.includes(run.phase);
  const last = entered[entered.length - 1];
  if (!terminal && last.phase !== run.phase) entered.push({ phase: run.phase, at: run.updatedAt });
  const out: Step[] = entered
    .filter((s) => !TERMINAL_PHASES.includes(s.phase))
    .map((s) => ({ phase: s.phase, label: s.phase, at: s.at, state: 'done' }));
  if (terminal) {
    out.push({ phase: 'end', label: run.phase, at: run.endedAt, state: 'current' });
    return out;
  }
  out[out.length - 1].state = 'current';
  const ahead: Phase[] = ['injecting', 'running', 'recovering'];
  const from = ahead.indexOf(run.phase);
  for (const phase of from < 0 ? ahead : ahead.slice(from + 1)) out.push({ phase, label: phase, at: null, state: 'future' });
  if (run.phase === 'paused') out.push({ phase: 'recovering', label: 'recovering', at: null, state: 'future' });
  out.push({ phase: 'end', label: 'end', at: null, state: 'future' });
  return out;
}

export type Round = { injected: string | null; recovered: string | null };

/** Each inject/recover round of one target, oldest first: a pause recovers, a resume injects again. */
export function targetRounds(run: Run, label: string): Round[] {
  const rounds: Round[] = [];
  for (const e of chronological(run.events)) {
    if (e.target !== label) continue;
    if (e.kind === 'injected') rounds.push({ injected: e.at, recovered: null });
    else if (e.kind === 'recovered') {
      const open = rounds[rounds.length - 1];
      if (open && !open.recovered) open.recovered = e.at;
      else rounds.push({ injected: null, recovered: e.at });
    }
  }
  return rounds;
}
