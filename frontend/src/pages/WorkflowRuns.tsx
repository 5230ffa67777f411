import { Anchor, Badge, Button, Group, MultiSelect, Select, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { useCallback, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { PHASES, type Phase } from '../api/types';
import { WORKFLOW_RUNS, WORKFLOWS, type Workflow, type WorkflowRunSummary } from '../api/workflows';
import { ErrorAlert } from '../components/ErrorText';
import { PhaseBadge, VerdictBadge } from '../components/PhaseBadge';
import { ago, clock, shortId } from '../format';
import { useLiveRefresh } from '../live';
import { ScoreBadge } from './WorkflowRun';

type Data = { workflowRuns: { totalCount: number; pageInfo: { hasNextPage: boolean }; edges: { node: WorkflowRunSummary }[] } };

const VERDICTS = [
  { value: 'pass', label: 'pass' },
  { value: 'fail', label: 'fail' },
  { value: 'none', label: 'no verdict' },
];

export function WorkflowRunsPage() {
  const [params, setParams] = useSearchParams();
  const [first, setFirst] = useState(50);
  const phases = params.getAll('phase');
  const verdicts = params.getAll('verdict');
  const workflowId = params.get('workflow');
  const set = (key: string, value: string | string[] | null) =>
    setParams(
      (cur) => {
        const next = new URLSearchParams(cur);
        next.delete(key);
        for (const v of Array.isArray(value) ? value : value ? [value] : []) next.append(key, v);
        return next;
      },
      { replace: true },
    );
  const filter = { phase: phases.length ? phases : null, verdict: verdicts.length ? verdicts : null, workflowId };
  const [{ data, fetching, error }, refetch] = useQuery<Data>({ query: WORKFLOW_RUNS, variables: { filter, first } });
  const [{ data: wfs }] = useQuery<{ workflows: Workflow[] }>({ query: WORKFLOWS });
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useLiveRefresh(refresh, { pollMs: 5000 });
  const runs = data?.workflowRuns.edges.map((e) => e.node) ?? [];
  return (
    <Stack>
      <div>
        <Title order={2}>Workflow runs</Title>
        <Text c="dimmed" size="sm">
          Each execution of a workflow, newest first, with its verdict.
        </Text>
      </div>
      <Group align="flex-end">
        <MultiSelect label="Verdict" placeholder={verdicts.length ? undefined : 'any'} data={VERDICTS} value={verdicts} onChange={(v) => set('verdict', v)} clearable w={220} data-testid="verdict-filter" />
        <MultiSelect label="Phase" placeholder={phases.length ? undefined : 'any'} data={PHASES} value={phases} onChange={(v) => set('phase', v)} clearable w={280} data-testid="phase-filter" />
        <Select
          label="Workflow"
          placeholder="any"
          clearable
          searchable
          data={(wfs?.workflows ?? []).map((w) => ({ value: w.id, label: w.name }))}
          value={workflowId}
          onChange={(v) => set('workflow', v)}
          w={240}
        />
      </Group>
      <ErrorAlert error={error} title="Could not load workflow runs" />
      <Table.ScrollContainer minWidth={720}>
        <Table highlightOnHover verticalSpacing="xs" data-testid="workflow-runs-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Run</Table.Th>
              <Table.Th>Workflow</Table.Th>
              <Table.Th>Phase</Table.Th>
              <Table.Th>Verdict</Table.Th>
              <Table.Th>Score</Table.Th>
              <Table.Th>Started</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {runs.map((r) => (
              <Table.Tr key={r.id} data-testid="workflow-run-row" data-run={r.id} data-phase={r.phase} data-verdict={r.verdict}>
                <Table.Td>
                  <Anchor component={Link} to={`/workflow-runs/${r.id}`} ff="monospace">
                    {shortId(r.id)}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">
                    {r.workflowName}{' '}
                    <Badge size="xs" variant="outline">
                      v{r.version}
                    </Badge>
                  </Text>
                </Table.Td>
                <Table.Td>
                  <PhaseBadge phase={r.phase as Phase} />
                </Table.Td>
                <Table.Td>
                  <VerdictBadge verdict={r.verdict} />
                </Table.Td>
                <Table.Td>
                  <ScoreBadge score={r.score} />
                </Table.Td>
                <Table.Td>
                  <Tooltip label={new Date(r.createdAt).toLocaleString()}>
                    <Text size="sm">
                      {clock(r.createdAt)} <Text span c="dimmed" size="xs">({ago(r.createdAt)}, {r.createdBy})</Text>
                    </Text>
                  </Tooltip>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {data && !runs.length && <Text c="dimmed">No workflow runs match.</Text>}
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          {fetching ? 'updating…' : `${runs.length} of ${data?.workflowRuns.totalCount ?? 0} workflow runs`}
        </Text>
        {data?.workflowRuns.pageInfo.hasNextPage && first < 500 && (
          <Button variant="default" onClick={() => setFirst((n) => Math.min(n + 50, 500))}>
            Show more
          </Button>
        )}
      </Group>
    </Stack>
  );
}
