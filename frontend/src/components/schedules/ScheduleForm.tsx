import { ActionIcon, Alert, Badge, Button, Chip, Group, Modal, NumberInput, Paper, SegmentedControl, Select, Stack, Switch, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { IconClockPlay, IconPlus, IconTrash } from '@tabler/icons-react';
import { useEffect, useMemo, useState } from 'react';
import { useClient, useMutation, useQuery } from 'urql';
import { asHubError } from '../../api/client';
import { CREATE_SCHEDULE, NEXT_FIRE_TIMES, POLICIES, UPDATE_SCHEDULE, type Blackout, type ConcurrencyPolicy, type Schedule } from '../../api/schedules';
import type { HubError } from '../../api/types';
import { fromNow } from '../../format';
import { ErrorAlert } from '../ErrorText';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const PRESETS = ['@every 30s', '@every 5m', '@hourly', '@daily', '0 3 * * 1-5'];
const FORM_FIELDS = ['name', 'cron', 'timeZone', 'concurrencyPolicy', 'startingDeadlineSeconds', 'blackouts', 'description', 'target'];

const TARGETS = `query ScheduleTargets { workflows { id name } experiments { id name } }`;

export interface ScheduleTarget {
  workflowId?: string | null;
  experimentId?: string | null;
  name: string;
}

type Window = { days: string[]; start: string; end: string };

function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const all = intl.supportedValuesOf?.('timeZone') ?? [];
  const here = localZone();
  return [...new Set(['UTC', here, ...all])];
}


/** A time as it reads in ``zone``: "Mon 07 Dec 14:05:30". */
export function inZone(at: string, zone: string): string {
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(new Date(at));
  } catch {
    return new Date(at).toISOString();
  }
}

function toApi(windows: Window[]): Blackout[] {
  return windows.map((w) => {
    const out: Blackout = {};
    if (w.days.length) out.days = w.days;
    if (w.start.trim()) out.start = w.start.trim();
    if (w.end.trim()) out.end = w.end.trim();
    return out;
  });
}

/** Where an API field path points on this form: a top-level field, or a blackout window's part. */
function place(field: string[]): { key: string; window?: number; part?: string } {
  const [head, index, part] = field;
  if (head === 'workflowId' || head === 'experimentId') return { key: 'target' };
  if (head === 'blackouts' && index !== undefined && /^\d+$/.test(String(index))) return { key: 'blackouts', window: Number(index), part: part ?? 'days' };
  return { key: FORM_FIELDS.includes(head) ? head : '' };
}

/** Create or edit a schedule: cron (5 fields, @hourly-style, @every), time zone, concurrency
 * policy, starting deadline, blackout windows; the next fire times follow as you type, and
 * every refusal shows on the field the API names. */
