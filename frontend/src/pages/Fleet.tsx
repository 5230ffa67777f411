import { Badge, Button, Code, Group, Modal, Paper, Popover, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useCallback, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { asHubError } from '../api/client';
import { DELETE_BACKEND, FLEET } from '../api/documents';
import type { AdapterInfo, Agent, Backend, HubError } from '../api/types';
import { useCan } from '../auth';
import { BackendEditor } from '../components/BackendEditor';
import { BackendHealthBadge } from '../components/BackendHealth';
import { ErrorAlert } from '../components/ErrorText';
import { ago, dateTime } from '../format';
import { useLiveRefresh } from '../live';

type Data = { agents: Agent[]; backends: Backend[]; adapters: AdapterInfo[] };

function Capabilities({ agent }: { agent: Agent }) {
  const entries = Object.entries(agent.capabilities ?? {});
  const ok = entries.filter(([, c]) => c?.available).length;
  if (!entries.length) return <Text size="sm" c="dimmed">none reported</Text>;
  return (
    <Popover width={420} position="bottom-start" shadow="md">
      <Popover.Target>
        <Button variant="subtle" size="compact-sm">
          {ok} of {entries.length} faults available
        </Button>
      </Popover.Target>
      <Popover.Dropdown>
        <Stack gap={4}>
          {entries.map(([fault, c]) => (
            <Group key={fault} gap={6} wrap="nowrap" align="flex-start">
              <Badge size="sm" color={c?.available ? 'green' : 'orange'} variant="light" miw={90}>
                {c?.available ? 'available' : 'unavailable'}
              </Badge>
              <Text size="sm">
                <Code>{fault}</Code> {c?.reason}
              </Text>
            </Group>
          ))}
        </Stack>
      </Popover.Dropdown>
    </Popover>
  );
}

export function FleetPage() {
  const isAdmin = useCan('admin');
  const [{ data, error }, refetch] = useQuery<Data>({ query: FLEET });
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useLiveRefresh(refresh, { pollMs: 10000 });
  const [editing, setEditing] = useState<Backend | 'new' | null>(null);
  const [removing, setRemoving] = useState<Backend | null>(null);
  const [removeError, setRemoveError] = useState<HubError | null>(null);
  const [removeState, remove] = useMutation(DELETE_BACKEND);

  const onRemove = async () => {
    if (!removing) return;
    const res = await remove({ id: removing.id });
    const err = asHubError(res.data?.deleteBackend);
    if (err) setRemoveError(err);
    else {
      setRemoving(null);
      refresh();
    }
  };

  const agents = data?.agents ?? [];
  const backends = data?.backends ?? [];
  return (
    <Stack>
      <div>
        <Title order={2}>Agents & backends</Title>
        <Text c="dimmed" size="sm">
          Agents are native injectors that registered themselves and heartbeat. Backends are configured tools the hub drives.
        </Text>
      </div>
      <ErrorAlert error={error} title="Could not load agents and backends" />

      <Paper withBorder p="md">
        <Title order={4} mb="xs">
          Agents
        </Title>
        {agents.length ? (
          <Table.ScrollContainer minWidth={800}>
            <Table verticalSpacing="xs" data-testid="agents-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>State</Table.Th>
                  <Table.Th>Last heartbeat</Table.Th>
                  <Table.Th>Version</Table.Th>
                  <Table.Th>Labels</Table.Th>
                  <Table.Th>Capabilities</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {agents.map((a) => (
                  <Table.Tr key={a.id}>
                    <Table.Td>
                      <Text fw={500}>{a.name}</Text>
                      <Text size="xs" c="dimmed" ff="monospace">
                        {a.url}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Badge color={a.online ? 'green' : 'red'} variant={a.online ? 'light' : 'filled'}>
                        {a.online ? 'online' : 'offline'}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Tooltip label={dateTime(a.lastHeartbeat)}>
                        <Text size="sm">{ago(a.lastHeartbeat)}</Text>
                      </Tooltip>
                    </Table.Td>
                    <Table.Td>{a.version || '—'}</Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        {Object.entries(a.labels ?? {}).map(([k, v]) => (
                          <Badge key={k} variant="outline" color="gray" size="sm" tt="none">
                            {k}={String(v)}
                          </Badge>
                        ))}
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      <Capabilities agent={a} />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        ) : (
          <Text c="dimmed" size="sm">
            No agent has registered. Run <Code>chaoshub-injector</Code> on a host with an agent token to add one.
          </Text>
        )}
      </Paper>

      <Paper withBorder p="md">
        <Group justify="space-between" mb="xs">
          <Title order={4}>Backends</Title>
          {isAdmin && (
            <Button size="sm" leftSection={<IconPlus size={16} />} onClick={() => setEditing('new')} data-testid="add-backend">
              Add backend
            </Button>
          )}
        </Group>
        <Table.ScrollContainer minWidth={800}>
          <Table verticalSpacing="xs" data-testid="backends-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Adapter</Table.Th>
                <Table.Th>Now</Table.Th>
                <Table.Th>Config</Table.Th>
                {isAdmin && <Table.Th />}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {backends.map((b) => (
                <Table.Tr key={b.id} data-testid="backend-row" data-name={b.name}>
                  <Table.Td>
                    <Text fw={500}>{b.name}</Text>
                  </Table.Td>
                  <Table.Td>{b.adapter}</Table.Td>
                  <Table.Td>
                    <BackendHealthBadge name={b.name} />
                  </Table.Td>
                  <Table.Td>
                    <Code>{JSON.stringify(b.config)}</Code>
                  </Table.Td>
                  {isAdmin && (
                    <Table.Td>
                      <Group gap={4} wrap="nowrap" justify="flex-end">
                        <Button size="xs" variant="subtle" leftSection={<IconPencil size={14} />} onClick={() => setEditing(b)}>
                          Edit
                        </Button>
                        <Button
                          size="xs"
                          variant="subtle"
                          color="red"
                          leftSection={<IconTrash size={14} />}
                          onClick={() => {
                            setRemoveError(null);
                            setRemoving(b);
                          }}
                        >
                          Remove
                        </Button>
                      </Group>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <Text size="xs" c="dimmed" mt="xs">
          Installed adapters: {(data?.adapters ?? []).map((a) => a.name).join(', ')}
        </Text>
      </Paper>

      {editing && (
        <BackendEditor
          key={editing === 'new' ? 'new' : editing.id}
          backend={editing === 'new' ? null : editing}
          adapters={data?.adapters ?? []}
          opened
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            refresh();
          }}
        />
      )}
      <Modal opened={!!removing} onClose={() => setRemoving(null)} title={`Remove backend ${removing?.name}?`}>
        <Stack>
          <Text>Experiments that use it can no longer start. The hub refuses while a run on it is active.</Text>
          <ErrorAlert hubError={removeError} error={removeState.error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRemoving(null)}>
              Cancel
            </Button>
            <Button color="red" onClick={onRemove} loading={removeState.fetching}>
              Remove
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
