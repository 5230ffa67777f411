import { Alert, Anchor, Badge, Code, Grid, Group, Paper, Skeleton, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconAlertOctagon, IconPlugConnected } from '@tabler/icons-react';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useQuery, useSubscription } from 'urql';
import { RUN, RUN_METRIC_SAMPLES, RUN_UPDATES } from '../api/documents';
import { TERMINAL, type MetricSample, type Run } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { MetricsChart, type Sample } from '../components/MetricsChart';
import { PhaseBadge, TargetPhaseBadge, VerdictBadge } from '../components/PhaseBadge';
import { PhaseTimeline } from '../components/PhaseTimeline';
import { RunActions } from '../components/RunActions';
import { ago, clock, dateTime, seconds, shortId } from '../format';
import { chronological, targetRounds } from '../rounds';

const DESIRED_HELP: Record<string, string> = {
  run: 'run: the fault should be on',
  pause: 'pause: the fault should be reverted until resumed',
  stop: 'stop: the run should end and every target be recovered',
};

function newer(a: Run | null, b: Run | null | undefined): Run | null {
  if (!b) return a;
  if (!a) return b;
  return new Date(b.updatedAt).getTime() >= new Date(a.updatedAt).getTime() ? b : a;
}

function StuckBanner({ run }: { run: Run }) {
  const failing = run.targets.filter((t) => t.mayCarryFault);
  return (
    <Alert
      color="red"
      variant="filled"
      icon={<IconAlertOctagon size={28} />}
      title={`Recovery is failing — ${failing.length || 'some'} target${failing.length === 1 ? '' : 's'} may still carry the fault`}
      data-testid="stuck-banner"
      role="alert"
    >
      <Stack gap={4}>
        <Text size="sm">
          {run.recoverAttempts} recovery attempt{run.recoverAttempts === 1 ? '' : 's'} failed.{' '}
          {run.nextAttemptAt ? `The hub tries again at ${clock(run.nextAttemptAt)} (${ago(run.nextAttemptAt)}).` : ''}
        </Text>
        {run.error && (
          <Text size="sm">
            Last error: <b>{run.error}</b>
          </Text>
        )}
        {failing.length > 0 && <Text size="sm">Check by hand: {failing.map((t) => t.label).join(', ')}.</Text>}
        <Text size="sm">
          If you have cleaned the targets up yourself, use Force-release to end the run; otherwise the hub keeps retrying.
        </Text>
      </Stack>
    </Alert>
  );
}

