import { Badge } from '@mantine/core';
import { IconAlertOctagon } from '@tabler/icons-react';
import { useCallback } from 'react';
import { Link } from 'react-router-dom';
import { useQuery } from 'urql';
import { RUNS } from '../api/documents';
import type { RunSummary } from '../api/types';
import { useLiveRefresh } from '../live';

type Data = { runs: { totalCount: number; edges: { node: RunSummary }[] } };

/** A red badge in the header on every page while any run is stuck in recovering. */
export function StuckIndicator() {
  const [{ data }, refetch] = useQuery<Data>({
    query: RUNS,
    variables: { filter: { stuck: true, includeArchived: true }, first: 20 },
  });
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useLiveRefresh(refresh, { pollMs: 10000 });
  const stuck = (data?.runs.edges ?? []).map((e) => e.node);
  const count = data?.runs.totalCount ?? 0;
  if (!count) return null;
  const to = count === 1 && stuck.length ? `/runs/${stuck[0].id}` : '/runs?phase=recovering';
  return (
    <Badge
      component={Link}
      to={to}
      color="red"
      variant="filled"
      size="lg"
      leftSection={<IconAlertOctagon size={16} />}
      style={{ cursor: 'pointer' }}
      data-testid="stuck-indicator"
    >
      {count} run{count > 1 ? 's' : ''} stuck recovering
    </Badge>
  );
}
