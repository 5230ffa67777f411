// Whether a fault of the catalog can run here, in words: the catalog page and the workflow
// editor's palette both list runnable faults first by it.
import type { Backend, FaultType } from './api/types';

/** Runnable (``ok``) when its adapter is installed and a backend (or, for native, an online
 * agent) can run it; ``text`` says which, or what is missing. */
export function availabilityHint(f: FaultType, backends: Pick<Backend, 'adapter' | 'name'>[]): { text: string; ok: boolean } {
  if (!f.installed) {
    const command = f.installHint?.match(/pip install .*/)?.[0];
    return { text: command ? `not installed: ${command}` : 'adapter not installed', ok: false };
  }
  if (f.adapter === 'native') {
    const up = f.availability.filter((a) => a.available).length;
    if (!f.availability.length) return { text: 'no agent registered', ok: false };
    return { text: `available on ${up} of ${f.availability.length} agent${f.availability.length === 1 ? '' : 's'}`, ok: up > 0 };
  }
  const n = backends.filter((b) => b.adapter === f.adapter).length;
  return n ? { text: `${n} ${f.adapter} backend${n > 1 ? 's' : ''}`, ok: true } : { text: `no ${f.adapter} backend configured`, ok: false };
}

/** Faults that can run first, each group in the catalog's order. */
export function runnableFirst<T extends FaultType>(faults: T[], backends: Pick<Backend, 'adapter' | 'name'>[]): { f: T; hint: { text: string; ok: boolean } }[] {
  return faults
    .map((f, i) => ({ f, i, hint: availabilityHint(f, backends) }))
    .sort((a, b) => Number(b.hint.ok) - Number(a.hint.ok) || a.i - b.i)
    .map(({ f, hint }) => ({ f, hint }));
}
