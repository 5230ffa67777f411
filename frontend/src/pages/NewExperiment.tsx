import {
  Alert,
  Anchor,
  Badge,
  Button,
  Grid,
  Group,
  JsonInput,
  Loader,
  NumberInput,
  Paper,
  SegmentedControl,
  Select,
  Skeleton,
  Stack,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import type { ErrorSchema } from '@rjsf/utils';
import { IconDeviceFloppy, IconPlayerPlay } from '@tabler/icons-react';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { useClient, useMutation, useQuery } from 'urql';
import { asHubError, errorText } from '../api/client';
import { CREATE_EXPERIMENT, DISCOVER, NEW_EXPERIMENT_DATA, START_RUN } from '../api/documents';
import type { Backend, DiscoveredTarget, FaultType, HubError, JsonObject } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { FaultBadges } from '../components/FaultBadges';
import { SchemaForm, errorSchemaFor, type SchemaFormHandle } from '../components/SchemaForm';
import { durationError } from '../duration';
import { useTargetSuggestions, withSuggestions } from '../suggestions';

type Data = { faultTypes: FaultType[]; backends: Pick<Backend, 'id' | 'name' | 'adapter'>[] };

type Preview =
  | { state: 'idle' | 'loading' }
  | { state: 'ok'; targets: DiscoveredTarget[] }
  | { state: 'error'; message: string; field: string[] };

const FIELD_NAMES: Record<string, string> = {
  params: 'Parameters',
  selector: 'Selector',
  name: 'Name',
  durationSeconds: 'Duration',
  backend: 'Backend',
};

function hasFields(schema: FaultType['selector'] | FaultType['params']): boolean {
  return Object.keys(schema.properties ?? {}).length > 0;
}

function parseJson(text: string): JsonObject | null {
  try {
    const value = JSON.parse(text || '{}');
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : null;
  } catch {
    return null;
  }
}

/** Pick a fault and a backend, build the selector with a live preview of the targets it
 * matches, fill the generated parameter form, then save and/or start. */
export function NewExperimentPage() {
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const client = useClient();
  const canOperate = useCan('operator');
  const [{ data, fetching, error }] = useQuery<Data>({ query: NEW_EXPERIMENT_DATA });

  const [faultId, setFaultId] = useState<string | null>(search.get('fault'));
  const [backend, setBackend] = useState<string | null>(null);
  const [selectorMode, setSelectorMode] = useState<'form' | 'json'>('form');
  const [selector, setSelector] = useState<JsonObject>({});
  const [selectorText, setSelectorText] = useState('{\n  \n}');
  const [params, setParams] = useState<JsonObject>({});
  const [duration, setDuration] = useState<number | string>(60);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [refusal, setRefusal] = useState<HubError | null>(null);
  const [preview, setPreview] = useState<Preview>({ state: 'idle' });
  // The adapter's verdict on the selector waits until the user has written one.
  const [selectorTouched, setSelectorTouched] = useState(false);
  const paramsForm = useRef<SchemaFormHandle>(null);
  const selectorInput = useRef<HTMLTextAreaElement>(null);

  const [createResult, create] = useMutation(CREATE_EXPERIMENT);
  const [startResult, start] = useMutation(START_RUN);
  const busy = createResult.fetching || startResult.fetching;
  const networkError = createResult.error ?? startResult.error;

  const fault = data?.faultTypes.find((f) => f.id === faultId) ?? null;
  const backends = useMemo(() => (data?.backends ?? []).filter((b) => b.adapter === fault?.adapter), [data, fault]);
  const structuredSelector = fault ? hasFields(fault.selector) : false;
  const mode = structuredSelector ? selectorMode : 'json';
  const selectorValue = mode === 'json' ? parseJson(selectorText) : selector;

  // A new fault: fresh parameters (the form fills in defaults) and its first backend.
  useEffect(() => {
    setParams({});
    setRefusal(null);
    setSelector({});
    setSelectorText('{\n  \n}');
    setSelectorTouched(false);
  }, [faultId]);
  useEffect(() => {
    if (backends.length && !backends.some((b) => b.name === backend)) setBackend(backends[0].name);
    if (!backends.length) setBackend(null);
  }, [backends, backend]);

  // The live preview: ask the adapter which targets the selector matches now.
  const probe = useMemo(
    () => (fault && backend && selectorValue && selectorTouched ? JSON.stringify({ faultType: fault.id, backend, selector: selectorValue }) : null),
    [fault, backend, selectorValue, selectorTouched],
  );
  const suggestions = useTargetSuggestions(fault?.id ?? null, backend, fault?.selector, selector);
  const selectorSchema = useMemo(() => (fault ? withSuggestions(fault.selector, suggestions) : null), [fault, suggestions]);
  const [debounced] = useDebouncedValue(probe, 400);
  useEffect(() => {
    if (!debounced) {
      setPreview({ state: 'idle' });
      return;
    }
    let cancelled = false;
    setPreview({ state: 'loading' });
    client
      .query(DISCOVER, { input: JSON.parse(debounced) }, { requestPolicy: 'network-only' })
      .toPromise()
      .then((res) => {
        if (cancelled) return;
        const answer = res.data?.discoverTargets;
        const err = asHubError(answer);
        if (res.error) setPreview({ state: 'error', message: errorText(res.error) ?? 'error', field: [] });
        else if (err) setPreview({ state: 'error', message: err.message, field: err.field });
        else setPreview({ state: 'ok', targets: answer?.targets ?? [] });
      });
    return () => {
      cancelled = true;
    };
  }, [debounced, client]);

  const field = refusal?.field ?? [];
  const paramErrors: ErrorSchema | undefined =
    refusal && field[0] === 'params' && field.length > 1 ? errorSchemaFor(field.slice(1), refusal.message) : undefined;
  const fieldError = (key: string) => (refusal && field[0] === key ? refusal.message : undefined);
  const generalRefusal = refusal && !['params', 'selector', 'name', 'durationSeconds', 'backend'].includes(field[0] ?? '') ? refusal : null;
  const paramsRefusalAtRoot = refusal && field[0] === 'params' && field.length === 1 ? refusal : null;

  const timed = fault?.timeControl !== 'instant';
  const durationValue = timed && duration !== '' ? Number(duration) : null;
  const durationProblem = fault && timed ? durationError(duration, fault) : null;
  // A selector the adapter refused while previewing is that field's error, shown there once.
  const selectorProblem =
    fieldError('selector') ??
    (mode === 'json' && !selectorValue ? 'not a JSON object: check the brackets, quotes and commas' : undefined) ??
    (preview.state === 'error' && preview.field[0] === 'selector' ? preview.message : undefined);

  function check(): boolean {
    setRefusal(null);
    const ok = paramsForm.current ? paramsForm.current.validateForm() : true;
    if (!ok) {
      setRefusal({ __typename: 'local', code: 'INVALID_INPUT', message: 'Some parameters are not valid: fix the fields marked in red.', field: ['params'] });
      return false;
    }
    if (!selectorValue) {
      setRefusal({ __typename: 'local', code: 'INVALID_INPUT', message: 'not a JSON object: check the brackets, quotes and commas', field: ['selector'] });
      selectorInput.current?.focus();
      selectorInput.current?.scrollIntoView({ block: 'center' });
      return false;
    }
    if (durationProblem) return false;
    return true;
  }

  const spec = () => ({
    faultType: fault!.id,
    backend,
    params,
    selector: selectorValue,
    durationSeconds: durationValue,
  });

  async function saveExperiment(): Promise<string | null> {
    if (!name.trim()) {
      setRefusal({ __typename: 'local', code: 'INVALID_INPUT', message: 'Give the experiment a name to save it.', field: ['name'] });
      return null;
    }
    const res = await create({ input: { ...spec(), name: name.trim(), description } });
    const answer = res.data?.createExperiment;
    const err = asHubError(answer);
    if (err) {
      setRefusal(err);
      return null;
    }
    return answer?.id ?? null;
  }

  async function startWith(input: object) {
    const res = await start({ input });
    const answer = res.data?.startRun;
    const err = asHubError(answer);
    if (err) setRefusal(err);
    else if (answer?.id) navigate(`/runs/${answer.id}`);
  }

  const onSave = async () => {
    if (!check()) return;
    const id = await saveExperiment();
    if (id) {
      notifications.show({ color: 'green', message: `Experiment ${name.trim()} saved` });
      navigate('/experiments');
    }
  };
  const onSaveAndStart = async () => {
    if (!check()) return;
    const id = await saveExperiment();
    if (id) await startWith({ experimentId: id });
  };
  const onStart = async () => {
    if (!check()) return;
    await startWith(spec());
  };

  if (fetching && !data) return <Skeleton h={400} />;
  if (error) return <ErrorAlert error={error} title="Could not load faults and backends" />;

  const faultOptions = Object.entries(
    (data?.faultTypes ?? []).reduce<Record<string, { value: string; label: string }[]>>((acc, f) => {
      (acc[f.adapter] ??= []).push({ value: f.id, label: `${f.title} (${f.id})` });
      return acc;
    }, {}),
  ).map(([group, items]) => ({ group, items }));

  return (
    <Stack maw={1200}>
      <div>
        <Title order={2}>New experiment</Title>
        <Text c="dimmed" size="sm">
          Pick a fault, point it at targets, set its parameters and duration — then start it now or save it for later.
        </Text>
      </div>
      {!canOperate && <Alert color="gray">Your role can look but not start or save experiments.</Alert>}

      <Paper withBorder p="md">
        <Stack>
          <Title order={4}>1. Fault</Title>
          <Select
            label="Fault type"
            placeholder="search the catalog"
            searchable
            data={faultOptions}
            value={faultId}
            onChange={setFaultId}
            nothingFoundMessage="no fault matches"
            data-testid="fault-select"
            maxDropdownHeight={360}
          />
          {fault && (
            <>
              <FaultBadges fault={fault} />
              <Text size="sm" c="dimmed">
                {fault.description}{' '}
                <Anchor component={Link} to={`/catalog/${fault.id}`} size="sm">
                  details
                </Anchor>
              </Text>
            </>
          )}
        </Stack>
      </Paper>

      {fault && (
        <>
          <Paper withBorder p="md">
            <Stack>
              <Title order={4}>2. Backend and targets</Title>
              {backends.length ? (
                <Select
                  label="Backend"
                  description={`a configured ${fault.adapter} backend`}
                  data={backends.map((b) => b.name)}
                  value={backend}
                  onChange={setBackend}
                  error={fieldError('backend')}
                  allowDeselect={false}
                  data-testid="backend-select"
                />
              ) : (
                <Alert color="orange" title={`No ${fault.adapter} backend`}>
                  An admin must add one on{' '}
                  <Anchor component={Link} to="/fleet">
                    Agents & backends
                  </Anchor>{' '}
                  before this fault can run.
                </Alert>
              )}
              <Grid>
                <Grid.Col span={{ base: 12, md: 7 }}>
                  <Group justify="space-between" mb={4}>
                    <Text fw={500} size="sm">
                      Selector
                    </Text>
                    {structuredSelector && (
                      <SegmentedControl
                        size="xs"
                        value={mode}
                        onChange={(v) => {
                          if (v === 'json') setSelectorText(JSON.stringify(selector, null, 2));
                          else setSelector(parseJson(selectorText) ?? {});
                          setSelectorMode(v as 'form' | 'json');
                        }}
                        data={[
                          { value: 'form', label: 'Form' },
                          { value: 'json', label: 'JSON' },
                        ]}
                      />
                    )}
                  </Group>
                  {fault.selector.description ? (
                    <Text size="xs" c="dimmed" mb={4}>
                      {String(fault.selector.description)}
                    </Text>
                  ) : null}
                  {mode === 'form' ? (
                    <SchemaForm
                      key={fault.id}
                      idPrefix="selector"
                      schema={selectorSchema ?? fault.selector}
                      value={selector}
                      onChange={(v) => {
                        setSelector(v);
                        setSelectorTouched(true);
                      }}
                      defaults="required"
                    />
                  ) : (
                    <JsonInput
                      aria-label="Selector (JSON)"
                      description={structuredSelector ? undefined : 'This adapter publishes no selector schema; write it as JSON, e.g. {"names": ["alpha"]}'}
                      value={selectorText}
                      onChange={(text) => {
                        setSelectorText(text);
                        setSelectorTouched(true);
                        if (refusal?.field[0] === 'selector') setRefusal(null);  // stale once edited
                      }}
                      error={selectorProblem}
                      ref={selectorInput}
                      formatOnBlur
                      autosize
                      minRows={4}
                      data-testid="selector-json"
                    />
                  )}
                  {mode === 'form' && selectorProblem && (
                    <Text c="red" size="sm" mt={4} role="alert">
                      {selectorProblem}
                    </Text>
                  )}
                </Grid.Col>
                <Grid.Col span={{ base: 12, md: 5 }}>
                  <Paper bg="gray.0" p="sm" data-testid="discover-preview" aria-live="polite">
                    <Text fw={500} size="sm" mb={6}>
                      Targets it matches now
                    </Text>
                    {preview.state === 'idle' && <Text size="sm" c="dimmed">Choose a backend and fill the selector.</Text>}
                    {preview.state === 'loading' && <Loader size="sm" />}
                    {preview.state === 'error' &&
                      (preview.field[0] === 'selector' ? (
                        <Text size="sm" c="dimmed">
                          The selector is refused: see its field.
                        </Text>
                      ) : (
                        <Text size="sm" c="red">
                          {preview.message}
                        </Text>
                      ))}
                    {preview.state === 'ok' && (
                      <Stack gap={6}>
                        <Text size="sm">
                          {preview.targets.length} target{preview.targets.length === 1 ? '' : 's'}
                        </Text>
                        <Group gap={6}>
                          {preview.targets.map((t) => (
                            <Badge key={t.id} variant="light" tt="none" data-testid="preview-target" title={t.id}>
                              {t.label}
                            </Badge>
                          ))}
                        </Group>
                      </Stack>
                    )}
                  </Paper>
                </Grid.Col>
              </Grid>
            </Stack>
          </Paper>

          <Paper withBorder p="md">
            <Stack>
              <Title order={4}>3. Parameters</Title>
              {hasFields(fault.params) ? (
                <SchemaForm
                  key={fault.id}
                  idPrefix="params"
                  schema={fault.params}
                  value={params}
                  onChange={setParams}
                  extraErrors={paramErrors}
                  formRef={paramsForm}
                />
              ) : (
                <Text c="dimmed" size="sm">
                  This fault takes no parameters.
                </Text>
              )}
              {paramsRefusalAtRoot?.__typename !== 'local' && <ErrorAlert hubError={paramsRefusalAtRoot} />}
              {timed ? (
                <NumberInput
                  label="Duration"
                  description={
                    (fault.timeControl === 'timed'
                      ? 'how long the hub holds the fault before recovering it'
                      : 'passed to the tool, which runs to its own end') +
                    (fault.maxDurationSeconds != null
                      ? ` (this tool takes ${fault.minDurationSeconds ?? 1}–${fault.maxDurationSeconds} s)`
                      : '')
                  }
                  withAsterisk={fault.durationRequired}
                  rightSection={<Text size="xs">s</Text>}
                  clampBehavior="none"
                  value={duration}
                  onChange={setDuration}
                  error={durationProblem ?? fieldError('durationSeconds')}
                  w={260}
                  data-testid="duration"
                />
              ) : (
                <Text size="sm" c="dimmed">
                  Instant fault: applied once, nothing to hold or recover.
                </Text>
              )}
            </Stack>
          </Paper>

          <Paper withBorder p="md">
            <Stack>
              <Title order={4}>4. Save and/or start</Title>
              <Group grow align="flex-start">
                <TextInput
                  label="Name"
                  description="needed to save; letters, digits, '.', '_' or '-'"
                  value={name}
                  onChange={(e) => setName(e.currentTarget.value)}
                  error={fieldError('name')}
                  data-testid="experiment-name"
                />
                <Textarea
                  label="Description"
                  description="the hypothesis, for whoever reads the run later"
                  value={description}
                  onChange={(e) => setDescription(e.currentTarget.value)}
                  autosize
                  minRows={1}
                />
              </Group>
              <ErrorAlert hubError={generalRefusal} />
              <ErrorAlert error={networkError} />
              {refusal && !generalRefusal && (
                <Text c="red" size="sm" role="alert" data-testid="refusal">
                  {refusal.__typename === 'local' ? 'Not sent' : 'Refused by the hub'}:{' '}
                  {`fix what is marked in red (${FIELD_NAMES[refusal.field[0] ?? ''] ?? refusal.field.join('.')})`}
                </Text>
              )}
              <Group>
                <Button
                  leftSection={<IconPlayerPlay size={16} />}
                  onClick={onSaveAndStart}
                  loading={busy}
                  disabled={!canOperate || !backend || !!durationProblem}
                  data-testid="save-and-start"
                >
                  Save and start
                </Button>
                <Button
                  variant="light"
                  leftSection={<IconDeviceFloppy size={16} />}
                  onClick={onSave}
                  loading={busy}
                  disabled={!canOperate || !backend || !!durationProblem}
                  data-testid="save"
                >
                  Save
                </Button>
                <Button variant="default" onClick={onStart} loading={busy} disabled={!canOperate || !backend || !!durationProblem} data-testid="start-now">
                  Start without saving
                </Button>
              </Group>
            </Stack>
          </Paper>
        </>
      )}
    </Stack>
  );
}