export function ScheduleForm({ target, schedule, onSaved, onCancel }: { target?: ScheduleTarget; schedule?: Schedule; onSaved: (s: Schedule) => void; onCancel: () => void }) {
  const client = useClient();
  const [name, setName] = useState(schedule?.name ?? (target ? `${target.name}-schedule` : ''));
  const [cron, setCron] = useState(schedule?.cron ?? '@every 5m');
  const [timeZone, setTimeZone] = useState(schedule?.timeZone ?? localZone());
  const [policy, setPolicy] = useState<ConcurrencyPolicy>(schedule?.concurrencyPolicy ?? 'forbid');
  const [deadline, setDeadline] = useState<number | string>(schedule?.startingDeadlineSeconds ?? 60);
  const [windows, setWindows] = useState<Window[]>(() => (schedule?.blackouts ?? []).map((b) => ({ days: b.days ?? [], start: b.start ?? '', end: b.end ?? '' })));
  const [enabled, setEnabled] = useState(schedule?.enabled ?? true);
  const [description, setDescription] = useState(schedule?.description ?? '');
  const [chosen, setChosen] = useState<string | null>(null);
  const [saveError, setSaveError] = useState<HubError | null>(null);
  const [preview, setPreview] = useState<{ times: string[]; error: HubError | null; for: string } | null>(null);
  const [{ data: targets }] = useQuery<{ workflows: { id: string; name: string }[]; experiments: { id: string; name: string }[] }>({ query: TARGETS, pause: !!target || !!schedule });
  const [{ fetching: saving }, save] = useMutation(schedule ? UPDATE_SCHEDULE : CREATE_SCHEDULE);
  const zoneList = useMemo(zones, []);

  // the next fire times of what is typed, from the hub's own arithmetic (blackouts left out)
  const asked = JSON.stringify({ cron, timeZone, blackouts: toApi(windows) });
  useEffect(() => {
    let live = true;
    const timer = window.setTimeout(async () => {
      const vars = JSON.parse(asked);
      if (!vars.cron.trim()) {
        setPreview({ times: [], error: { __typename: 'local', code: 'invalid', message: 'a schedule needs a cron expression', field: ['cron'] }, for: asked });
        return;
      }
      const res = await client.query(NEXT_FIRE_TIMES, { ...vars, count: 5 }, { requestPolicy: 'network-only' }).toPromise();
      if (!live) return;
      const answer = res.data?.nextFireTimes;
      const err = asHubError(answer);
      if (err) setPreview({ times: [], error: err, for: asked });
      else if (answer) setPreview({ times: answer.times as string[], error: null, for: asked });
      else if (res.error) setPreview({ times: [], error: { __typename: 'local', code: 'error', message: res.error.message, field: [] }, for: asked });
    }, 300);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [asked, client]);

  const errors = [preview?.error, saveError].filter((e): e is HubError => !!e);
  const errorFor = (key: string, window?: number, part?: string): string | undefined => {
    for (const e of errors) {
      const p = place(e.field ?? []);
      if (p.key !== key) continue;
      if (window === undefined && p.window === undefined) return e.message;
      if (window !== undefined && p.window === window && (part === undefined || p.part === part)) return e.message;
    }
    return undefined;
  };
  const elsewhere = saveError && !place(saveError.field ?? []).key ? saveError : null;
  const blackoutsError = errors.find((e) => place(e.field ?? []).key === 'blackouts' && place(e.field ?? []).window === undefined)?.message;

  const pick = chosen ?? (target?.workflowId ? `w:${target.workflowId}` : target?.experimentId ? `e:${target.experimentId}` : null);
  const onSubmit = async () => {
    setSaveError(null);
    const common = {
      name,
      cron,
      timeZone,
      concurrencyPolicy: policy,
      startingDeadlineSeconds: deadline === '' ? null : Number(deadline),
      blackouts: toApi(windows),
      enabled,
      description,
    };
    let input: Record<string, unknown>;
    if (schedule) input = { id: schedule.id, ...common };
    else {
      if (!pick) return setSaveError({ __typename: 'local', code: 'invalid', message: 'pick the workflow or experiment to start', field: ['workflowId'] });
      input = { ...common, [pick.startsWith('w:') ? 'workflowId' : 'experimentId']: pick.slice(2) };
      if (common.startingDeadlineSeconds === null) delete input.startingDeadlineSeconds;
    }
    const res = await save({ input });
    const answer = res.data?.[schedule ? 'updateSchedule' : 'createSchedule'];
    const err = asHubError(answer);
    if (err) return setSaveError(err);
    if (answer) onSaved(answer as Schedule);
    else if (res.error) setSaveError({ __typename: 'local', code: 'error', message: res.error.message, field: [] });
  };

  const setWindow = (i: number, w: Partial<Window>) => setWindows((ws) => ws.map((x, j) => (j === i ? { ...x, ...w } : x)));
  const current = preview?.for === asked;
  return (
    <Stack gap="sm" data-testid="schedule-form">
      {target ? (
        <Text size="sm">
          Starts {target.workflowId ? 'workflow' : 'experiment'} <b>{target.name}</b>.
        </Text>
      ) : schedule ? (
        <Text size="sm">
          Starts {schedule.workflowId ? 'workflow' : 'experiment'} <b>{schedule.targetName ?? '(deleted)'}</b>.
        </Text>
      ) : (
        <Select
          label="Starts"
          placeholder="a saved workflow or experiment"
          searchable
          data={[
            { group: 'Workflows', items: (targets?.workflows ?? []).map((w) => ({ value: `w:${w.id}`, label: w.name })) },
            { group: 'Experiments', items: (targets?.experiments ?? []).map((e) => ({ value: `e:${e.id}`, label: e.name })) },
          ]}
          value={pick}
          onChange={setChosen}
          error={errorFor('target')}
          data-testid="schedule-target"
        />
      )}
      <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={errorFor('name')} required data-testid="schedule-name" />
      <div>
        <TextInput
          label="Cron"
          description="5 fields (minute hour day month weekday), @hourly, @daily, @weekly, @monthly, @yearly, or @every 90s / 5m / 1h30m"
          value={cron}
          onChange={(e) => setCron(e.currentTarget.value)}
          error={errorFor('cron')}
          styles={{ input: { fontFamily: 'monospace' } }}
          required
          data-testid="schedule-cron"
        />
        <Group gap={4} mt={4}>
          {PRESETS.map((p) => (
            <Button key={p} size="compact-xs" variant="default" onClick={() => setCron(p)} ff="monospace">
              {p}
            </Button>
          ))}
        </Group>
      </div>
      <Select label="Time zone" description="cron is read on this zone's wall clock; @every ignores zones" data={zoneList} value={timeZone} onChange={(v) => setTimeZone(v ?? 'UTC')} searchable error={errorFor('timeZone')} data-testid="schedule-zone" />
      <Paper withBorder p="xs" data-testid="next-fire-times" data-valid={current && !preview?.error ? 'true' : current ? 'false' : ''}>
        <Group gap={6} mb={4}>
          <IconClockPlay size={16} />
          <Text size="sm" fw={600}>
            Next fire times
          </Text>
          {!current && (
            <Badge size="xs" variant="light" color="gray">
              checking…
            </Badge>
          )}
        </Group>
        {preview?.error ? (
          <Text size="sm" c="red">
            {preview.error.message}
          </Text>
        ) : preview?.times.length ? (
          <Stack gap={0}>
            {preview.times.map((t) => (
              <Text size="sm" key={t} ff="monospace" data-testid="next-fire-time">
                {inZone(t, timeZone)}{' '}
                <Text span size="xs" c="dimmed" ff="inherit">
                  ({fromNow(t)})
                </Text>
              </Text>
            ))}
          </Stack>
        ) : (
          <Text size="sm" c="dimmed">
            {current ? 'Never: every tick falls in a blackout window.' : '…'}
          </Text>
        )}
      </Paper>
      <div>
        <Text size="sm" fw={500}>
          Concurrency policy
        </Text>
        <SegmentedControl value={policy} onChange={(v) => setPolicy(v as ConcurrencyPolicy)} data={POLICIES.map((p) => ({ value: p.value, label: p.label }))} data-testid="schedule-policy" />
        <Text size="xs" c={errorFor('concurrencyPolicy') ? 'red' : 'dimmed'}>
          {errorFor('concurrencyPolicy') ?? POLICIES.find((p) => p.value === policy)?.help}
        </Text>
      </div>
      <NumberInput
        label="Starting deadline (s)"
        description="a start missed by more than this (the hub was down) is skipped and recorded, never fired late"
        value={deadline}
        onChange={setDeadline}
        clampBehavior="none"
        error={errorFor('startingDeadlineSeconds')}
        data-testid="schedule-deadline"
      />
      <div>
        <Group justify="space-between" gap="xs">
          <div>
            <Text size="sm" fw={500}>
              Blackout windows
            </Text>
            <Text size="xs" c="dimmed">
              No start inside: whole days, or a time range (22:00–06:00 runs past midnight), in the schedule’s time zone.
            </Text>
          </div>
          <Button size="xs" variant="light" leftSection={<IconPlus size={14} />} onClick={() => setWindows((ws) => [...ws, { days: [], start: '', end: '' }])} data-testid="add-blackout">
            Add window
          </Button>
        </Group>
        {blackoutsError && (
          <Text size="xs" c="red">
            {blackoutsError}
          </Text>
        )}
        <Stack gap="xs" mt="xs">
          {windows.map((w, i) => (
            <Paper key={i} withBorder p="xs" data-testid="blackout" data-index={i}>
              <Group justify="space-between" align="flex-start" gap="xs" wrap="nowrap">
                <Stack gap={6} style={{ flex: 1, minWidth: 0 }}>
                  <Chip.Group multiple value={w.days} onChange={(days) => setWindow(i, { days })}>
                    <Group gap={4}>
                      {DAYS.map((d) => (
                        <Chip key={d} value={d} size="xs">
                          {d}
                        </Chip>
                      ))}
                    </Group>
                  </Chip.Group>
                  {errorFor('blackouts', i, 'days') && (
                    <Text size="xs" c="red">
                      {errorFor('blackouts', i, 'days')}
                    </Text>
                  )}
                  <Group gap="xs" grow>
                    <TextInput size="xs" label="From" placeholder="22:00" value={w.start} onChange={(e) => setWindow(i, { start: e.currentTarget.value })} error={errorFor('blackouts', i, 'start')} aria-label={`Window ${i + 1} from`} />
                    <TextInput size="xs" label="To" placeholder="06:00" value={w.end} onChange={(e) => setWindow(i, { end: e.currentTarget.value })} error={errorFor('blackouts', i, 'end')} aria-label={`Window ${i + 1} to`} />
                  </Group>
                </Stack>
                <ActionIcon variant="subtle" color="red" onClick={() => setWindows((ws) => ws.filter((_, j) => j !== i))} aria-label={`Remove window ${i + 1}`}>
                  <IconTrash size={16} />
                </ActionIcon>
              </Group>
            </Paper>
          ))}
        </Stack>
      </div>
      <Switch label={schedule ? 'Enabled' : 'Enabled (off: saved paused)'} checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} data-testid="schedule-enabled" />
      <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} autosize minRows={1} error={errorFor('description')} />
      {elsewhere && <ErrorAlert hubError={elsewhere} />}
      {saveError && place(saveError.field ?? []).key && (
        <Alert color="red" p="xs" role="alert" data-testid="save-refused">
          <Text size="sm">Not saved: {saveError.message}</Text>
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onCancel}>
          Cancel
        </Button>
        <Button onClick={onSubmit} loading={saving} data-testid="save-schedule">
          {schedule ? 'Save' : 'Create schedule'}
        </Button>
      </Group>
    </Stack>
  );
}

/** The form in a dialog, full screen on a phone. */
export function ScheduleModal({ opened, onClose, ...props }: { opened: boolean; onClose: () => void; target?: ScheduleTarget; schedule?: Schedule; onSaved: (s: Schedule) => void }) {
  const phone = useMediaQuery('(max-width: 600px)');
  return (
    <Modal opened={opened} onClose={onClose} title={<Title order={4}>{props.schedule ? `Edit ${props.schedule.name}` : 'New schedule'}</Title>} size="lg" fullScreen={!!phone}>
      {opened && <ScheduleForm {...props} onCancel={onClose} />}
    </Modal>
  );
}
