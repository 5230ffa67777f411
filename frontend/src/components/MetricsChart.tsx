import { Paper, Text, Title } from '@mantine/core';
import { useMemo } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Run } from '../api/types';
import { clock } from '../format';

export type Sample = { at: number; target: string; metrics: Record<string, number> };

const COLORS = ['#e8590c', '#1971c2', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#c2255c'];

/** The values each target reported as applied, over time: zero before injection and after
 * recovery, the reported value while the fault was on, plus every value seen live. This is
 * how an operator sees that the chaos was really injected and really removed. */
export function MetricsChart({ run, samples, now }: { run: Run; samples: Sample[]; now: number }) {
  const names = useMemo(() => {
    const set = new Set<string>();
    for (const t of run.targets) Object.keys(t.metrics ?? {}).forEach((k) => set.add(k));
    for (const s of samples) Object.keys(s.metrics).forEach((k) => set.add(k));
    return [...set].sort();
  }, [run, samples]);

  if (!names.length) {
    return (
      <Paper withBorder p="md">
        <Title order={5}>Applied values</Title>
        <Text size="sm" c="dimmed">
          {run.targets.some((t) => t.injectedAt)
            ? 'The tool reported no values for this fault.'
            : 'Values appear here once the tool reports the fault applied.'}
        </Text>
      </Paper>
    );
  }
  const start = new Date(run.startedAt ?? run.createdAt).getTime();
  const end = run.endedAt ? new Date(run.endedAt).getTime() : now;
  return (
    <>
      {names.map((metric) => {
        const points = new Map<number, Record<string, number>>();
        const put = (at: number, target: string, value: number) => {
          const row = points.get(at) ?? {};
          row[target] = value;
          points.set(at, row);
        };
        for (const t of run.targets) {
          const value = Number(t.metrics?.[metric] ?? NaN);
          const mine = samples.filter((s) => s.target === t.label && metric in s.metrics);
          const applied = Number.isFinite(value) ? value : mine.length ? mine[mine.length - 1].metrics[metric] : NaN;
          if (!Number.isFinite(applied)) continue;
          put(start, t.label, 0);
          if (t.injectedAt) {
            const inj = new Date(t.injectedAt).getTime();
            put(inj - 1, t.label, 0);
            put(inj, t.label, applied);
          }
          for (const s of mine) put(s.at, t.label, s.metrics[metric]);
          if (t.recoveredAt) {
            const rec = new Date(t.recoveredAt).getTime();
            put(rec - 1, t.label, applied);
            put(rec, t.label, 0);
            put(Math.max(end, rec), t.label, 0);
          } else if (t.injectedAt) {
            put(end, t.label, applied);
          } else {
            put(end, t.label, 0);
          }
        }
        const data = [...points.entries()].sort((a, b) => a[0] - b[0]).map(([at, row]) => ({ at, ...row }));
        return (
          <Paper withBorder p="md" key={metric} data-testid="metrics-chart">
            <Title order={5} mb="xs">
              Applied {metric}
            </Title>
            <ResponsiveContainer width="100%" height={200}>
              <LineChart data={data} margin={{ left: 8, right: 24, top: 8, bottom: 0 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="at" type="number" domain={['dataMin', 'dataMax']} scale="time" tickFormatter={(v) => clock(new Date(v).toISOString())} />
                <YAxis width={60} />
                <Tooltip labelFormatter={(v) => clock(new Date(Number(v)).toISOString())} />
                <Legend />
                {run.targets.map((t, i) => (
                  <Line
                    key={t.label}
                    dataKey={t.label}
                    type="stepAfter"
                    stroke={COLORS[i % COLORS.length]}
                    strokeWidth={2}
                    dot={false}
                    connectNulls
                    isAnimationActive={false}
                  />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </Paper>
        );
      })}
    </>
  );
}
