import { Badge, Group, Loader, Text, Tooltip } from '@mantine/core';
import { useQuery } from 'urql';
import { errorText } from '../api/client';
import { BACKEND_HEALTH } from '../api/documents';
import type { BackendHealth } from '../api/types';

export function useBackendHealth(name: string) {
  return useQuery<{ backendHealth: BackendHealth }>({ query: BACKEND_HEALTH, variables: { name } });
}

/** Whether a backend answers now, and its version. */
export function BackendHealthBadge({ name }: { name: string }) {
  const [{ data, fetching, error }] = useBackendHealth(name);
  if (fetching && !data) return <Loader size="xs" />;
  if (error) return <Text size="sm" c="red">{errorText(error)}</Text>;
  const h = data?.backendHealth;
  if (!h) return null;
  return (
    <Group gap={6} wrap="nowrap">
      <Tooltip label={h.message || (h.ok ? 'reachable' : 'unreachable')} disabled={!h.message}>
        <Badge color={h.ok ? 'green' : 'red'} variant="light" data-testid="backend-health">
          {h.ok ? 'reachable' : 'unreachable'}
        </Badge>
      </Tooltip>
      {h.version && (
        <Text size="xs" c="dimmed">
          {h.version}
        </Text>
      )}
      {!h.ok && h.message && (
        <Text size="xs" c="red" lineClamp={2}>
          {h.message}
        </Text>
      )}
    </Group>
  );
}

/** One fault's availability on one backend: reachable, and can it do this fault here. */
export function FaultOnBackend({ backend, fault }: { backend: string; fault: string }) {
  const [{ data, fetching, error }] = useBackendHealth(backend);
  if (fetching && !data) return <Loader size="xs" />;
  if (error) return <Text size="sm" c="red">{errorText(error)}</Text>;
  const h = data?.backendHealth;
  if (!h) return null;
  if (!h.ok) return <Text size="sm" c="red">unreachable: {h.message}</Text>;
  const entry = h.faults.find((f) => f.backend === fault);
  if (!entry) return <Text size="sm" c="dimmed">reachable; the backend did not report this fault</Text>;
  return entry.available ? (
    <Badge color="green" variant="light">available</Badge>
  ) : (
    <Text size="sm" c="orange">not available: {entry.reason || 'no reason given'}</Text>
  );
}
