import { Button, Group, JsonInput, Modal, SegmentedControl, Select, Stack, Text, TextInput } from '@mantine/core';
import { useRef, useState } from 'react';
import { useMutation } from 'urql';
import { asHubError } from '../api/client';
import { CREATE_BACKEND, UPDATE_BACKEND } from '../api/documents';
import type { AdapterInfo, Backend, HubError, JsonObject } from '../api/types';
import { ErrorAlert } from './ErrorText';
import { SchemaForm, errorSchemaFor, type SchemaFormHandle } from './SchemaForm';

/** Add a backend, or edit one's name and config; the config form comes from the adapter's schema. */
export function BackendEditor({
  backend,
  adapters,
  opened,
  onClose,
  onSaved,
}: {
  backend: Backend | null;
  adapters: AdapterInfo[];
  opened: boolean;
  onClose: () => void;
  onSaved: () => void;
}) {
  const [name, setName] = useState(backend?.name ?? '');
  const [adapter, setAdapter] = useState<string | null>(backend?.adapter ?? null);
  const [config, setConfig] = useState<JsonObject>(backend?.config ?? {});
  const [mode, setMode] = useState<'form' | 'json'>('form');
  const [text, setText] = useState(JSON.stringify(backend?.config ?? {}, null, 2));
  const [refusal, setRefusal] = useState<HubError | null>(null);
  const form = useRef<SchemaFormHandle>(null);
  const [createState, create] = useMutation(CREATE_BACKEND);
  const [updateState, update] = useMutation(UPDATE_BACKEND);
  const schema = adapters.find((a) => a.name === adapter)?.configSchema;
  const hasForm = !!schema && Object.keys(schema.properties ?? {}).length > 0;
  const useJson = mode === 'json' || !hasForm;

  const save = async () => {
    setRefusal(null);
    let value = config;
    if (!useJson && form.current && !form.current.validateForm()) {
      setRefusal({ __typename: 'local', code: 'INVALID_INPUT', message: 'fix the fields marked in red first', field: ['config'] });
      return;
    }
    if (useJson) {
      try {
        value = JSON.parse(text || '{}');
      } catch {
        setRefusal({ __typename: 'local', code: 'INVALID_INPUT', message: 'config is not valid JSON', field: ['config'] });
        return;
      }
    }
    const res = backend
      ? await update({ input: { id: backend.id, name: name !== backend.name ? name : null, config: value } })
      : await create({ input: { name, adapter, config: value } });
    const answer = backend ? res.data?.updateBackend : res.data?.createBackend;
    const err = asHubError(answer);
    if (err) setRefusal(err);
    else if (answer) onSaved();
  };

  const field = refusal?.field ?? [];
  const configErrors = refusal && field[0] === 'config' && field.length > 1 ? errorSchemaFor(field.slice(1), refusal.message) : undefined;
  return (
    <Modal opened={opened} onClose={onClose} title={backend ? `Edit backend ${backend.name}` : 'Add a backend'} size="lg">
      <Stack>
        <TextInput
          label="Name"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={field[0] === 'name' ? refusal?.message : undefined}
          data-autofocus
          data-testid="backend-name"
        />
        <Select
          label="Adapter"
          description="the tool this backend drives"
          data={adapters.map((a) => a.name)}
          value={adapter}
          onChange={setAdapter}
          disabled={!!backend}
          error={field[0] === 'adapter' ? refusal?.message : undefined}
          data-testid="backend-adapter"
        />
        {adapter && (
          <>
            <Group justify="space-between">
              <Text fw={500} size="sm">
                Config
              </Text>
              {hasForm && (
                <SegmentedControl
                  size="xs"
                  value={mode}
                  onChange={(v) => {
                    if (v === 'json') setText(JSON.stringify(config, null, 2));
                    else {
                      try {
                        setConfig(JSON.parse(text || '{}'));
                      } catch {
                        /* keep the form's last value */
                      }
                    }
                    setMode(v as 'form' | 'json');
                  }}
                  data={[
                    { value: 'form', label: 'Form' },
                    { value: 'json', label: 'JSON' },
                  ]}
                />
              )}
            </Group>
            {useJson ? (
              <JsonInput aria-label="Config (JSON)" value={text} onChange={setText} autosize minRows={4} formatOnBlur validationError="not valid JSON" />
            ) : (
              <SchemaForm
                idPrefix="config"
                schema={schema!}
                value={config}
                onChange={setConfig}
                extraErrors={configErrors}
                formRef={form}
                defaults="required"
              />
            )}
            {field[0] === 'config' && (
              <Text c="red" size="sm" role="alert" data-testid="config-refusal">
                {refusal?.message}
              </Text>
            )}
          </>
        )}
        <ErrorAlert hubError={refusal && !['name', 'adapter', 'config'].includes(field[0] ?? '') ? refusal : null} />
        <ErrorAlert error={createState.error ?? updateState.error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button onClick={save} loading={createState.fetching || updateState.fetching} disabled={!name || !adapter} data-testid="backend-save">
            {backend ? 'Save' : 'Add backend'}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
