import { Anchor, Badge, Button, Code, Group, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconPlus } from '@tabler/icons-react';
import { useCallback, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useQuery } from 'urql';
import { lastFired, SCHEDULES, type Schedule } from '../api/schedules';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { inZone, ScheduleModal } from '../components/schedules/ScheduleForm';
import { ago } from '../format';
import { useLiveRefresh } from '../live';

export function ScheduleState({ schedule }: { schedule: Pick<Schedule, 'enabled' | 'pausedReason'> }) {
  return schedule.enabled ? (
    <Badge color="green" variant="light" data-testid="schedule-state">
      enabled
    </Badge>
  ) : (
    <Tooltip label={schedule.pausedReason || 'paused'} multiline maw={320}>
      <Badge color="gray" variant="light" data-testid="schedule-state">
        paused
      </Badge>
    </Tooltip>
  );
}

export function TargetLink({ schedule }: { schedule: Pick<Schedule, 'workflowId' | 'experimentId' | 'targetName'> }) {
  if (schedule.targetName == null)
    return (
      <Text size="sm" c="dimmed">
        (deleted)
      </Text>
    );
  return schedule.workflowId ? (
    <Text size="sm">
      <Text span size="xs" c="dimmed">
        workflow{' '}
      </Text>
      <Anchor component={Link} to={`/workflows/${schedule.workflowId}/edit`} size="sm">
        {schedule.targetName}
      </Anchor>
    </Text>
  ) : (
    <Text size="sm">
      <Text span size="xs" c="dimmed">
        experiment{' '}
      </Text>
      <Anchor component={Link} to="/experiments" size="sm">
        {schedule.targetName}
      </Anchor>
    </Text>
  );
}

export function SchedulesPage() {
  const canOperate = useCan('operator');
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [{ data, error }, refetch] = useQuery<{ schedules: Schedule[] }>({ query: SCHEDULES });
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useLiveRefresh(refresh, { pollMs: 5000 });
  const rows = data?.schedules ?? [];
  const phone = useMediaQuery('(max-width: 600px)');
  const now = Date.now();
  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2}>Schedules</Title>
          <Text c="dimmed" size="sm">
            Workflows and experiments started on a timetable, once per tick, in a time zone. Halt all pauses every one.
          </Text>
        </div>
        {canOperate && (
          <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)} data-testid="new-schedule">
            New schedule
          </Button>
        )}
      </Group>
      <ErrorAlert error={error} title="Could not load schedules" />
      <Table.ScrollContainer minWidth={phone ? 0 : 960}>
        <Table highlightOnHover verticalSpacing="xs" data-testid="schedules-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Schedule</Table.Th>
              <Table.Th visibleFrom="sm">Starts</Table.Th>
              <Table.Th>When</Table.Th>
              <Table.Th visibleFrom="sm">Policy</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th visibleFrom="sm">Next fire times</Table.Th>
              <Table.Th>Last fired</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((s) => {
              const fired = lastFired(s.history);
              const last = s.history[s.history.length - 1];
              return (
                <Table.Tr key={s.id} data-testid="schedule-row" data-schedule={s.id} data-name={s.name} data-enabled={String(s.enabled)}>
                  <Table.Td>
                    <Anchor component={Link} to={`/schedules/${s.id}`} fw={500}>
                      {s.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td visibleFrom="sm">
                    <TargetLink schedule={s} />
                  </Table.Td>
                  <Table.Td>
                    <Code>{s.cron}</Code>
                    <Text size="xs" c="dimmed">
                      {s.timeZone}
                      {s.blackouts.length ? ` · ${s.blackouts.length} blackout${s.blackouts.length === 1 ? '' : 's'}` : ''}
                    </Text>
                  </Table.Td>
                  <Table.Td visibleFrom="sm">
                    <Text size="sm">{s.concurrencyPolicy}</Text>
                  </Table.Td>
                  <Table.Td>
                    <ScheduleState schedule={s} />
                  </Table.Td>
                  <Table.Td visibleFrom="sm">
                    {s.enabled && s.nextFireTimes.length ? (
                      s.nextFireTimes.filter((t) => new Date(t).getTime() > now).map((t) => (
                        <Text key={t} size="xs" ff="monospace" style={{ whiteSpace: 'nowrap' }}>
                          {inZone(t, s.timeZone)}
                        </Text>
                      ))
                    ) : (
                      <Text size="sm" c="dimmed">
                        {s.enabled ? 'never' : '—'}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td data-testid="last-fired">
                    {fired ? (
                      <Tooltip label={inZone(fired.scheduledFor, s.timeZone)}>
                        <Text size="sm">{ago(fired.scheduledFor)}</Text>
                      </Tooltip>
                    ) : (
                      <Text size="sm" c="dimmed">
                        never
                      </Text>
                    )}
                    {last && last.outcome !== 'fired' && (
                      <Text size="xs" c="dimmed" lineClamp={2}>
                        last tick {last.outcome}
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {data && !rows.length && <Text c="dimmed">No schedule yet. Make one from a saved workflow (Schedule… in the editor) or from the experiments list.</Text>}
      <ScheduleModal opened={creating} onClose={() => setCreating(false)} onSaved={(s) => navigate(`/schedules/${s.id}`)} />
    </Stack>
  );
}
