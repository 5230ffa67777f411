import { Anchor, Button, Code, Group, Modal, Stack, Table, Text, Title } from '@mantine/core';
import { IconCalendarTime, IconPlayerPlay, IconPlus, IconTrash } from '@tabler/icons-react';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { asHubError } from '../api/client';
import { DELETE_EXPERIMENT, EXPERIMENTS, START_RUN } from '../api/documents';
import type { Experiment, HubError } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { ScheduleModal } from '../components/schedules/ScheduleForm';
import { dateTime, seconds } from '../format';

export function ExperimentsPage() {
  const canOperate = useCan('operator');
  const navigate = useNavigate();
  const [{ data, error }, refetch] = useQuery<{ experiments: Experiment[] }>({ query: EXPERIMENTS });
  const [startState, start] = useMutation(START_RUN);
  const [deleteState, remove] = useMutation(DELETE_EXPERIMENT);
  const [refusal, setRefusal] = useState<{ id: string; error: HubError } | null>(null);
  const [deleting, setDeleting] = useState<Experiment | null>(null);
  const [starting, setStarting] = useState<string | null>(null);
  const [scheduling, setScheduling] = useState<Experiment | null>(null);

  const onStart = async (e: Experiment) => {
    setRefusal(null);
    setStarting(e.id);
    const res = await start({ input: { experimentId: e.id } });
    setStarting(null);
    const err = asHubError(res.data?.startRun);
    if (err) setRefusal({ id: e.id, error: err });
    else if (res.data?.startRun?.id) navigate(`/runs/${res.data.startRun.id}`);
  };
  const onDelete = async () => {
    if (!deleting) return;
    const res = await remove({ id: deleting.id });
    const err = asHubError(res.data?.deleteExperiment);
    if (err) setRefusal({ id: deleting.id, error: err });
    setDeleting(null);
    refetch({ requestPolicy: 'network-only' });
  };

  const rows = data?.experiments ?? [];
  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2}>Experiments</Title>
          <Text c="dimmed" size="sm">
            Saved definitions: fault, backend, selector, parameters and duration. Start one to make a run.
          </Text>
        </div>
        {canOperate && (
          <Group gap="xs">
            <Button component={Link} to="/workflows/new" variant="light" leftSection={<IconPlus size={16} />}>
              New workflow
            </Button>
            <Button component={Link} to="/experiments/new" leftSection={<IconPlus size={16} />}>
              New experiment
            </Button>
          </Group>
        )}
      </Group>
      <ErrorAlert error={error ?? startState.error ?? deleteState.error} />
      <Table.ScrollContainer minWidth={800}>
        <Table verticalSpacing="xs" highlightOnHover data-testid="experiments-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Fault</Table.Th>
              <Table.Th>Backend</Table.Th>
              <Table.Th>Selector</Table.Th>
              <Table.Th>Parameters</Table.Th>
              <Table.Th>Duration</Table.Th>
              <Table.Th>Updated</Table.Th>
              {canOperate && <Table.Th />}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((e) => (
              <Table.Tr key={e.id} data-testid="experiment-row" data-name={e.name}>
                <Table.Td>
                  <Text fw={500}>{e.name}</Text>
                  {e.description && (
                    <Text size="xs" c="dimmed" lineClamp={2}>
                      {e.description}
                    </Text>
                  )}
                  {refusal?.id === e.id && (
                    <Text size="sm" c="red" role="alert">
                      {refusal.error.message}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Anchor component={Link} to={`/catalog/${e.faultType}`} size="sm">
                    {e.faultType}
                  </Anchor>
                </Table.Td>
                <Table.Td>{e.backend}</Table.Td>
                <Table.Td>
                  <Code>{JSON.stringify(e.selector)}</Code>
                </Table.Td>
                <Table.Td>
                  <Code>{JSON.stringify(e.params)}</Code>
                </Table.Td>
                <Table.Td>{seconds(e.durationSeconds)}</Table.Td>
                <Table.Td>
                  <Text size="sm">{dateTime(e.updatedAt)}</Text>
                </Table.Td>
                {canOperate && (
                  <Table.Td>
                    <Group gap={6} wrap="nowrap">
                      <Button size="xs" leftSection={<IconPlayerPlay size={14} />} onClick={() => onStart(e)} loading={starting === e.id} data-testid="start-experiment">
                        Start
                      </Button>
                      <Button size="xs" variant="light" leftSection={<IconCalendarTime size={14} />} onClick={() => setScheduling(e)} data-testid="schedule-experiment">
                        Schedule…
                      </Button>
                      <Button size="xs" variant="subtle" color="red" onClick={() => setDeleting(e)} aria-label={`Delete ${e.name}`}>
                        <IconTrash size={14} />
                      </Button>
                    </Group>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {data && !rows.length && <Text c="dimmed">No experiment saved yet.</Text>}
      <ScheduleModal
        opened={!!scheduling}
        onClose={() => setScheduling(null)}
        target={scheduling ? { experimentId: scheduling.id, name: scheduling.name } : undefined}
        onSaved={(s) => navigate(`/schedules/${s.id}`)}
      />
      <Modal opened={!!deleting} onClose={() => setDeleting(null)} title={`Delete ${deleting?.name}?`}>
        <Stack>
          <Text>The definition is removed. Its past runs stay, with their records and events.</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDeleting(null)}>
              Cancel
            </Button>
            <Button color="red" onClick={onDelete} loading={deleteState.fetching}>
              Delete
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
