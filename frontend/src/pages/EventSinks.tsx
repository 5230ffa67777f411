import { Alert, Anchor, Badge, Button, Code, Group, Modal, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { IconPlus, IconSend } from '@tabler/icons-react';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { useCan } from '../auth';
import { asHubError } from '../api/client';
import { DELETE_EVENT_SINK, EVENT_SINKS, SECRET_SET, TEST_EVENT_SINK, type EventSink } from '../api/eventSinks';
import type { HubError } from '../api/types';
import { ErrorAlert } from '../components/ErrorText';
import { EventSinkEditor } from '../components/EventSinkEditor';
import { seconds } from '../format';

type TestAnswer = { sink: string; ok: boolean; status: number | null; error: string };

/** What a test send did, in words: the receiver's answer, or why nothing was answered. */
function testText(t: TestAnswer): string {
  if (t.ok) return `${t.sink} answered HTTP ${t.status}.`;
  if (t.status != null) return `${t.sink} refused the test event: HTTP ${t.status}${t.error ? ` — ${t.error}` : ''}.`;
  return `${t.sink} could not be reached: ${t.error || 'no answer'}.`;
}

/** Shown instead of an admin-only page to everyone else (the API refuses them anyway). */
export function AdminsOnly({ what }: { what: string }) {
  return (
    <Alert color="gray" title="Admins only" data-testid="admins-only">
      Only an admin can see {what}.
    </Alert>
  );
}

/** Admins save where the hub's events go out (webhooks, Kubernetes Events), test them, and
 * see how many deliveries each is owed. */
export function EventSinksPage() {
  return useCan('admin') ? <Sinks /> : <AdminsOnly what="event sinks" />;
}

function Sinks() {
  const [{ data, error }, refetch] = useQuery<{ eventSinks: EventSink[] }>({ query: EVENT_SINKS });
  const [testState, sendTest] = useMutation(TEST_EVENT_SINK);
  const [deleteState, remove] = useMutation(DELETE_EVENT_SINK);
  const [editing, setEditing] = useState<EventSink | 'new' | null>(null);
  const [deleting, setDeleting] = useState<EventSink | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const [tested, setTested] = useState<TestAnswer | null>(null);
  const [refusal, setRefusal] = useState<HubError | null>(null);
  const reload = () => refetch({ requestPolicy: 'network-only' });

  const test = async (sink: EventSink) => {
    setRefusal(null);
    setTested(null);
    setTesting(sink.id);
    const res = await sendTest({ id: sink.id });
    setTesting(null);
    const answer = res.data?.testEventSink;
    const err = asHubError(answer);
    if (err) setRefusal(err);
    else if (answer) setTested({ sink: sink.name, ok: answer.ok, status: answer.status, error: answer.error });
  };
  const confirmDelete = async () => {
    if (!deleting) return;
    const res = await remove({ id: deleting.id });
    const err = asHubError(res.data?.deleteEventSink);
    if (err) setRefusal(err);
    setDeleting(null);
    reload();
  };

  // In the table the sink's name and counts already lead to its deliveries.
  const actions = (s: EventSink, withDeliveries: boolean) => (
    <>
      {withDeliveries && (
        <Button size="xs" variant="subtle" component={Link} to={`/event-sinks/${s.id}`}>
          Deliveries
        </Button>
      )}
      {s.kind === 'webhook' && (
        <Button size="xs" variant="subtle" leftSection={<IconSend size={14} />} loading={testing === s.id} onClick={() => test(s)} data-testid="send-test">
          Send test
        </Button>
      )}
      <Button size="xs" variant="subtle" onClick={() => setEditing(s)} data-testid="edit-sink">
        Edit
      </Button>
      <Button size="xs" variant="subtle" color="red" onClick={() => setDeleting(s)} data-testid="delete-sink">
        Delete
      </Button>
    </>
  );

  const sinks = data?.eventSinks ?? [];
  return (
    <Stack maw={1200}>
      <Group justify="space-between" align="flex-start">
        <div>
          <Title order={2}>Event sinks</Title>
          <Text c="dimmed" size="sm">
            Where the hub's events go out: webhooks (CloudEvents or Slack, signed with a secret) and Kubernetes Events. A delivery that fails is
            retried in order; one past its budget is dead until redelivered.
          </Text>
        </div>
        <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing('new')} data-testid="add-sink">
          Add sink
        </Button>
      </Group>
      <ErrorAlert error={error} title="Could not load event sinks" />
      <ErrorAlert hubError={refusal} error={testState.error ?? deleteState.error} />
      {tested && (
        <Alert color={tested.ok ? 'green' : 'red'} title={tested.ok ? 'Test event delivered' : 'Test event not delivered'} withCloseButton onClose={() => setTested(null)} data-testid="test-result">
          {testText(tested)}
        </Alert>
      )}
      {data && sinks.length === 0 && (
        <Text c="dimmed" data-testid="no-sinks">
          No event sinks yet: events stay in the hub.
        </Text>
      )}
      {sinks.length > 0 && (
        <Table.ScrollContainer minWidth={980} visibleFrom="sm">
          <Table verticalSpacing="xs" data-testid="sinks-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>URL</Table.Th>
                <Table.Th>Event types</Table.Th>
                <Table.Th>Retries</Table.Th>
                <Table.Th>Pending</Table.Th>
                <Table.Th>Dead</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sinks.map((s) => (
                <Table.Tr key={s.id} data-testid="sink-row" data-name={s.name}>
                  <Table.Td>
                    <Anchor component={Link} to={`/event-sinks/${s.id}`} fw={500} style={{ whiteSpace: 'nowrap' }}>
                      {s.name}
                    </Anchor>
                    {!s.enabled && (
                      <Badge ml={6} color="gray" size="sm">
                        disabled
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="outline">{s.kind}</Badge>
                    {s.kind === 'webhook' && (
                      <Text size="xs" c="dimmed">
                        {s.format}
                        {s.secret === SECRET_SET ? ', signed' : ', unsigned'}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td miw={180} maw={260} style={{ wordBreak: 'break-all' }}>
                    {s.url ? <Code>{s.url}</Code> : '—'}
                  </Table.Td>
                  <Table.Td>
                    {s.eventTypes.length ? (
                      <Group gap={4}>
                        {s.eventTypes.map((t) => (
                          <Code key={t}>{t}</Code>
                        ))}
                      </Group>
                    ) : (
                      <Text size="sm" c="dimmed">
                        every event
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                      {s.maxAttempts} attempts, {seconds(s.maxAgeSeconds)}
                    </Text>
                  </Table.Td>
                  <Table.Td data-testid="sink-pending">
                    <Anchor component={Link} to={`/event-sinks/${s.id}`} c="inherit" size="sm">
                      {s.pending}
                    </Anchor>
                  </Table.Td>
                  <Table.Td data-testid="sink-dead">
                    {s.dead ? (
                      <Anchor component={Link} to={`/event-sinks/${s.id}?state=dead`}>
                        <Badge color="red" variant="light" style={{ cursor: 'pointer' }}>
                          {s.dead}
                        </Badge>
                      </Anchor>
                    ) : (
                      0
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap" justify="flex-end">
                      {actions(s, false)}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {/* On a phone each sink is a card, its actions in reach without scrolling sideways. */}
      <Stack hiddenFrom="sm" gap="xs">
        {sinks.map((s) => (
          <Paper key={s.id} withBorder p="sm" data-testid="sink-card" data-name={s.name}>
            <Group justify="space-between" wrap="nowrap">
              <Anchor component={Link} to={`/event-sinks/${s.id}`} fw={500}>
                {s.name}
              </Anchor>
              <Group gap={4} wrap="nowrap">
                <Badge variant="outline">{s.kind}</Badge>
                {s.dead > 0 && <Badge color="red">{s.dead} dead</Badge>}
              </Group>
            </Group>
            {s.url && (
              <Text size="xs" ff="monospace" style={{ wordBreak: 'break-all' }}>
                {s.url}
              </Text>
            )}
            <Text size="xs" c="dimmed">
              {s.kind === 'webhook' ? `${s.format}, ${s.secret === SECRET_SET ? 'signed' : 'unsigned'} · ` : ''}
              {s.eventTypes.length ? s.eventTypes.join(', ') : 'every event'} · {s.pending} pending
            </Text>
            <Group gap={4} mt={4}>
              {actions(s, true)}
            </Group>
          </Paper>
        ))}
      </Stack>
      {editing && (
        <EventSinkEditor
          sink={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            reload();
          }}
        />
      )}
      <Modal opened={!!deleting} onClose={() => setDeleting(null)} title={`Delete ${deleting?.name}?`}>
        <Stack>
          <Text>
            The sink and every delivery it is owed go: {deleting?.pending ?? 0} pending and {deleting?.dead ?? 0} dead will never be sent.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDeleting(null)}>
              Cancel
            </Button>
            <Button color="red" onClick={confirmDelete} loading={deleteState.fetching} data-testid="confirm-delete">
              Delete
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
