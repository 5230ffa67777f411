// Loaded on its own (React.lazy): the charting library stays out of the page's first chunk.
import { Badge, Group, Paper, SimpleGrid, Text, Title } from '@mantine/core';
import { CartesianGrid, ReferenceArea, ReferenceLine, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis } from 'recharts';
import { num, OUTCOME_COLOR, objectivesOf, type ObjectiveKey, type ThresholdSearch } from '../../api/thresholds';

const OTHER = '#868e96';

type Point = { x: number; y: number; outcome: string; held: boolean };

const fmt = (v: number) => num(v);

function ObjectiveChart({
  objective,
  search,
  heldMax,
  brokeMin,
  range,
  unit,
  current,
}: {
  objective: ObjectiveKey;
  search: Pick<ThresholdSearch, 'trials' | 'param'>;
  heldMax: number | null;
  brokeMin: number | null;
  range: [number, number] | null;
  unit: string;
  current: number | null;
}) {
  const points: Point[] = [];
  for (const t of search.trials) {
    const o = t.slo.find((s) => s.probe === objective.probe)?.objectives.find((x) => x.metric === objective.metric);
    if (o?.value != null) points.push({ x: t.magnitude, y: o.value, outcome: t.outcome, held: o.held });
  }
  // from 0 when every value is positive, to a round number above the limit and the values
  const lowest = Math.min(...points.map((p) => p.y), objective.target);
  const yDomain: [number | string, number | string] = [lowest >= 0 ? 0 : 'auto', 'auto'];
  const xs = points.map((p) => p.x);
  const xDomain: [number, number] = range ?? [Math.min(...xs, 0), Math.max(...xs, 1)];
  const groups = [
    { name: 'held', data: points.filter((p) => p.outcome === 'held'), color: OUTCOME_COLOR.held },
    { name: 'broke', data: points.filter((p) => p.outcome === 'broke'), color: OUTCOME_COLOR.broke },
    { name: 'other', data: points.filter((p) => p.outcome !== 'held' && p.outcome !== 'broke'), color: OTHER },
  ];
  const xLabel = `${search.param}${unit ? ` (${unit})` : ''}`;
  return (
    <Paper withBorder p="sm" data-testid="objective-chart" data-objective={`${objective.probe}:${objective.metric}`} data-points={points.length}>
      <Group justify="space-between" gap="xs" mb={4} wrap="nowrap">
        <div style={{ minWidth: 0 }}>
          <Title order={5} style={{ wordBreak: 'break-word' }}>
            {objective.metric}
          </Title>
          <Text size="xs" c="dimmed">
            {objective.probe} · objective {objective.comparator} {fmt(objective.target)} · x: {xLabel}
          </Text>
        </div>
        <Badge variant="outline" color="gray" style={{ flexShrink: 0 }}>
          {points.length} point{points.length === 1 ? '' : 's'}
        </Badge>
      </Group>
      {points.length === 0 ? (
        <Text size="sm" c="dimmed">
          No trial has a value for this objective yet.
        </Text>
      ) : (
        <ResponsiveContainer width="100%" height={220}>
          <ScatterChart margin={{ left: 0, right: 16, top: 12, bottom: 8 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis type="number" dataKey="x" name={search.param} domain={xDomain} tickFormatter={fmt} allowDataOverflow padding={{ left: 8, right: 8 }} />
            <YAxis type="number" dataKey="y" name={objective.metric} width={52} domain={yDomain} tickFormatter={(v: number) => fmt(Number(v.toPrecision(3)))} allowDecimals />
            {heldMax != null && brokeMin != null && (
              <ReferenceArea x1={Math.min(heldMax, brokeMin)} x2={Math.max(heldMax, brokeMin)} fill="#fab005" fillOpacity={0.25} stroke="#f08c00" strokeDasharray="4 3" ifOverflow="extendDomain" />
            )}
            {current != null && (
              <ReferenceLine x={current} stroke="#1971c2" strokeDasharray="2 3" label={{ value: `trying ${fmt(current)}`, position: 'insideTopLeft', fontSize: 11, fill: '#1971c2' }} />
            )}
            <ReferenceLine y={objective.target} ifOverflow="extendDomain" stroke="#e8590c" strokeDasharray="6 4" label={{ value: `limit ${objective.comparator} ${fmt(objective.target)}`, position: 'insideTopRight', fontSize: 11, fill: '#e8590c' }} />
            <Tooltip
              cursor={{ strokeDasharray: '3 3' }}
              formatter={(v, name) => [fmt(Number(v)), name === search.param ? xLabel : String(name)]}
            />
            {groups.map((g) =>
              g.data.length ? <Scatter key={g.name} name={g.name} data={g.data} fill={g.color} isAnimationActive={false} /> : null,
            )}
          </ScatterChart>
        </ResponsiveContainer>
      )}
    </Paper>
  );
}

/** One magnitude-vs-objective chart per objective: each trial a point (green held, red broke),
 * the objective's limit a dashed line, the threshold band shaded. */
export default function ObjectiveCharts({
  search,
  heldMax,
  brokeMin,
  range,
  unit,
  current = null,
}: {
  search: Pick<ThresholdSearch, 'trials' | 'param'>;
  heldMax: number | null;
  brokeMin: number | null;
  range: [number, number] | null;
  unit: string;
  /** the magnitude of the trial under way, marked on every chart */
  current?: number | null;
}) {
  const objectives = objectivesOf(search);
  if (!objectives.length)
    return (
      <Paper withBorder p="md">
        <Text size="sm" c="dimmed">
          The charts appear once a trial has been judged.
        </Text>
      </Paper>
    );
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }} data-testid="objective-charts">
      {objectives.map((o) => (
        <ObjectiveChart key={`${o.probe}:${o.metric}`} objective={o} search={search} heldMax={heldMax} brokeMin={brokeMin} range={range} unit={unit} current={current} />
      ))}
    </SimpleGrid>
  );
}
