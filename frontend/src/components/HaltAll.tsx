import { Alert, Anchor, Button, Group, List, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconHandStop } from '@tabler/icons-react';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { asHubError } from '../api/client';
import { HALT_ALL, RUNS } from '../api/documents';
import type { HubError, RunSummary } from '../api/types';
import { shortId } from '../format';
import { ErrorAlert } from './ErrorText';
import { PhaseBadge } from './PhaseBadge';

const ACTIVE = ['pending', 'injecting', 'running', 'paused'];

type Halted = { count: number; runs: { id: string; phase: string; faultType: string; backend: string; targets: { label: string }[] }[] };

/** Stop every active run. Always in the header for operators; confirms first, then says
 * exactly which runs it stopped. */
export function HaltAllButton() {
  const [opened, { open, close }] = useDisclosure(false);
  const [reason, setReason] = useState('');
  const [result, setResult] = useState<Halted | null>(null);
  const [hubError, setHubError] = useState<HubError | null>(null);
  const [{ data, fetching: loading, error: listError }, refetch] = useQuery<{ runs: { totalCount: number; edges: { node: RunSummary }[] } }>({
    query: RUNS,
    variables: { filter: { phase: ACTIVE, includeArchived: true }, first: 50 },
    pause: !opened,
    requestPolicy: 'network-only',
  });
  const [{ fetching, error }, halt] = useMutation(HALT_ALL);

  const start = () => {
    setResult(null);
    setHubError(null);
    setReason('');
    refetch({ requestPolicy: 'network-only' });
    open();
  };
  const confirm = async () => {
    const res = await halt({ reason: reason || 'halt all from the console' });
    const payload = res.data?.haltAll;
    const err = asHubError(payload);
    if (err) setHubError(err);
    else if (payload) setResult(payload as Halted);
  };
  const active = data?.runs.edges.map((e) => e.node) ?? [];

  return (
    <>
      <Button color="red" leftSection={<IconHandStop size={18} />} onClick={start} data-testid="halt-all" px={{ base: 'xs', sm: 'md' }}>
        Halt all
      </Button>
      <Modal opened={opened} onClose={close} title="Halt all runs" size="lg">
        {result ? (
          <Stack data-testid="halt-result">
            <Alert color={result.count ? 'orange' : 'gray'} title={`Stopped ${result.count} run${result.count === 1 ? '' : 's'}`}>
              {result.count
                ? 'Each one is now recovering its targets; follow them on their pages.'
                : 'No run was active.'}
            </Alert>
            <List spacing={4}>
              {result.runs.map((r) => (
                <List.Item key={r.id}>
                  <Anchor component={Link} to={`/runs/${r.id}`} onClick={close}>
                    {shortId(r.id)}
                  </Anchor>{' '}
                  {r.faultType} on {r.backend} ({r.targets.map((t) => t.label).join(', ')})
                </List.Item>
              ))}
            </List>
            <Group justify="flex-end">
              <Button onClick={close}>Close</Button>
            </Group>
          </Stack>
        ) : (
          <Stack>
            <Text>
              Every active run (pending, injecting, running or paused) is told to stop and recover its targets now. Runs
              that are already recovering carry on. This is recorded in the audit log with your reason.
            </Text>
            <ErrorAlert error={listError} title="Could not list active runs" />
            {loading && !data ? (
              <Text c="dimmed">Looking for active runs…</Text>
            ) : active.length ? (
              <Stack gap={4}>
                <Text fw={600}>{data?.runs.totalCount} active now:</Text>
                {active.map((r) => (
                  <Group key={r.id} gap="xs">
                    <PhaseBadge phase={r.phase} size="sm" />
                    <Text size="sm">
                      {shortId(r.id)} · {r.faultType} on {r.backend} ({r.targets.map((t) => t.label).join(', ')})
                    </Text>
                  </Group>
                ))}
              </Stack>
            ) : (
              <Text c="dimmed">No run is active right now.</Text>
            )}
            <TextInput
              label="Reason"
              placeholder="why everything must stop"
              value={reason}
              onChange={(e) => setReason(e.currentTarget.value)}
              data-autofocus
            />
            <ErrorAlert error={error} hubError={hubError} />
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                Cancel
              </Button>
              <Button color="red" loading={fetching} onClick={confirm} data-testid="halt-confirm">
                Halt all active runs
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
