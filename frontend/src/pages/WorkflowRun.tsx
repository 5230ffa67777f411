import { Alert, Anchor, Badge, Code, Group, List, Paper, SimpleGrid, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconAlertOctagon, IconPlugConnected } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useQuery, useSubscription } from 'urql';
import { TERMINAL } from '../api/types';
import { WORKFLOW_RUN, WORKFLOW_RUN_UPDATES, type WorkflowRun } from '../api/workflows';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { PhaseBadge, VerdictBadge } from '../components/PhaseBadge';
import { ProbeChart } from '../components/workflow/ProbeChart';
import { RunGraph } from '../components/workflow/RunGraph';
import { STATE_COLOR } from '../components/workflow/nodes';
import { WorkflowRunActions } from '../components/workflow/WorkflowRunActions';
import { clock, dateTime, shortId } from '../format';

const ROLE_LABEL: Record<string, string> = {
  step: 'step',
  'steadyState-before': 'steady state (before)',
  'steadyState-after': 'steady state (after)',
  stopCondition: 'stop condition',
};

function newer(a: WorkflowRun | null, b: WorkflowRun | null | undefined): WorkflowRun | null {
  if (!b) return a;
  if (!a) return b;
  return new Date(b.updatedAt).getTime() >= new Date(a.updatedAt).getTime() ? b : a;
}

export function ScoreBadge({ score }: { score: number | null }) {
  if (score == null) return <Badge variant="outline" color="gray" data-testid="score">no score</Badge>;
  const pct = Math.round(score * 100);
  return (
    <Badge variant="light" color={pct >= 90 ? 'green' : pct >= 60 ? 'yellow' : 'red'} data-testid="score">
      score {pct}%
    </Badge>
  );
}

export function WorkflowRunPage() {
  const { id = '' } = useParams();
  const canOperate = useCan('operator');
  const phone = useMediaQuery('(max-width: 600px)');
  const [{ data, fetching, error }] = useQuery<{ workflowRun: WorkflowRun | null }>({ query: WORKFLOW_RUN, variables: { id }, requestPolicy: 'network-only' });
  const [{ data: live, error: liveError }] = useSubscription<{ workflowRunUpdates: WorkflowRun }>({ query: WORKFLOW_RUN_UPDATES, variables: { id } });
  const [run, setRun] = useState<WorkflowRun | null>(null);
  useEffect(() => setRun(null), [id]);
  useEffect(() => setRun((cur) => newer(cur, data?.workflowRun)), [data]);
  useEffect(() => setRun((cur) => newer(cur, live?.workflowRunUpdates)), [live]);

  if (fetching && !run) return <Skeleton h={400} />;
  if (error && !run) return <ErrorAlert error={error} title="Could not load this workflow run" />;
  if (!run) return <Text>There is no workflow run {id}.</Text>;

  const active = !TERMINAL.includes(run.phase);
  const stuck = run.steps.filter((s) => s.run?.stuck || (s.run?.phase === 'recovering' && s.run?.error));
  const probes = run.steps.filter((s) => s.probe);
  const mainCount = run.steps.filter((s) => s.role === 'step').length;
  return (
    <Stack maw={1400} data-testid="workflow-run" data-phase={run.phase} data-verdict={run.verdict}>
      <Group justify="space-between" align="flex-start">
        <div style={{ minWidth: 0 }}>
          <Anchor component={Link} to="/workflow-runs" size="sm">
            ← Workflow runs
          </Anchor>
          <Group gap="xs" align="center">
            <Title order={2} style={{ wordBreak: 'break-word' }}>
              {run.workflowName}
            </Title>
            <Badge variant="outline">v{run.version}</Badge>
          </Group>
          <Group gap="xs" mt={4}>
            <PhaseBadge phase={run.phase} stuck={stuck.length > 0} size="lg" />
            <VerdictBadge verdict={run.verdict} />
            <ScoreBadge score={run.score} />
          </Group>
          <Text size="sm" c="dimmed" mt={4}>
            Run <Code>{shortId(run.id)}</Code> · started by {run.createdBy} at {dateTime(run.startedAt ?? run.createdAt)}
            {run.endedAt ? ` · ended ${clock(run.endedAt)}` : ''}
            {run.workflowId && (
              <>
                {' · '}
                <Anchor component={Link} to={`/workflows/${run.workflowId}/edit`} size="sm">
                  open in the editor
                </Anchor>
              </>
            )}
          </Text>
        </div>
        {canOperate && <WorkflowRunActions run={run} onUpdated={(r) => setRun((cur) => newer(cur, r))} />}
      </Group>

      {run.reasons.length > 0 && (
        <Alert color={run.verdict === 'pass' ? 'green' : run.verdict === 'fail' ? 'red' : 'gray'} title="Why this verdict" data-testid="reasons">
          <List size="sm">
            {run.reasons.map((r, i) => (
              <List.Item key={i}>{r}</List.Item>
            ))}
          </List>
        </Alert>
      )}
      {stuck.length > 0 && (
        <Alert color="red" variant="filled" icon={<IconAlertOctagon size={24} />} title="A fault step cannot recover" data-testid="stuck-banner">
          {stuck.map((s) => (
            <Text size="sm" key={s.stepId}>
              {s.stepId}:{' '}
              <Anchor component={Link} to={`/runs/${s.runId}`} c="white" underline="always">
                run {shortId(s.runId ?? '')}
              </Anchor>{' '}
              {s.run?.error}
            </Text>
          ))}
        </Alert>
      )}
      {run.error && <Alert color={run.phase === 'failed' ? 'red' : 'orange'} title="Error">{run.error}</Alert>}
      {liveError && active && (
        <Alert color="yellow" icon={<IconPlugConnected size={18} />} title="Live updates interrupted">
          {liveError.message}. Reload to see the latest state.
        </Alert>
      )}

      <RunGraph run={run} height={phone ? 380 : Math.min(640, 260 + mainCount * 40 + 200)} />

      {probes.length > 0 && (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          {probes.map((s) => (
            <ProbeChart key={`${s.role}:${s.stepId}`} title={s.stepId} role={ROLE_LABEL[s.role] ?? s.role} probe={s.probe!} />
          ))}
        </SimpleGrid>
      )}

      <Paper withBorder p="md">
        <Title order={4} mb="xs">
          Steps
        </Title>
        <Table.ScrollContainer minWidth={560} type="native">
          <Table verticalSpacing={4} data-testid="workflow-steps">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Step</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Start → end</Table.Th>
                <Table.Th>Why</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {run.steps.map((s) => (
                <Table.Tr key={`${s.role}:${s.stepId}`} data-testid="workflow-step" data-step={s.stepId} data-role={s.role} data-state={s.state}>
                  <Table.Td>
                    <Text size="sm" fw={500}>
                      {s.stepId}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {s.kind}
                      {s.runId && (
                        <>
                          {' · '}
                          <Anchor component={Link} to={`/runs/${s.runId}`} size="xs">
                            run {shortId(s.runId)}
                          </Anchor>
                        </>
                      )}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{ROLE_LABEL[s.role] ?? s.role}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="dot" color={STATE_COLOR[s.state] ?? 'gray'}>
                      {s.state}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                      {clock(s.startedAt)} → {s.endedAt ? clock(s.endedAt) : s.startedAt ? '…' : '—'}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {s.reason}
                      {s.decidedBy ? ` (decided by ${s.decidedBy})` : ''}
                    </Text>
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
