import { Alert, Anchor, Badge, Button, Code, Group, Stack, Table, Tabs, Text, Title, Tooltip } from '@mantine/core';
import { IconArrowLeft, IconRefresh } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { asHubError } from '../api/client';
import { EVENT_SINK_DELIVERIES, REDELIVER_EVENTS, type EventDelivery, type EventSink } from '../api/eventSinks';
import type { HubError } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { AdminsOnly } from './EventSinks';
import { ago, dateTime, shortId } from '../format';

const STATES = ['pending', 'delivered', 'dead'] as const;
type State = (typeof STATES)[number];
const PAGE = 50;
/** How often the list is asked again: deliveries move on their own. */
const POLL_MS = 2000;

function Subject({ d }: { d: EventDelivery }) {
  if (d.event.runId)
    return (
      <Anchor component={Link} to={`/runs/${d.event.runId}`} size="sm" ff="monospace">
        {shortId(d.event.runId)}
      </Anchor>
    );
  return <Text size="sm">{d.event.agent ?? '—'}</Text>;
}

/** One sink's deliveries by state, newest first; dead ones can be sent again. */
export function EventSinkDeliveriesPage() {
  return useCan('admin') ? <Deliveries /> : <AdminsOnly what="event sinks" />;
}

function Deliveries() {
  const { id = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const state: State = STATES.includes(params.get('state') as State) ? (params.get('state') as State) : 'pending';
  // How many pages are shown; the list is polled whole, newest first, up to the API's 500.
  const [pages, setPages] = useState(1);
  const [{ data, error }, refetch] = useQuery<{ eventSinks: EventSink[]; eventSinkDeliveries: EventDelivery[] }>({
    query: EVENT_SINK_DELIVERIES,
    variables: { sinkId: id, state, first: Math.min(PAGE * pages, 500) },
  });
  const [redeliverState, redeliver] = useMutation(REDELIVER_EVENTS);
  const [refusal, setRefusal] = useState<HubError | null>(null);
  const [done, setDone] = useState<number | null>(null);

  useEffect(() => {
    const t = setInterval(() => refetch({ requestPolicy: 'network-only' }), POLL_MS);
    return () => clearInterval(t);
  }, [refetch]);

  const sink = data?.eventSinks.find((s) => s.id === id);
  const deliveries = data?.eventSinkDeliveries ?? [];
  const more = deliveries.length === PAGE * pages && PAGE * (pages + 1) <= 500;

  const send = async (ids: string[] | null) => {
    setRefusal(null);
    setDone(null);
    const res = await redeliver({ sinkId: id, ids });
    const answer = res.data?.redeliverEvents;
    const err = asHubError(answer);
    if (err) setRefusal(err);
    else if (answer) setDone(answer.count);
    refetch({ requestPolicy: 'network-only' });
  };
  const pick = (s: string | null) => {
    setPages(1);
    setDone(null);
    setParams(s && s !== 'pending' ? { state: s } : {}, { replace: true });
  };

  return (
    <Stack maw={1200}>
      <Anchor component={Link} to="/event-sinks" size="sm">
        <Group gap={4}>
          <IconArrowLeft size={14} /> Event sinks
        </Group>
      </Anchor>
      <div>
        <Title order={2}>Deliveries of {sink?.name ?? '…'}</Title>
        {sink && (
          <Text c="dimmed" size="sm" style={{ wordBreak: 'break-all' }}>
            {sink.kind}
            {sink.url ? ` to ${sink.url}` : ''} — a delivery failing {sink.maxAttempts} times or older than {sink.maxAgeSeconds} s is dead.
          </Text>
        )}
      </div>
      <ErrorAlert error={error} title="Could not load deliveries" />
      {data && !sink && <Alert color="red">No event sink with this id: it may have been deleted.</Alert>}
      <Tabs value={state} onChange={pick}>
        <Tabs.List>
          <Tabs.Tab value="pending" data-testid="tab-pending">
            Pending{sink ? ` (${sink.pending})` : ''}
          </Tabs.Tab>
          <Tabs.Tab value="delivered" data-testid="tab-delivered">
            Delivered
          </Tabs.Tab>
          <Tabs.Tab value="dead" color="red" data-testid="tab-dead">
            Dead{sink ? ` (${sink.dead})` : ''}
          </Tabs.Tab>
        </Tabs.List>
      </Tabs>
      {state === 'dead' && deliveries.length > 0 && (
        <Group>
          <Button leftSection={<IconRefresh size={16} />} onClick={() => send(null)} loading={redeliverState.fetching} data-testid="redeliver-all">
            Redeliver all {sink?.dead ?? ''} dead
          </Button>
          <Text size="sm" c="dimmed">
            They go out again before newer events, with a fresh retry budget.
          </Text>
        </Group>
      )}
      <ErrorAlert hubError={refusal} error={redeliverState.error} />
      {done != null && (
        <Alert color="green" withCloseButton onClose={() => setDone(null)} data-testid="redelivered">
          {done} {done === 1 ? 'delivery is' : 'deliveries are'} pending again.
        </Alert>
      )}
      {data && deliveries.length === 0 && (
        <Text c="dimmed" data-testid="no-deliveries">
          {state === 'pending' ? 'Nothing waiting to go out.' : state === 'dead' ? 'No dead deliveries.' : 'Nothing delivered yet (delivered ones are kept a week).'}
        </Text>
      )}
      {deliveries.length > 0 && (
        <Table.ScrollContainer minWidth={900}>
          <Table verticalSpacing="xs" data-testid="deliveries-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Event type</Table.Th>
                <Table.Th>Subject</Table.Th>
                <Table.Th>Event at</Table.Th>
                <Table.Th>Attempts</Table.Th>
                <Table.Th>Last answer</Table.Th>
                <Table.Th>{state === 'delivered' ? 'Delivered' : state === 'pending' ? 'Next attempt' : 'Owed since'}</Table.Th>
                {state === 'dead' && <Table.Th />}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {deliveries.map((d) => (
                <Table.Tr key={d.id} data-testid="delivery-row" data-id={d.id} data-state={d.state}>
                  <Table.Td>
                    <Code>{d.type}</Code>
                    {(d.event.toPhase || d.event.target) && (
                      <Text size="xs" c="dimmed">
                        {d.event.toPhase ? `${d.event.fromPhase ?? '—'} → ${d.event.toPhase}` : d.event.target}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Subject d={d} />
                  </Table.Td>
                  <Table.Td>
                    <Tooltip label={dateTime(d.event.at)}>
                      <Text size="sm">{ago(d.event.at)}</Text>
                    </Tooltip>
                  </Table.Td>
                  <Table.Td data-testid="delivery-attempts">{d.attempts}</Table.Td>
                  <Table.Td maw={360} data-testid="delivery-error">
                    {d.lastStatus != null && (
                      <Badge color={d.lastStatus < 300 ? 'green' : 'red'} variant="light" mr={6}>
                        HTTP {d.lastStatus}
                      </Badge>
                    )}
                    {d.lastError ? (
                      <Text size="sm" c="red" span style={{ wordBreak: 'break-word' }}>
                        {d.lastError}
                      </Text>
                    ) : (
                      d.lastStatus == null && '—'
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{state === 'delivered' ? ago(d.deliveredAt) : state === 'pending' ? ago(d.nextAttemptAt) : ago(d.createdAt)}</Text>
                  </Table.Td>
                  {state === 'dead' && (
                    <Table.Td>
                      <Button size="xs" variant="subtle" onClick={() => send([d.id])} disabled={redeliverState.fetching} data-testid="redeliver-one">
                        Redeliver
                      </Button>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {more && (
        <Group justify="center">
          <Button variant="default" onClick={() => setPages(pages + 1)}>
            Show older
          </Button>
        </Group>
      )}
    </Stack>
  );
}
