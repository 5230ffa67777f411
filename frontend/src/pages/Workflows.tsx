import { Anchor, Badge, Button, Group, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useCallback } from 'react';
import { Link } from 'react-router-dom';
import { useQuery } from 'urql';
import type { Phase } from '../api/types';
import { WORKFLOWS, type Workflow, type WorkflowRunSummary } from '../api/workflows';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { PhaseBadge, VerdictBadge } from '../components/PhaseBadge';
import { Sparkline } from '../components/workflow/Sparkline';
import { ago, clock } from '../format';
import { useLiveRefresh } from '../live';

type Data = { workflows: Workflow[]; workflowRuns: { edges: { node: WorkflowRunSummary }[] } };

export function WorkflowsPage() {
  const canOperate = useCan('operator');
  const [{ data, error }, refetch] = useQuery<Data>({ query: WORKFLOWS });
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useLiveRefresh(refresh, { pollMs: 5000 });
  const runs = data?.workflowRuns.edges.map((e) => e.node) ?? [];
  const byWorkflow = new Map<string, WorkflowRunSummary[]>();
  for (const r of runs) {
    const key = r.workflowId ?? r.workflowName;
    byWorkflow.set(key, [...(byWorkflow.get(key) ?? []), r]);
  }
  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2}>Workflows</Title>
          <Text c="dimmed" size="sm">
            Experiments that answer a question: steps, a steady state and stop conditions, and a verdict.
          </Text>
        </div>
        {canOperate && (
          <Button component={Link} to="/workflows/new" leftSection={<IconPlus size={16} />} data-testid="new-workflow">
            New workflow
          </Button>
        )}
      </Group>
      <ErrorAlert error={error} title="Could not load workflows" />
      <Table.ScrollContainer minWidth={720}>
        <Table highlightOnHover verticalSpacing="xs" data-testid="workflows-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Workflow</Table.Th>
              <Table.Th>Version</Table.Th>
              <Table.Th>Last run</Table.Th>
              <Table.Th>Verdict</Table.Th>
              <Table.Th>Score trend</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(data?.workflows ?? []).map((w) => {
              const mine = byWorkflow.get(w.id) ?? byWorkflow.get(w.name) ?? [];
              const last = mine[0];
              const scores = mine
                .slice(0, 12)
                .reverse()
                .map((r) => r.score)
                .filter((s): s is number => s != null);
              return (
                <Table.Tr key={w.id} data-testid="workflow-row" data-workflow={w.name}>
                  <Table.Td>
                    <Anchor component={Link} to={`/workflows/${w.id}/edit`} fw={500}>
                      {w.name}
                    </Anchor>
                    {w.description && (
                      <Text size="xs" c="dimmed" lineClamp={1}>
                        {w.description}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="outline">v{w.version}</Badge>
                  </Table.Td>
                  <Table.Td>
                    {last ? (
                      <Group gap={6} wrap="nowrap">
                        <PhaseBadge phase={last.phase as Phase} />
                        <Tooltip label={new Date(last.createdAt).toLocaleString()}>
                          <Anchor component={Link} to={`/workflow-runs/${last.id}`} size="sm" style={{ whiteSpace: 'nowrap' }}>
                            {clock(last.createdAt)} <Text span c="dimmed" size="xs">({ago(last.createdAt)})</Text>
                          </Anchor>
                        </Tooltip>
                      </Group>
                    ) : (
                      <Text size="sm" c="dimmed">
                        never run
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{last && <VerdictBadge verdict={last.verdict} />}</Table.Td>
                  <Table.Td>
                    <Sparkline values={scores} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap" justify="flex-end">
                      <Button size="xs" variant="default" component={Link} to={`/workflow-runs?workflow=${w.id}`}>
                        Runs ({mine.length})
                      </Button>
                      <Button size="xs" variant="light" component={Link} to={`/workflows/${w.id}/edit`}>
                        {canOperate ? 'Edit' : 'View'}
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {data && !data.workflows.length && <Text c="dimmed">No workflow yet. Build one with “New workflow”, or start one from the CLI.</Text>}
    </Stack>
  );
}
