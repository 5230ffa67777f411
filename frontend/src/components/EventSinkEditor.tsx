import { Badge, Button, Group, Modal, NumberInput, PasswordInput, SegmentedControl, Stack, Switch, TagsInput, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { useMutation } from 'urql';
import { asHubError } from '../api/client';
import { CREATE_EVENT_SINK, UPDATE_EVENT_SINK, SECRET_SET, type EventSink } from '../api/eventSinks';
import type { HubError } from '../api/types';
import { ErrorAlert } from './ErrorText';

const KINDS = [
  { value: 'webhook', label: 'Webhook' },
  { value: 'kubernetes-events', label: 'Kubernetes Events' },
];
const FORMATS = [
  { value: 'cloudevents', label: 'CloudEvents' },
  { value: 'slack', label: 'Slack' },
];
/** The fields this form shows; an API error naming another field is shown above the buttons. */
const FIELDS = ['name', 'kind', 'url', 'format', 'secret', 'eventTypes', 'enabled', 'maxAttempts', 'maxAgeSeconds'];

/** A stored secret is never shown: it can be kept (sent as nothing), replaced, or cleared (null). */
type SecretMode = 'keep' | 'replace' | 'clear';

/** Add an event sink, or edit one (its kind stays). */
export function EventSinkEditor({ sink, onClose, onSaved }: { sink: EventSink | null; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(sink?.name ?? '');
  const [kind, setKind] = useState(sink?.kind ?? 'webhook');
  const [url, setUrl] = useState(sink?.url ?? '');
  const [format, setFormat] = useState(sink?.format ?? 'cloudevents');
  const stored = sink?.secret === SECRET_SET;
  const [secretMode, setSecretMode] = useState<SecretMode>(stored ? 'keep' : 'replace');
  const [secret, setSecret] = useState('');
  const [eventTypes, setEventTypes] = useState<string[]>(sink?.eventTypes ?? []);
  const [enabled, setEnabled] = useState(sink?.enabled ?? true);
  const [maxAttempts, setMaxAttempts] = useState<number | string>(sink?.maxAttempts ?? 10);
  const [maxAge, setMaxAge] = useState<number | string>(sink?.maxAgeSeconds ?? 86400);
  const [refusal, setRefusal] = useState<HubError | null>(null);
  const [createState, create] = useMutation(CREATE_EVENT_SINK);
  const [updateState, update] = useMutation(UPDATE_EVENT_SINK);
  const webhook = kind === 'webhook';

  const secretValue = (): string | null | undefined => {
    if (!webhook || secretMode === 'clear') return null;
    if (secretMode === 'keep') return undefined; // left out: the stored secret stays
    return secret === '' ? (sink ? undefined : null) : secret;
  };

  const save = async () => {
    setRefusal(null);
    const numbers = { maxAttempts: Number(maxAttempts), maxAgeSeconds: Number(maxAge) };
    for (const [field, n] of Object.entries(numbers)) {
      if (!Number.isFinite(n) || (field === 'maxAttempts' ? maxAttempts : maxAge) === '') {
        setRefusal({ __typename: 'local', code: 'INVALID_INPUT', message: 'a number is needed here', field: [field] });
        return;
      }
    }
    const fields = {
      name,
      url: webhook ? url : null,
      format,
      eventTypes,
      enabled,
      // What the person typed goes as typed: the hub names the field it refuses.
      ...numbers,
    };
    const value = secretValue();
    const withSecret = value === undefined ? fields : { ...fields, secret: value };
    const res = sink ? await update({ input: { id: sink.id, ...withSecret } }) : await create({ input: { kind, ...withSecret } });
    const answer = sink ? res.data?.updateEventSink : res.data?.createEventSink;
    const err = asHubError(answer);
    if (err) setRefusal(err);
    else if (answer) onSaved();
  };

  const on = (f: string) => (refusal?.field?.[0] === f ? refusal.message : undefined);
  const elsewhere = refusal && !FIELDS.includes(refusal.field?.[0] ?? '') ? refusal : null;
  return (
    <Modal opened onClose={onClose} title={sink ? `Edit event sink ${sink.name}` : 'Add an event sink'} size="lg">
      <Stack>
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={on('name')} data-autofocus data-testid="sink-name" />
        <Stack gap={4}>
          <Text fw={500} size="sm">
            Kind
          </Text>
          <SegmentedControl data={KINDS} value={kind} onChange={setKind} disabled={!!sink} data-testid="sink-kind" />
          {on('kind') && (
            <Text c="red" size="xs" role="alert">
              {on('kind')}
            </Text>
          )}
          {!webhook && (
            <Text c="dimmed" size="xs">
              Writes core/v1 Events on the cluster of each Litmus or Chaos Mesh run's backend, about the chaos object the run made.
            </Text>
          )}
        </Stack>
        {webhook && (
          <>
            <TextInput
              label="URL"
              description={
                sink?.url.endsWith('/…')
                  ? 'events are POSTed here; the path and query are never shown (they may hold the receiver\'s credential): leave it to keep the URL, or type a new one'
                  : 'events are POSTed here (http or https)'
              }
              placeholder="https://hooks.example.org/chaos"
              value={url}
              onChange={(e) => setUrl(e.currentTarget.value)}
              error={on('url')}
              data-testid="sink-url"
            />
            <Stack gap={4}>
              <Text fw={500} size="sm">
                Format
              </Text>
              <SegmentedControl data={FORMATS} value={format} onChange={setFormat} data-testid="sink-format" />
              <Text c="dimmed" size="xs">
                {format === 'slack' ? 'a Slack-compatible {"text": …} message' : 'CloudEvents 1.0, structured JSON'}
              </Text>
              {on('format') && (
                <Text c="red" size="xs" role="alert">
                  {on('format')}
                </Text>
              )}
            </Stack>
            <Stack gap={4} data-testid="sink-secret">
              <Group gap="xs">
                <Text fw={500} size="sm">
                  Signing secret
                </Text>
                {stored && secretMode === 'keep' && (
                  <Badge color="green" variant="light" data-testid="secret-set">
                    set
                  </Badge>
                )}
                {stored && secretMode === 'clear' && (
                  <Badge color="orange" variant="light">
                    removed on save
                  </Badge>
                )}
              </Group>
              {stored && (
                <Group gap="xs">
                  {secretMode !== 'replace' && (
                    <Button size="compact-xs" variant="light" onClick={() => setSecretMode('replace')}>
                      Replace
                    </Button>
                  )}
                  {secretMode !== 'clear' && (
                    <Button size="compact-xs" variant="light" color="red" onClick={() => setSecretMode('clear')} data-testid="secret-clear">
                      Clear
                    </Button>
                  )}
                  {secretMode !== 'keep' && (
                    <Button
                      size="compact-xs"
                      variant="subtle"
                      onClick={() => {
                        setSecretMode('keep');
                        setSecret('');
                      }}
                    >
                      Keep the stored one
                    </Button>
                  )}
                </Group>
              )}
              {secretMode === 'replace' && (
                <PasswordInput
                  aria-label="Signing secret"
                  description="the HMAC key of X-Chaoshub-Signature; write-only, never shown again"
                  placeholder={stored ? 'a new secret' : 'optional'}
                  autoComplete="new-password"
                  value={secret}
                  onChange={(e) => setSecret(e.currentTarget.value)}
                  error={on('secret')}
                  data-testid="sink-secret-input"
                />
              )}
              {secretMode !== 'replace' && on('secret') && (
                <Text c="red" size="xs" role="alert">
                  {on('secret')}
                </Text>
              )}
            </Stack>
          </>
        )}
        <TagsInput
          label="Event types"
          description="CloudEvents types to send, * matches anything (io.chaoshub.run.*); none: every event. Enter adds one."
          placeholder="io.chaoshub.run.*"
          value={eventTypes}
          onChange={setEventTypes}
          error={on('eventTypes')}
          data-testid="sink-types"
        />
        <Group grow align="flex-start">
          <NumberInput
            label="Max attempts"
            description="then the delivery is dead (1–50)"
            value={maxAttempts}
            onChange={setMaxAttempts}
            allowDecimal={false}
            clampBehavior="none"
            error={on('maxAttempts')}
            data-testid="sink-max-attempts"
          />
          <NumberInput
            label="Max age"
            description="seconds; older is dead (up to a week)"
            value={maxAge}
            onChange={setMaxAge}
            clampBehavior="none"
            error={on('maxAgeSeconds')}
            data-testid="sink-max-age"
          />
        </Group>
        <Switch label="Enabled" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
        <ErrorAlert hubError={elsewhere} error={createState.error ?? updateState.error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button onClick={save} loading={createState.fetching || updateState.fetching} disabled={!name.trim()} data-testid="sink-save">
            {sink ? 'Save' : 'Add sink'}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
