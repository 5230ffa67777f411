import { Alert, Anchor, Badge, Button, Code, Group, Modal, Paper, SimpleGrid, Skeleton, Stack, Table, Text, TextInput, Title, Tooltip } from '@mantine/core';
import { IconEdit, IconPlayerPause, IconPlayerPlay, IconTrash } from '@tabler/icons-react';
import { useCallback, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { asHubError } from '../api/client';
import { DELETE_SCHEDULE, describeBlackout, PAUSE_SCHEDULE, RESUME_SCHEDULE, SCHEDULE, type Schedule } from '../api/schedules';
import type { HubError } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { inZone, ScheduleModal } from '../components/schedules/ScheduleForm';
import { dateTime, fromNow, seconds, shortId } from '../format';
import { useLiveRefresh } from '../live';
import { ScheduleState, TargetLink } from './Schedules';

const OUTCOME_COLOR: Record<string, string> = { fired: 'green', skipped: 'yellow', missed: 'orange', refused: 'red', firing: 'blue' };

type Confirm = 'pause' | 'delete' | null;

export function SchedulePage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const canOperate = useCan('operator');
  const [{ data, fetching, error }, refetch] = useQuery<{ schedule: Schedule | null }>({ query: SCHEDULE, variables: { id } });
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useLiveRefresh(refresh, { pollMs: 3000 });
  const [editing, setEditing] = useState(false);
  const [confirm, setConfirm] = useState<Confirm>(null);
  const [reason, setReason] = useState('');
  const [hubError, setHubError] = useState<HubError | null>(null);
  const [pauseState, pause] = useMutation(PAUSE_SCHEDULE);
  const [resumeState, resume] = useMutation(RESUME_SCHEDULE);
  const [deleteState, remove] = useMutation(DELETE_SCHEDULE);

  const schedule = data?.schedule ?? null;
  if (fetching && !schedule) return <Skeleton h={400} />;
  if (error && !schedule) return <ErrorAlert error={error} title="Could not load this schedule" />;
  if (!schedule) return <Text>There is no schedule {id}.</Text>;

  const act = async (kind: 'pause' | 'resume' | 'delete') => {
    setHubError(null);
    const res = kind === 'pause' ? await pause({ id: schedule.id, reason }) : kind === 'resume' ? await resume({ id: schedule.id }) : await remove({ id: schedule.id });
    const answer = res.data?.[`${kind}Schedule`];
    const err = asHubError(answer);
    if (err) return setHubError(err);
    setConfirm(null);
    if (kind === 'delete') navigate('/schedules');
    else refresh();
  };

  const history = [...schedule.history].reverse();
  // fetched a moment ago: the times already past are not next any more
  const next = schedule.nextFireTimes.filter((t) => new Date(t).getTime() > Date.now());
  return (
    <Stack maw={1400} data-testid="schedule" data-enabled={String(schedule.enabled)}>
      <Group justify="space-between" align="flex-start">
        <div style={{ minWidth: 0 }}>
          <Anchor component={Link} to="/schedules" size="sm">
            ← Schedules
          </Anchor>
          <Title order={2} style={{ wordBreak: 'break-word' }}>
            {schedule.name}
          </Title>
          <Group gap="xs" mt={4}>
            <ScheduleState schedule={schedule} />
            <Code>{schedule.cron}</Code>
            <Text size="sm" c="dimmed">
              {schedule.timeZone}
            </Text>
          </Group>
          {schedule.description && (
            <Text size="sm" mt={4}>
              {schedule.description}
            </Text>
          )}
        </div>
        {canOperate && (
          <Group gap="xs">
            {schedule.enabled ? (
              <Button variant="light" color="blue" leftSection={<IconPlayerPause size={16} />} onClick={() => { setReason(''); setConfirm('pause'); }} data-testid="pause-schedule">
                Pause
              </Button>
            ) : (
              <Button variant="light" color="green" leftSection={<IconPlayerPlay size={16} />} onClick={() => act('resume')} loading={resumeState.fetching} data-testid="resume-schedule">
                {schedule.pausedReason.startsWith('created paused') ? 'Enable' : 'Resume'}
              </Button>
            )}
            <Button variant="default" leftSection={<IconEdit size={16} />} onClick={() => setEditing(true)} data-testid="edit-schedule">
              Edit
            </Button>
            <Button variant="subtle" color="red" leftSection={<IconTrash size={16} />} onClick={() => setConfirm('delete')} data-testid="delete-schedule">
              Delete
            </Button>
          </Group>
        )}
      </Group>
      <ErrorAlert hubError={confirm ? null : hubError} error={resumeState.error} />
      {!schedule.enabled && schedule.pausedReason && (
        <Alert color="gray" p="xs" data-testid="paused-reason">
          {schedule.pausedReason}. Ticks that pass while paused are not made up: it fires again from its next tick after it is resumed.
        </Alert>
      )}

      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Paper withBorder p="md">
          <Title order={5} mb="xs">
            Timetable
          </Title>
          <Table verticalSpacing={4} withRowBorders={false}>
            <Table.Tbody>
              <Table.Tr>
                <Table.Th w={170}>Starts</Table.Th>
                <Table.Td>
                  <TargetLink schedule={schedule} />
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Concurrency policy</Table.Th>
                <Table.Td>{schedule.concurrencyPolicy}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Starting deadline</Table.Th>
                <Table.Td>{seconds(schedule.startingDeadlineSeconds)}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Blackout windows</Table.Th>
                <Table.Td>{schedule.blackouts.length ? schedule.blackouts.map(describeBlackout).join('; ') : 'none'}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Made</Table.Th>
                <Table.Td>
                  by {schedule.createdBy}, {dateTime(schedule.createdAt)}
                </Table.Td>
              </Table.Tr>
            </Table.Tbody>
          </Table>
        </Paper>
        <Paper withBorder p="md" data-testid="schedule-next">
          <Title order={5} mb="xs">
            Next fire times
          </Title>
          {!schedule.enabled ? (
            <Text size="sm" c="dimmed">
              None while paused.
            </Text>
          ) : next.length ? (
            next.map((t) => (
              <Text key={t} size="sm" ff="monospace" data-testid="next-fire-time">
                {inZone(t, schedule.timeZone)}{' '}
                <Text span size="xs" c="dimmed" ff="inherit">
                  ({fromNow(t)})
                </Text>
              </Text>
            ))
          ) : (
            <Text size="sm" c="dimmed">
              Never: every tick falls in a blackout window.
            </Text>
          )}
        </Paper>
      </SimpleGrid>

      <Paper withBorder p="md">
        <Title order={4} mb="xs">
          History
        </Title>
        <Text size="xs" c="dimmed" mb="xs">
          Every tick the hub handled, newest first: what fired, and what was skipped, missed or refused, and why.
        </Text>
        <Table.ScrollContainer minWidth={300} type="native">
          <Table verticalSpacing={4} data-testid="schedule-history">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Tick · why</Table.Th>
                <Table.Th>Outcome · started</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {history.map((f, i) => (
                <Table.Tr key={`${f.scheduledFor}-${i}`} data-testid="schedule-fire" data-outcome={f.outcome}>
                  <Table.Td>
                    <Tooltip label={`handled ${dateTime(f.at)}`}>
                      <Text size="sm" ff="monospace" style={{ whiteSpace: 'nowrap' }}>
                        {inZone(f.scheduledFor, schedule.timeZone)}
                      </Text>
                    </Tooltip>
                    {f.reason && (
                      <Text size="xs" c="dimmed" data-testid="fire-reason">
                        {f.reason}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge color={OUTCOME_COLOR[f.outcome] ?? 'gray'} variant="light">
                      {f.outcome}
                    </Badge>
                    {f.workflowRunId ? (
                      <Anchor component={Link} to={`/workflow-runs/${f.workflowRunId}`} ff="monospace" size="sm" display="block" data-testid="fire-run">
                        {shortId(f.workflowRunId)}
                      </Anchor>
                    ) : f.runId ? (
                      <Anchor component={Link} to={`/runs/${f.runId}`} ff="monospace" size="sm" display="block" data-testid="fire-run">
                        {shortId(f.runId)}
                      </Anchor>
                    ) : null}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        {!history.length && (
          <Text size="sm" c="dimmed">
            No tick yet.
          </Text>
        )}
      </Paper>

      <ScheduleModal opened={editing} onClose={() => setEditing(false)} schedule={schedule} onSaved={() => { setEditing(false); refresh(); }} />
      <Modal opened={confirm !== null} onClose={() => setConfirm(null)} title={confirm === 'delete' ? `Delete ${schedule.name}?` : `Pause ${schedule.name}?`}>
        <Stack>
          <Text>
            {confirm === 'delete'
              ? 'The schedule and its history are removed. What it started stays, with its records.'
              : 'Nothing starts until it is resumed; ticks that pass meanwhile are not made up.'}
          </Text>
          {confirm === 'pause' && <TextInput label="Reason" placeholder="optional, shown while paused" value={reason} onChange={(e) => setReason(e.currentTarget.value)} data-autofocus />}
          <ErrorAlert hubError={hubError} error={pauseState.error ?? deleteState.error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(null)}>
              Cancel
            </Button>
            <Button color={confirm === 'delete' ? 'red' : 'blue'} onClick={() => act(confirm === 'delete' ? 'delete' : 'pause')} loading={pauseState.fetching || deleteState.fetching} data-testid="confirm-action">
              {confirm === 'delete' ? 'Delete' : 'Pause'}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
