import { Badge, Group, Paper, Text, Title } from '@mantine/core';
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { JsonObject } from '../../api/types';
import type { ProbeResult } from '../../api/workflows';
import { clock } from '../../format';

type Threshold = { y: number; label: string };

const OPS = ['<', '<=', '>', '>=', '=='] as const;

/** The numeric bounds of one expectation ({"<": 1000}, {between: [a, b]}, a bare number). */
function thresholds(expect: unknown): Threshold[] {
  if (typeof expect === 'number') return [{ y: expect, label: `== ${expect}` }];
  if (!expect || typeof expect !== 'object' || Array.isArray(expect)) return [];
  const out: Threshold[] = [];
  const e = expect as JsonObject;
  for (const op of OPS) if (typeof e[op] === 'number') out.push({ y: e[op] as number, label: `${op} ${e[op]}` });
  const between = e.between;
  if (Array.isArray(between) && between.every((v) => typeof v === 'number'))
    for (const v of between as number[]) out.push({ y: v, label: `between ${between.join('–')}` });
  return out;
}

/** What to plot for a probe and the lines its expectation draws: the observed value where the
 * kind's expectation is on it (prometheus, command), the latency where a latency bound is set
 * (or the kind has no number of its own: tcp), else the value (an HTTP status). */
export function chartSpec(probe: ProbeResult): { metric: 'value' | 'latencyMs'; label: string; lines: Threshold[] } {
  const spec = (probe.expectation?.[probe.kind] ?? {}) as JsonObject;
  const expect = (spec.expect ?? {}) as JsonObject;
  if (probe.kind === 'prometheus') return { metric: 'value', label: String(spec.query ?? 'value'), lines: thresholds(expect) };
  if (probe.kind === 'command') return { metric: 'value', label: 'exit code', lines: thresholds(expect.exitCode) };
  if (expect.latencyMs !== undefined || probe.kind === 'tcp')
    return { metric: 'latencyMs', label: 'latency (ms)', lines: thresholds(expect.latencyMs) };
  return { metric: 'value', label: probe.kind === 'http' ? 'HTTP status' : 'value', lines: thresholds(expect.status) };
}

function FailDot(props: { cx?: number; cy?: number; payload?: { ok: boolean } }) {
  const { cx, cy, payload } = props;
  if (cx == null || cy == null || !payload) return null;
  return payload.ok ? (
    <circle cx={cx} cy={cy} r={2.5} fill="#2f9e44" />
  ) : (
    <g data-testid="probe-breach">
      <circle cx={cx} cy={cy} r={5} fill="#e03131" stroke="#fff" strokeWidth={1} />
    </g>
  );
}

/** A probe's samples over time, the expectation as a dashed line, failed samples in red. */
export function ProbeChart({ title, role, probe }: { title: string; role: string; probe: ProbeResult }) {
  const { metric, label, lines } = chartSpec(probe);
  const data = probe.samples.map((s) => {
    const raw = metric === 'value' ? s.value : s.latencyMs;
    const y = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' && !isNaN(Number(raw)) ? Number(raw) : null;
    return { at: new Date(s.at).getTime(), y, ok: s.ok, error: s.error };
  });
  const failed = probe.samples.filter((s) => !s.ok).length;
  const ys = data.map((d) => d.y).filter((y): y is number => y != null);
  const domain = [Math.min(...ys, ...lines.map((l) => l.y)), Math.max(...ys, ...lines.map((l) => l.y))];
  const span = domain[1] - domain[0] || Math.abs(domain[1]) || 1;
  return (
    <Paper withBorder p="sm" data-testid="probe-chart" data-probe={title}>
      <Group justify="space-between" gap="xs" mb={4}>
        <div>
          <Title order={5}>{title}</Title>
          <Text size="xs" c="dimmed">
            {role} · {probe.kind} · {label}
            {lines.length ? ` · expect ${[...new Set(lines.map((l) => l.label))].join(', ')}` : ''}
          </Text>
        </div>
        <Group gap={4}>
          <Badge color={probe.outcome === 'passed' ? 'green' : probe.outcome === 'failed' ? 'red' : 'gray'} variant="light">
            {probe.outcome}
          </Badge>
          <Badge variant="outline" color={failed ? 'red' : 'gray'}>
            {probe.passed}/{probe.checks} held
          </Badge>
        </Group>
      </Group>
      {data.length === 0 ? (
        <Text size="sm" c="dimmed">
          No samples yet.
        </Text>
      ) : (
        <ResponsiveContainer width="100%" height={170}>
          <LineChart data={data} margin={{ left: 0, right: 16, top: 8, bottom: 0 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="at" type="number" domain={['dataMin', 'dataMax']} scale="time" tickFormatter={(v) => clock(new Date(v).toISOString())} minTickGap={30} />
            <YAxis width={48} domain={ys.length ? [Math.floor(domain[0] - span * 0.1), Math.ceil(domain[1] + span * 0.1)] : ['auto', 'auto']} />
            <Tooltip
              labelFormatter={(v) => clock(new Date(Number(v)).toISOString())}
              formatter={(v, _n, item) => [`${v ?? '—'}${item.payload.ok ? '' : ` ✗ ${item.payload.error ?? 'breach'}`}`, label]}
            />
            {lines.map((l, i) => (
              <ReferenceLine key={i} y={l.y} stroke="#e8590c" strokeDasharray="6 4" label={{ value: l.label, position: 'insideTopRight', fontSize: 11, fill: '#e8590c' }} />
            ))}
            <Line dataKey="y" type="monotone" stroke="#1971c2" strokeWidth={1.5} dot={<FailDot />} isAnimationActive={false} connectNulls />
          </LineChart>
        </ResponsiveContainer>
      )}
    </Paper>
  );
}
