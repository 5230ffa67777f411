import { Anchor, Badge, Button, Group, MultiSelect, Select, Stack, Switch, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useCallback, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { RUN_FILTER_OPTIONS, RUNS } from '../api/documents';
import { PHASES, type RunSummary } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { PhaseBadge, VerdictBadge } from '../components/PhaseBadge';
import { ago, clock, shortId } from '../format';
import { useLiveRefresh } from '../live';

type Data = { runs: { totalCount: number; pageInfo: { hasNextPage: boolean }; edges: { node: RunSummary }[] } };

const SINCE: { value: string; label: string; hours: number }[] = [
  { value: '1h', label: 'last hour', hours: 1 },
  { value: '24h', label: 'last 24 hours', hours: 24 },
  { value: '7d', label: 'last 7 days', hours: 24 * 7 },
  { value: '30d', label: 'last 30 days', hours: 24 * 30 },
];

const TARGET_COLOR: Record<string, string> = { selected: 'gray', injected: 'orange', recovered: 'green', failed: 'red' };

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const canOperate = useCan('operator');
  const [first, setFirst] = useState(50);
  const phases = params.getAll('phase');
  const adapter = params.get('adapter');
  const experimentId = params.get('experiment');
  const since = params.get('since');
  const archived = params.get('archived') === '1';

  const set = (key: string, value: string | string[] | null) => {
    setParams(
      (cur) => {
        const next = new URLSearchParams(cur);
        next.delete(key);
        for (const v of Array.isArray(value) ? value : value ? [value] : []) next.append(key, v);
        return next;
      },
      { replace: true },
    );
  };

  // Rounded to the minute so the variables (and the cache key) stay stable between renders.
  const sinceIso = useMemo(() => {
    const hours = SINCE.find((s) => s.value === since)?.hours;
    if (!hours) return null;
    const at = Math.floor(Date.now() / 60000) * 60000 - hours * 3600 * 1000;
    return new Date(at).toISOString();
  }, [since]);

  const filter = {
    phase: phases.length ? phases : null,
    adapter,
    experimentId,
    since: sinceIso,
    includeArchived: archived,
  };
  const [{ data, fetching, error }, refetch] = useQuery<Data>({ query: RUNS, variables: { filter, first } });
  const [{ data: exps }] = useQuery<{ experiments: { id: string; name: string }[]; adapters: { name: string }[] }>({
    query: RUN_FILTER_OPTIONS,
  });
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useLiveRefresh(refresh);

  const runs = data?.runs.edges.map((e) => e.node) ?? [];
  const expName = new Map((exps?.experiments ?? []).map((e) => [e.id, e.name]));

  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2}>Runs</Title>
          <Text c="dimmed" size="sm">
            Live: phases change here as workers move them.
          </Text>
        </div>
        {canOperate && (
          <Button component={Link} to="/experiments/new" leftSection={<IconPlus size={16} />}>
            New experiment
          </Button>
        )}
      </Group>
      <Group align="flex-end">
        <MultiSelect
          label="Phase"
          placeholder={phases.length ? undefined : 'any'}
          data={PHASES}
          value={phases}
          onChange={(v) => set('phase', v)}
          clearable
          w={300}
          data-testid="phase-filter"
        />
        <Select
          label="Adapter"
          placeholder="any"
          clearable
          data={(exps?.adapters ?? []).map((a) => a.name)}
          value={adapter}
          onChange={(v) => set('adapter', v)}
          w={150}
        />
        <Select
          label="Experiment"
          placeholder="any"
          clearable
          searchable
          data={(exps?.experiments ?? []).map((e) => ({ value: e.id, label: e.name }))}
          value={experimentId}
          onChange={(v) => set('experiment', v)}
          w={200}
        />
        <Select label="Started" placeholder="any time" clearable data={SINCE} value={since} onChange={(v) => set('since', v)} w={160} />
        <Switch label="Show archived" checked={archived} onChange={(e) => set('archived', e.currentTarget.checked ? '1' : null)} mb={8} />
      </Group>
      <ErrorAlert error={error} title="Could not load runs" />
      <Table.ScrollContainer minWidth={900}>
        <Table highlightOnHover verticalSpacing="xs" data-testid="runs-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Run</Table.Th>
              <Table.Th>Phase</Table.Th>
              <Table.Th>Fault</Table.Th>
              <Table.Th>Backend</Table.Th>
              <Table.Th>Targets</Table.Th>
              <Table.Th>Desired</Table.Th>
              <Table.Th>Verdict</Table.Th>
              <Table.Th>Started</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {runs.map((r) => (
              <Table.Tr key={r.id} bg={r.stuck ? 'red.0' : undefined} data-testid="run-row" data-run={r.id} data-phase={r.phase}>
                <Table.Td>
                  <Anchor component={Link} to={`/runs/${r.id}`} ff="monospace">
                    {shortId(r.id)}
                  </Anchor>
                  {r.archived && (
                    <Badge size="xs" variant="outline" color="gray" ml={6}>
                      archived
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>
                  <PhaseBadge phase={r.phase} stuck={r.stuck} />
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{r.faultType}</Text>
                  {r.experimentId && (
                    <Text size="xs" c="dimmed">
                      {expName.get(r.experimentId) ?? 'saved experiment'}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{r.backend}</Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {r.targets.map((t) => (
                      <Tooltip key={t.label} label={`${t.phase}${t.mayCarryFault ? ' · may carry the fault' : ''}`}>
                        <Badge size="sm" variant="dot" tt="none" color={TARGET_COLOR[t.phase] ?? 'gray'}>
                          {t.label}
                        </Badge>
                      </Tooltip>
                    ))}
                  </Group>
                </Table.Td>
                <Table.Td>{r.desiredState}</Table.Td>
                <Table.Td>
                  <VerdictBadge verdict={r.verdict} />
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
      {data && !runs.length && (
        <Text c="dimmed">
          No runs match.{' '}
          {canOperate && (
            <Anchor component={Link} to="/catalog">
              Pick a fault in the catalog to start one.
            </Anchor>
          )}
        </Text>
      )}
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          {fetching ? 'updating…' : `${runs.length} of ${data?.runs.totalCount ?? 0} runs`}
        </Text>
        {data?.runs.pageInfo.hasNextPage && first < 500 && (
          <Button variant="default" onClick={() => setFirst((n) => Math.min(n + 50, 500))}>
            Show more
          </Button>
        )}
      </Group>
    </Stack>
  );
}