export function RunPage() {
  const { id = '' } = useParams();
  const canOperate = useCan('operator');
  const [{ data, fetching, error }] = useQuery<{ run: Run | null }>({ query: RUN, variables: { id }, requestPolicy: 'network-only' });
  const [{ data: live, error: liveError }] = useSubscription<{ runUpdates: Run }>({ query: RUN_UPDATES, variables: { runId: id } });
  const [{ data: stored }] = useQuery<{ run: { metricSamples: MetricSample[] } | null }>({
    query: RUN_METRIC_SAMPLES,
    variables: { id, last: 2000 },
    requestPolicy: 'network-only',
  });
  const [run, setRun] = useState<Run | null>(null);
  const [liveSamples, setLiveSamples] = useState<Sample[]>([]);
  const [now, setNow] = useState(() => Date.now());
  const lastSampled = useRef<string>('');

  useEffect(() => {
    setRun(null);
    setLiveSamples([]);
  }, [id]);
  useEffect(() => setRun((cur) => newer(cur, data?.run)), [data]);
  useEffect(() => setRun((cur) => newer(cur, live?.runUpdates)), [live]);

  // Remember each value seen while watching, for the chart.
  useEffect(() => {
    const update = live?.runUpdates;
    if (!update || update.updatedAt === lastSampled.current) return;
    lastSampled.current = update.updatedAt;
    const at = new Date(update.updatedAt).getTime();
    setLiveSamples((s) => [
      ...s,
      ...update.targets
        .filter((t) => t.phase === 'injected' && Object.keys(t.metrics ?? {}).length)
        .map((t) => ({ at, target: t.label, metrics: t.metrics })),
    ]);
  }, [live]);

  // The stored history first, then what was seen live since its last sample.
  const samples = useMemo(() => {
    const history: Sample[] = (stored?.run?.metricSamples ?? []).map((m) => ({
      at: new Date(m.at).getTime(),
      target: m.target,
      metrics: m.values,
    }));
    const last = history.length ? history[history.length - 1].at : -Infinity;
    return [...history, ...liveSamples.filter((s) => s.at > last)];
  }, [stored, liveSamples]);

  const active = run ? !TERMINAL.includes(run.phase) : false;
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [active]);

  if (fetching && !run) return <Skeleton h={400} />;
  if (error && !run) return <ErrorAlert error={error} title="Could not load this run" />;
  if (!run) return <Text>There is no run {id}.</Text>;

  const remaining = run.deadline && run.phase === 'running' ? Math.max(0, Math.round((new Date(run.deadline).getTime() - now) / 1000)) : null;

  return (
    <Stack maw={1280}>
      <Group justify="space-between" align="flex-start">
        <div>
          <Anchor component={Link} to="/runs" size="sm">
            ← Runs
          </Anchor>
          <Group gap="sm" align="center">
            <Title order={2}>
              Run <Code fz="inherit">{shortId(run.id)}</Code>
            </Title>
            <PhaseBadge phase={run.phase} stuck={run.stuck} size="xl" />
            {run.archived && <Badge color="gray">archived</Badge>}
          </Group>
          <Text size="sm" c="dimmed">
            <Anchor component={Link} to={`/catalog/${run.faultType}`} size="sm">
              {run.faultType}
            </Anchor>{' '}
            on backend <b>{run.backend}</b>
            {run.experimentId && (
              <>
                {' '}
                from a{' '}
                <Anchor component={Link} to="/experiments" size="sm">
                  saved experiment
                </Anchor>
              </>
            )}{' '}
            · started by {run.createdBy} at {dateTime(run.createdAt)}
          </Text>
        </div>
        {canOperate && <RunActions run={run} onUpdated={(r) => setRun((cur) => newer(cur, r))} />}
      </Group>

      {run.stuck && <StuckBanner run={run} />}
      {!run.stuck && run.phase === 'recovering' && run.error && (
        <Alert color="orange" title="Recovering after an error">
          {run.error}
        </Alert>
      )}
      {run.error && TERMINAL.includes(run.phase) && (
        <Alert color={run.phase === 'failed' ? 'red' : 'gray'} title="Error">
          {run.error}
        </Alert>
      )}
      {liveError && active && (
        <Alert color="yellow" icon={<IconPlugConnected size={18} />} title="Live updates interrupted">
          {liveError.message}. Reload to see the latest state.
        </Alert>
      )}

      <PhaseTimeline run={run} />

        <Paper withBorder p="md">
          <Title order={4} mb="xs">
            Targets
          </Title>
          <Table.ScrollContainer minWidth={640} type="native">
          <Table verticalSpacing="xs" data-testid="targets-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Target</Table.Th>
                <Table.Th>Phase</Table.Th>
                <Table.Th>Tool says</Table.Th>
                <Table.Th>Applied</Table.Th>
                <Table.Th>Injected → recovered</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {run.targets.map((t) => (
                <Table.Tr key={t.index} data-testid="target-row" data-target={t.label} data-target-phase={t.phase} bg={t.error ? 'red.0' : undefined}>
                  <Table.Td>
                    <Text fw={500}>{t.label}</Text>
                    {t.label !== t.targetId && (
                      <Text size="xs" c="dimmed" ff="monospace">
                        {t.targetId}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <TargetPhaseBadge phase={t.phase} />
                    {t.mayCarryFault && (
                      <Text size="xs" c="orange">
                        may carry the fault
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{t.nativeStatus || '—'}</Text>
                    {t.error && (
                      <Text size="sm" c="red">
                        {t.error}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {Object.entries(t.metrics ?? {}).map(([k, v]) => (
                      <Text size="sm" key={k}>
                        {k}: <b>{v}</b>
                      </Text>
                    ))}
                    {!Object.keys(t.metrics ?? {}).length && '—'}
                  </Table.Td>
                  <Table.Td data-testid="target-rounds">
                    {targetRounds(run, t.label).map((r, i) => (
                      <Text size="sm" key={i} data-testid="target-round" style={{ whiteSpace: 'nowrap' }}>
                        {clock(r.injected)} → {r.recovered ? clock(r.recovered) : 'holding'}
                      </Text>
                    ))}
                    {!targetRounds(run, t.label).length && (t.injectedAt ? `${clock(t.injectedAt)} → ${clock(t.recoveredAt)}` : '—')}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          </Table.ScrollContainer>
          {!run.targets.length && <Text c="dimmed">No target selected yet.</Text>}
        </Paper>
      <Grid>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Paper withBorder p="md" h="100%">
            <Table variant="vertical" layout="fixed" withRowBorders={false} verticalSpacing={4}>
              <Table.Tbody>
                <Table.Tr>
                  <Table.Th w={130}>Desired state</Table.Th>
                  <Table.Td>
                    <Tooltip label={DESIRED_HELP[run.desiredState]}>
                      <Badge variant="outline" data-testid="desired-state">
                        {run.desiredState}
                      </Badge>
                    </Tooltip>
                  </Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Verdict</Table.Th>
                  <Table.Td>
                    <VerdictBadge verdict={run.verdict} />
                  </Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Duration</Table.Th>
                  <Table.Td>
                    {run.timeControl === 'instant' ? 'instant' : seconds(run.durationSeconds)}
                    {remaining !== null && (
                      <Text span c="dimmed" size="sm">
                        {' '}
                        · {remaining} s left
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Time control</Table.Th>
                  <Table.Td>
                    {run.timeControl}, {run.reversible ? 'reversible' : 'irreversible'}
                  </Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Ended</Table.Th>
                  <Table.Td>{run.endedAt ? `${clock(run.endedAt)} (${run.ending ?? run.phase})` : '—'}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Parameters</Table.Th>
                  <Table.Td>
                    <Code block>{JSON.stringify(run.params, null, 1)}</Code>
                  </Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>Selector</Table.Th>
                  <Table.Td>
                    <Code block>{JSON.stringify(run.selector, null, 1)}</Code>
                  </Table.Td>
                </Table.Tr>
              </Table.Tbody>
            </Table>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack>
            <MetricsChart run={run} samples={samples} now={now} />
          </Stack>
        </Grid.Col>
      </Grid>

      <Paper withBorder p="md">
        <Title order={4} mb="xs">
          Events
        </Title>
        <Table.ScrollContainer minWidth={700} type="native">
        <Table verticalSpacing={4} striped data-testid="events-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={100}>At</Table.Th>
              <Table.Th w={150}>Kind</Table.Th>
              <Table.Th w={110}>Target</Table.Th>
              <Table.Th w={200}>Phase</Table.Th>
              <Table.Th>Reason</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {chronological(run.events).map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td>
                  <Tooltip label={dateTime(e.at)}>
                    <Text size="sm">{clock(e.at)}</Text>
                  </Tooltip>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" ff="monospace" c={/fail|error/.test(e.kind) ? 'red' : undefined}>
                    {e.kind}
                  </Text>
                </Table.Td>
                <Table.Td>{e.target ?? ''}</Table.Td>
                <Table.Td>{e.fromPhase || e.toPhase ? `${e.fromPhase ?? ''} → ${e.toPhase ?? ''}` : ''}</Table.Td>
                <Table.Td>
                  <Text size="sm">{e.reason}</Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        </Table.ScrollContainer>
      </Paper>
    </Stack>
  );
}
