import { Alert, Anchor, Badge, Button, Code, Group, List, Modal, Paper, Skeleton, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { IconHandStop, IconPlayerPause, IconPlayerPlay, IconRepeat } from '@tabler/icons-react';
import { lazy, Suspense, useCallback, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { stringify } from 'yaml';
import { asHubError } from '../api/client';
import { ABORT_THRESHOLD_SEARCH, band, num, objectivesOf, OUTCOME_COLOR, PAUSE_THRESHOLD_SEARCH, RESUME_THRESHOLD_SEARCH, THRESHOLD_SEARCH, varied, type ThresholdSearch } from '../api/thresholds';
import { TERMINAL, type HubError, type JsonSchema } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { PhaseBadge } from '../components/PhaseBadge';
import { dateTime, shortId, span, unitOf } from '../format';
import { useLiveRefresh } from '../live';

// the charting library is loaded only when a search page shows its charts
const ObjectiveCharts = lazy(() => import('../components/thresholds/ObjectiveCharts'));

const SHORT: Record<string, string> = { milliseconds: 'ms', seconds: 's', minutes: 'min', percent: '%', bytes: 'B', kilobytes: 'KB', megabytes: 'MB', gigabytes: 'GB' };

const PARAMS = `query FaultParams($id: ID!) { faultType(id: $id) { id params } }`;

function OutcomeBadge({ outcome }: { outcome: string }) {
  const color = outcome === 'held' ? 'green' : outcome === 'broke' ? 'red' : 'gray';
  return (
    <Badge color={color} variant={outcome === 'held' || outcome === 'broke' ? 'filled' : 'outline'} data-testid="trial-outcome">
      {outcome}
    </Badge>
  );
}

function BandPanel({ search, unit }: { search: ThresholdSearch; unit: string }) {
  const { heldMax, brokeMin } = band(search);
  const v = varied(search.document);
  const u = unit ? ` ${unit}` : '';
  const r = search.result;
  const done = TERMINAL.includes(search.phase);
  const width = heldMax != null && brokeMin != null ? Math.abs(brokeMin - heldMax) : null;
  let headline: string;
  if (heldMax != null && brokeMin != null) headline = `between ${num(heldMax)} and ${num(brokeMin)}${u}`;
  else if (heldMax != null) headline = done ? `held up to ${num(heldMax)}${u}, the highest tried` : `held up to ${num(heldMax)}${u} so far`;
  else if (brokeMin != null) headline = done ? `broke already at ${num(brokeMin)}${u}, the lowest tried` : `broke at ${num(brokeMin)}${u} so far`;
  else headline = done ? 'no trial decided' : 'no trial decided yet';
  const color = r ? (r.found && !r.noisy.length ? 'green' : 'orange') : 'gray';
  return (
    <Paper withBorder p="md" data-testid="threshold-band" data-held-max={heldMax ?? ''} data-broke-min={brokeMin ?? ''} data-found={r ? String(r.found) : ''}>
      <Group justify="space-between" align="flex-start" gap="xs">
        <div style={{ minWidth: 0 }}>
          <Text size="xs" tt="uppercase" fw={700} c="dimmed">
            Threshold of {search.param}
          </Text>
          <Title order={3} data-testid="band-headline" style={{ wordBreak: 'break-word' }}>
            {headline}
          </Title>
          {width != null && (
            <Text size="sm" c="dimmed">
              the highest magnitude that held every objective and the lowest that broke one: a band {num(width)}
              {u} wide{v.resolution != null ? ` (resolution ${num(v.resolution)}${u})` : ''}
            </Text>
          )}
        </div>
        <Group gap={6} display={heldMax == null && brokeMin == null ? 'none' : undefined}>
          <Badge size="lg" variant="light" color="green" data-testid="band-held">
            held ≤ {num(heldMax)}
          </Badge>
          <Badge size="lg" variant="light" color="red" data-testid="band-broke">
            broke ≥ {num(brokeMin)}
          </Badge>
        </Group>
      </Group>
      {r && (
        <Alert mt="sm" color={color} p="xs" data-testid="result-message">
          <Text size="sm">{r.message}</Text>
          <Text size="xs" c="dimmed">
            {r.trials} trial{r.trials === 1 ? '' : 's'} of at most {r.expectedTrials}
          </Text>
          {r.noisy.length > 0 && (
            <List size="sm" mt={4} data-testid="noisy">
              {r.noisy.map((n, i) => (
                <List.Item key={i}>{n}</List.Item>
              ))}
            </List>
          )}
        </Alert>
      )}
    </Paper>
  );
}

type Action = 'pause' | 'resume' | 'abort';

const ACTIONS: Record<Action, { doc: string; field: string; title: string; body: string; confirm: string; color: string }> = {
  pause: {
    doc: PAUSE_THRESHOLD_SEARCH,
    field: 'pauseThresholdSearch',
    title: 'Pause this threshold search?',
    body: 'No next trial starts. A trial under way is interrupted and its fault recovered; its magnitude is tried again from scratch on resume.',
    confirm: 'Pause search',
    color: 'blue',
  },
  resume: {
    doc: RESUME_THRESHOLD_SEARCH,
    field: 'resumeThresholdSearch',
    title: 'Resume this threshold search?',
    body: 'The interrupted trial (if any) is run again from scratch, then the search goes on.',
    confirm: 'Resume search',
    color: 'orange',
  },
  abort: {
    doc: ABORT_THRESHOLD_SEARCH,
    field: 'abortThresholdSearch',
    title: 'Abort this threshold search?',
    body: 'The current trial stops now and its fault is recovered; no further trial starts. The trials so far and their band stay.',
    confirm: 'Abort search',
    color: 'red',
  },
};

function SearchActions({ search, onDone }: { search: ThresholdSearch; onDone: () => void }) {
  const [action, setAction] = useState<Action | null>(null);
  const [reason, setReason] = useState('');
  const [hubError, setHubError] = useState<HubError | null>(null);
  const [{ fetching, error }, execute] = useMutation(action ? ACTIONS[action].doc : ABORT_THRESHOLD_SEARCH);
  const open = (a: Action) => {
    setHubError(null);
    setReason('');
    setAction(a);
  };
  const confirm = async () => {
    if (!action) return;
    setHubError(null);
    const res = await execute(action === 'abort' ? { id: search.id, reason: reason || 'aborted from the console' } : { id: search.id });
    const answer = res.data?.[ACTIONS[action].field];
    const err = asHubError(answer);
    if (err) return setHubError(err);
    if (answer) {
      setAction(null);
      onDone();
    }
  };
  const info = action ? ACTIONS[action] : null;
  return (
    <>
      {search.desiredState === 'run' && (
        <Button variant="light" color="blue" leftSection={<IconPlayerPause size={16} />} onClick={() => open('pause')} data-testid="pause-search">
          Pause
        </Button>
      )}
      {search.desiredState === 'pause' && (
        <Button variant="light" color="orange" leftSection={<IconPlayerPlay size={16} />} onClick={() => open('resume')} data-testid="resume-search">
          Resume
        </Button>
      )}
      {search.desiredState !== 'stop' && (
        <Button color="red" leftSection={<IconHandStop size={16} />} onClick={() => open('abort')} data-testid="abort-search">
          Abort
        </Button>
      )}
      <Modal opened={!!action} onClose={() => setAction(null)} title={info?.title}>
        {info && (
          <Stack>
            <Text>{info.body}</Text>
            {action === 'abort' && <TextInput label="Reason" placeholder="optional, recorded with your name" value={reason} onChange={(e) => setReason(e.currentTarget.value)} data-autofocus />}
            <ErrorAlert error={error} hubError={hubError} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setAction(null)}>
                Cancel
              </Button>
              <Button color={info.color} onClick={confirm} loading={fetching} data-testid="confirm-action">
                {info.confirm}
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}

export function ThresholdSearchPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const canOperate = useCan('operator');
  const [{ data, fetching, error }, refetch] = useQuery<{ thresholdSearch: ThresholdSearch | null }>({ query: THRESHOLD_SEARCH, variables: { id }, requestPolicy: 'cache-and-network' });
  const search = data?.thresholdSearch ?? null;
  const active = !!search && !TERMINAL.includes(search.phase);
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  // followed live: every event the hub writes (trials' workflow runs included) and a poll
  useLiveRefresh(refresh, { pollMs: active ? 2000 : 60000 });
  const faultType = search ? varied(search.document).faultType : '';
  const [{ data: fault }] = useQuery<{ faultType: { id: string; params: JsonSchema } | null }>({ query: PARAMS, variables: { id: faultType }, pause: !faultType });

  if (fetching && !search) return <Skeleton h={400} />;
  if (error && !search) return <ErrorAlert error={error} title="Could not load this threshold search" />;
  if (!search) return <Text>There is no threshold search {id}.</Text>;

  const v = varied(search.document);
  const prop = fault?.faultType?.params?.properties?.[search.param];
  const long = unitOf(search.param, prop?.description);
  const unit = SHORT[long.toLowerCase()] ?? long;
  const b = band(search);
  const objectives = objectivesOf(search);
  const range: [number, number] | null = v.from != null && v.to != null ? [Math.min(v.from, v.to), Math.max(v.from, v.to)] : null;
  const trials = search.trials.map((t, i) => ({ ...t, n: i + 1 }));
  return (
    <Stack maw={1400} data-testid="threshold-search" data-phase={search.phase}>
      <Group justify="space-between" align="flex-start">
        <div style={{ minWidth: 0 }}>
          <Anchor component={Link} to="/threshold-searches" size="sm">
            ← Threshold searches
          </Anchor>
          <Title order={2} style={{ wordBreak: 'break-word' }}>
            {search.name}
          </Title>
          <Group gap="xs" mt={4}>
            <PhaseBadge phase={search.phase} size="lg" />
            {search.desiredState === 'stop' && active && (
              <Badge color="red" variant="outline">
                stopping
              </Badge>
            )}
            <Badge variant="outline" color="gray" data-testid="trial-count">
              {search.trials.length} / {search.expectedTrials} trials
            </Badge>
          </Group>
          <Text size="sm" c="dimmed" mt={4} style={{ wordBreak: 'break-word' }}>
            <Code>{v.faultType}</Code> on {v.backend} · {search.param} from {num(v.from)} to {num(v.to)}
            {unit ? ` ${unit}` : ''} · {search.strategy === 'bisect' ? `bisect to within ${num(v.resolution)}` : `linear, step ${num(v.step)}`} · started by {search.createdBy} at {dateTime(search.createdAt)} · wall time{' '}
            <span data-testid="wall-time">{span(search.createdAt, search.endedAt)}</span>
            {active ? ' so far' : ''}
          </Text>
        </div>
        <Group gap="xs">
          {canOperate && (
            <Button variant="default" leftSection={<IconRepeat size={16} />} onClick={() => navigate('/threshold-searches/new', { state: { yaml: stringify(search.document) } })} data-testid="edit-as-new">
              Edit as new
            </Button>
          )}
          {canOperate && active && <SearchActions search={search} onDone={refresh} />}
        </Group>
      </Group>

      {search.phase === 'paused' && (
        <Alert color="blue" variant="light" p="xs" data-testid="paused">
          Paused: no trial starts until it is resumed
          {search.currentMagnitude != null ? `; the trial at ${search.param} = ${num(search.currentMagnitude)}${unit ? ` ${unit}` : ''} was interrupted and is run again from scratch on resume` : ''}.
        </Alert>
      )}
      {active && search.phase !== 'paused' && search.currentMagnitude != null && (
        <Alert color="orange" variant="light" p="xs" data-testid="current-trial">
          Trial {search.trials.length + 1} running at {search.param} = {num(search.currentMagnitude)}
          {unit ? ` ${unit}` : ''}
          {search.currentWorkflowRunId && (
            <>
              {' · '}
              <Anchor component={Link} to={`/workflow-runs/${search.currentWorkflowRunId}`} size="sm">
                its workflow run
              </Anchor>
            </>
          )}
        </Alert>
      )}

      <BandPanel search={search} unit={unit} />

      <Suspense fallback={<Skeleton h={260} />}>
        <ObjectiveCharts search={search} heldMax={b.heldMax} brokeMin={b.brokeMin} range={range} unit={unit} current={active && search.phase !== 'paused' ? search.currentMagnitude : null} />
      </Suspense>

      <Paper withBorder p="md">
        <Title order={4} mb="xs">
          Trials
        </Title>
        {trials.length > 0 && (
          <Table.ScrollContainer minWidth={640 + objectives.length * 110} type="native">
            <Table verticalSpacing={4} data-testid="trials-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>#</Table.Th>
                  <Table.Th>
                    {search.param}
                    {unit ? ` (${unit})` : ''}
                  </Table.Th>
                  <Table.Th>Verdict</Table.Th>
                  {objectives.map((o) => (
                    <Table.Th key={`${o.probe}:${o.metric}`}>
                      <Text size="sm" fw={700} style={{ whiteSpace: 'nowrap' }}>
                        {o.metric}
                      </Text>
                      <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {o.probe} {o.comparator} {num(o.target)}
                      </Text>
                    </Table.Th>
                  ))}
                  <Table.Th>Samples</Table.Th>
                  <Table.Th>Why</Table.Th>
                  <Table.Th>Workflow run</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {trials.map((t) => (
                  <Table.Tr key={t.n} data-testid="trial-row" data-magnitude={t.magnitude} data-outcome={t.outcome}>
                    <Table.Td>{t.n}</Table.Td>
                    <Table.Td>
                      <Text size="sm" ff="monospace" fw={600} c={OUTCOME_COLOR[t.outcome]}>
                        {num(t.magnitude)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <OutcomeBadge outcome={t.outcome} />
                    </Table.Td>
                    {objectives.map((o) => {
                      const value = t.slo.find((s) => s.probe === o.probe)?.objectives.find((x) => x.metric === o.metric);
                      return (
                        <Table.Td key={`${o.probe}:${o.metric}`} data-testid="objective-value" data-objective={`${o.probe}:${o.metric}`}>
                          <Text size="sm" ff="monospace" c={value ? (value.held ? undefined : 'red') : 'dimmed'}>
                            {value ? num(value.value) : '—'}
                            {value && !value.held ? ' ✗' : ''}
                          </Text>
                        </Table.Td>
                      );
                    })}
                    <Table.Td>
                      <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                        {t.slo.map((s) => `${s.passed}/${s.samples}`).join(', ') || '—'}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{t.reason}</Text>
                    </Table.Td>
                    <Table.Td>
                      {t.workflowRunId ? (
                        <Anchor component={Link} to={`/workflow-runs/${t.workflowRunId}`} ff="monospace" size="sm" data-testid="trial-run">
                          {shortId(t.workflowRunId)}
                        </Anchor>
                      ) : (
                        '—'
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        {!trials.length && (
          <Text size="sm" c="dimmed">
            {search.phase === 'paused' ? 'No trial has finished yet.' : active ? 'The first trial is under way.' : 'No trial ran.'}
          </Text>
        )}
        <Text size="xs" c="dimmed" mt="xs">
          Samples: the SLO probe’s checks that passed / taken while the fault was in place.
        </Text>
      </Paper>

      {search.reasons.length > 0 && (
        <Paper withBorder p="md" data-testid="search-reasons">
          <Title order={5} mb={4}>
            How it went
          </Title>
          <List size="sm">
            {search.reasons.map((r, i) => (
              <List.Item key={i}>{r}</List.Item>
            ))}
          </List>
        </Paper>
      )}
    </Stack>
  );
}
