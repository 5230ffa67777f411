import dayjs from 'dayjs';
import relativeTime from 'dayjs/plugin/relativeTime';

dayjs.extend(relativeTime);

export function clock(at: string | null | undefined): string {
  return at ? dayjs(at).format('HH:mm:ss') : '—';
}

export function dateTime(at: string | null | undefined): string {
  return at ? dayjs(at).format('YYYY-MM-DD HH:mm:ss') : '—';
}

export function ago(at: string | null | undefined): string {
  return at ? dayjs(at).fromNow() : 'never';
}

export function seconds(value: number | null | undefined): string {
  if (value == null) return '—';
  if (value < 120) return `${value} s`;
  if (value < 7200) return `${Math.round(value / 6) / 10} min`;
  return `${Math.round(value / 360) / 10} h`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

const UNIT_SUFFIXES: [RegExp, string][] = [
  [/_ms$/, 'ms'],
  [/_seconds$|_s$/, 's'],
  [/_percent$|_pct$/, '%'],
  [/_bytes$/, 'bytes'],
  [/_kbps$/, 'KB/s'],
  [/_mb$/, 'MB'],
];

const UNIT_WORDS =
  /\b(milliseconds|seconds|minutes|percent|bytes|kilobytes|megabytes|gigabytes|KB\/s|kbit\/s|Mbit\/s|probability \(0 to 1\))\b/i;

/** The unit of a parameter, from its name's suffix or its description (the catalog writes
 * units in descriptions, e.g. "added delay, milliseconds"). */
export function unitOf(name: string, description: string | undefined): string {
  for (const [rx, unit] of UNIT_SUFFIXES) if (rx.test(name)) return unit;
  const m = (description ?? '').match(UNIT_WORDS);
  return m ? m[1] : '';
}

/** How long from ``from`` to ``to`` (or now), as 45 s, 3 min 20 s, 2 h 5 min. */
export function span(from: string | null | undefined, to?: string | null, now: number = Date.now()): string {
  if (!from) return '—';
  const ms = (to ? new Date(to).getTime() : now) - new Date(from).getTime();
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
}

/** How far ``at`` is from now, to the second when it is near: "in 3 s", "12 s ago", "in 2 hours". */
export function fromNow(at: string, now: number = Date.now()): string {
  const s = Math.round((new Date(at).getTime() - now) / 1000);
  if (Math.abs(s) < 90) return s >= 0 ? `in ${s} s` : `${-s} s ago`;
  return dayjs(at).fromNow();
}
