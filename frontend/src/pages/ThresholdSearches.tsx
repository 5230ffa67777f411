import { Anchor, Badge, Button, Group, MultiSelect, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconPlus } from '@tabler/icons-react';
import { useCallback, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { band, num, THRESHOLD_SEARCHES, varied, type ThresholdSearchSummary } from '../api/thresholds';
import { TERMINAL } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { PhaseBadge } from '../components/PhaseBadge';
import { ago, clock, span } from '../format';
import { useLiveRefresh } from '../live';

type Data = { thresholdSearches: { totalCount: number; pageInfo: { hasNextPage: boolean }; edges: { node: ThresholdSearchSummary }[] } };

const SEARCH_PHASES = ['pending', 'running', 'paused', 'completed', 'aborted', 'failed'];

/** The band as words: "475 – 500", "held up to 2000", "broke from 0". */
export function BandText({ heldMax, brokeMin, found }: { heldMax: number | null; brokeMin: number | null; found?: boolean }) {
  if (heldMax == null && brokeMin == null) return <Text size="sm" c="dimmed">—</Text>;
  if (heldMax != null && brokeMin != null)
    return (
      <Text size="sm" ff="monospace" c={found === false ? 'orange' : undefined} style={{ whiteSpace: 'nowrap' }}>
        {num(heldMax)} – {num(brokeMin)}
      </Text>
    );
  return (
    <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
      {heldMax != null ? `held up to ${num(heldMax)}` : `broke from ${num(brokeMin)}`}
    </Text>
  );
}

export function ThresholdSearchesPage() {
  const canOperate = useCan('operator');
  const [params, setParams] = useSearchParams();
  const [first, setFirst] = useState(50);
  const phases = params.getAll('phase');
  const [{ data, fetching, error }, refetch] = useQuery<Data>({ query: THRESHOLD_SEARCHES, variables: { first, phase: phases.length ? phases : null } });
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useLiveRefresh(refresh, { pollMs: 5000 });
  const rows = data?.thresholdSearches.edges.map((e) => e.node) ?? [];
  const phone = useMediaQuery('(max-width: 600px)');
  const setPhases = (value: string[]) =>
    setParams(
      (cur) => {
        const next = new URLSearchParams(cur);
        next.delete('phase');
        value.forEach((v) => next.append('phase', v));
        return next;
      },
      { replace: true },
    );
  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2}>Threshold searches</Title>
          <Text c="dimmed" size="sm">
            How much of a fault your service takes: trials at varying magnitude, each judged by its SLOs.
          </Text>
        </div>
        {canOperate && (
          <Button component={Link} to="/threshold-searches/new" leftSection={<IconPlus size={16} />} data-testid="new-threshold-search">
            New search
          </Button>
        )}
      </Group>
      <MultiSelect label="Phase" placeholder={phases.length ? undefined : 'any'} data={SEARCH_PHASES} value={phases} onChange={setPhases} clearable maw={360} data-testid="phase-filter" />
      <ErrorAlert error={error} title="Could not load threshold searches" />
      <Table.ScrollContainer minWidth={phone ? 0 : 900}>
        <Table highlightOnHover verticalSpacing="xs" data-testid="threshold-searches-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Search</Table.Th>
              <Table.Th visibleFrom="sm">Fault</Table.Th>
              <Table.Th visibleFrom="sm">Varies</Table.Th>
              <Table.Th>Phase</Table.Th>
              <Table.Th>Threshold band</Table.Th>
              <Table.Th>Trials</Table.Th>
              <Table.Th visibleFrom="sm">Started</Table.Th>
              <Table.Th visibleFrom="sm">Wall time</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((s) => {
              const v = varied(s.document);
              const b = band(s);
              const active = !TERMINAL.includes(s.phase);
              return (
                <Table.Tr key={s.id} data-testid="threshold-search-row" data-search={s.id} data-phase={s.phase}>
                  <Table.Td>
                    <Anchor component={Link} to={`/threshold-searches/${s.id}`} fw={500}>
                      {s.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td visibleFrom="sm">
                    <Text size="sm">{v.faultType}</Text>
                    <Text size="xs" c="dimmed">
                      on {v.backend}
                    </Text>
                  </Table.Td>
                  <Table.Td visibleFrom="sm">
                    <Text size="sm" ff="monospace">
                      {s.param}
                    </Text>
                    <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                      {num(v.from)} → {num(v.to)} · {s.strategy}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <PhaseBadge phase={s.phase} />
                  </Table.Td>
                  <Table.Td data-testid="band">
                    <BandText {...b} found={s.result?.found} />
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="outline" color="gray" data-testid="trial-count">
                      {s.trials.length} / {s.expectedTrials}
                    </Badge>
                  </Table.Td>
                  <Table.Td visibleFrom="sm">
                    <Tooltip label={new Date(s.createdAt).toLocaleString()}>
                      <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                        {clock(s.createdAt)}{' '}
                        <Text span c="dimmed" size="xs">
                          ({ago(s.createdAt)}, {s.createdBy})
                        </Text>
                      </Text>
                    </Tooltip>
                  </Table.Td>
                  <Table.Td visibleFrom="sm">
                    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                      {span(s.createdAt, s.endedAt)}
                      {active ? ' …' : ''}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {data && !rows.length && <Text c="dimmed">No threshold search {phases.length ? 'in these phases' : 'yet'}.</Text>}
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          {fetching ? 'updating…' : `${rows.length} of ${data?.thresholdSearches.totalCount ?? 0} searches`}
        </Text>
        {data?.thresholdSearches.pageInfo.hasNextPage && first < 500 && (
          <Button variant="default" onClick={() => setFirst((n) => Math.min(n + 50, 500))}>
            Show more
          </Button>
        )}
      </Group>
    </Stack>
  );
}
