import { Group, Select, Stack, TagsInput, Text, TextInput } from '@mantine/core';
import { useEffect, useState } from 'react';
import { useQuery } from 'urql';
import type { JsonObject, JsonSchema } from '../../api/types';
import { PROBE_KINDS_QUERY, type ProbeKindInfo } from '../../api/workflows';
import { probeKindOf } from '../../workflow/model';
import { SchemaForm } from '../SchemaForm';

export type ProbeIssue = { rest: string[]; message: string };

const NUMERIC_OPS = ['<', '<=', '>', '>=', '==', '!=', 'between', 'oneOf'];
const TEXT_OPS = ['contains', 'matches', '==', '!=', 'oneOf'];

/** A property's default as words in its description, not as a value: a generated form would
 * otherwise write every default into the document (and the YAML) as soon as it is shown. */
function withoutDefaults(schema: JsonSchema): JsonSchema {
  const props = Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([k, p]) => {
      const { default: dflt, ...rest } = p;
      if (dflt === undefined) return [k, rest];
      const said = `default ${JSON.stringify(dflt)}`;
      return [k, { ...rest, description: rest.description ? `${rest.description} (${said})` : said }];
    }),
  );
  return { ...schema, properties: props };
}

function pick(obj: JsonObject, keep: (k: string) => boolean): JsonObject {
  return Object.fromEntries(Object.entries(obj).filter(([k, v]) => keep(k) && v !== undefined)) as JsonObject;
}

function errorsUnder(issues: ProbeIssue[], prefix: string[]): Record<string, unknown> | undefined {
  const mine = issues.filter((i) => prefix.every((p, n) => i.rest[n] === p) && i.rest.length > prefix.length);
  if (!mine.length) return undefined;
  const root: Record<string, unknown> = {};
  for (const i of mine) {
    let node = root;
    for (const key of i.rest.slice(prefix.length)) node = (node[key] ??= {}) as Record<string, unknown>;
    node.__errors = [...((node.__errors as string[]) ?? []), i.message];
  }
  return root;
}

function operandText(operand: unknown): string {
  return Array.isArray(operand) ? operand.join(', ') : operand == null ? '' : String(operand);
}

function operandValue(op: string, text: string): unknown {
  const num = (t: string) => (t.trim() !== '' && Number.isFinite(Number(t)) ? Number(t) : t.trim());
  if (op === 'between') return text.split(',').map(num);
  if (op === 'oneOf') return text.split(',').filter((t) => t.trim()).map(num);
  if (op === 'contains' || op === 'matches') return text;
  return num(text);
}

/** One expectation (``{"<": 1000}``): a comparator and its operand; empty means "none". */
export function ComparatorInput({ label, value, ops, onChange, readOnly, error, description }: { label: string; value: unknown; ops: string[]; onChange: (v: JsonObject | undefined) => void; readOnly: boolean; error?: string; description?: string }) {
  const entry = value && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value as JsonObject)[0] : undefined;
  const [op, setOp] = useState(entry?.[0] ?? ops[0]);
  const [text, setText] = useState(entry ? operandText(entry[1]) : '');
  useEffect(() => {
    if (!entry) return;
    setOp(entry[0]);
    setText((cur) => (JSON.stringify(operandValue(entry[0], cur)) === JSON.stringify(entry[1]) ? cur : operandText(entry[1])));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [JSON.stringify(value)]);
  const emit = (o: string, t: string) => onChange(t.trim() === '' ? undefined : ({ [o]: operandValue(o, t) } as JsonObject));
  return (
    <Stack gap={2}>
      <Group gap={6} wrap="nowrap" align="flex-end">
        <Select
          label={label}
          aria-label={`${label} comparator`}
          data={ops.includes(op) ? ops : [op, ...ops]}
          value={op}
          w={110}
          readOnly={readOnly}
          allowDeselect={false}
          onChange={(o) => {
            if (!o) return;
            setOp(o);
            emit(o, text);
          }}
          data-testid={`expect-${label}-op`}
        />
        <TextInput
          aria-label={`${label} value`}
          placeholder={op === 'between' ? 'low, high' : op === 'oneOf' ? 'a, b, c' : 'none'}
          value={text}
          readOnly={readOnly}
          style={{ flex: 1 }}
          error={error}
          onChange={(e) => {
            setText(e.currentTarget.value);
            emit(op, e.currentTarget.value);
          }}
          data-testid={`expect-${label}-value`}
        />
      </Group>
      {description && (
        <Text size="xs" c="dimmed">
          {description}
        </Text>
      )}
    </Stack>
  );
}

/** A list of codes (HTTP statuses, exit codes) as tags; a comparator instead when the document
 * gives one (``{between: [200, 299]}``). */
function CodesInput({ label, value, onChange, readOnly, error, description }: { label: string; value: unknown; onChange: (v: unknown) => void; readOnly: boolean; error?: string; description: string }) {
  if (value != null && !Array.isArray(value) && typeof value !== 'number')
    return <ComparatorInput label={label} value={value} ops={NUMERIC_OPS} onChange={onChange} readOnly={readOnly} error={error} />;
  const list = Array.isArray(value) ? value.map(String) : value == null ? [] : [String(value)];
  return (
    <div data-testid={`expect-${label}`}>
      <TagsInput
        label={label}
        description={description}
        placeholder="type a code, Enter"
        value={list}
        readOnly={readOnly}
        error={error}
        onChange={(tags) => {
          const codes = tags.map((t) => Number(t.trim())).filter((n) => Number.isInteger(n));
          onChange(codes.length ? codes : undefined);
        }}
      />
    </div>
  );
}

/** What the probe expects, per kind (chaoshub/probes: the keys each kind's ``expect`` takes). */
function ExpectEditor({ kind, expect, onChange, readOnly, issues }: { kind: string; expect: JsonObject; onChange: (e: JsonObject) => void; readOnly: boolean; issues: ProbeIssue[] }) {
  const err = (key: string) => {
    const hit = issues.filter((i) => i.rest[0] === kind && i.rest[1] === 'expect' && (key === '' ? i.rest.length === 2 : i.rest[2] === key));
    return hit.length ? hit.map((i) => i.message).join('; ') : undefined;
  };
  const set = (key: string, v: unknown) => {
    const next: JsonObject = { ...expect };
    if (v === undefined) delete next[key];
    else next[key] = v as JsonObject;
    onChange(next);
  };
  const latency = <ComparatorInput label="latencyMs" value={expect.latencyMs} ops={NUMERIC_OPS} onChange={(v) => set('latencyMs', v)} readOnly={readOnly} error={err('latencyMs')} description="how long the answer took, in ms; empty: any" />;
  let fields;
  if (kind === 'http') {
    const body = (expect.body ?? {}) as JsonObject;
    const { jsonPath, ...bodyCheck } = body;
    const setBody = (patch: JsonObject | undefined, path: unknown) => {
      const next: JsonObject = { ...(patch ?? {}) };
      if (path) next.jsonPath = path as string;
      set('body', patch || path ? next : undefined);
    };
    fields = (
      <>
        <CodesInput label="status" value={expect.status} onChange={(v) => set('status', v)} readOnly={readOnly} error={err('status')} description="the statuses that pass; empty: any 2xx" />
        {latency}
        <ComparatorInput label="body" value={Object.keys(bodyCheck).length ? bodyCheck : undefined} ops={TEXT_OPS} onChange={(v) => setBody(v, jsonPath)} readOnly={readOnly} error={err('body')} description="the body (or the value at the JSONPath below); empty: any" />
        <TextInput label="body JSONPath" placeholder="$.status" value={String(jsonPath ?? '')} readOnly={readOnly} onChange={(e) => setBody(Object.keys(bodyCheck).length ? (bodyCheck as JsonObject) : undefined, e.currentTarget.value)} />
      </>
    );
  } else if (kind === 'tcp') {
    fields = latency;
  } else if (kind === 'command') {
    fields = (
      <>
        <CodesInput label="exitCode" value={expect.exitCode} onChange={(v) => set('exitCode', v)} readOnly={readOnly} error={err('exitCode')} description="the exit codes that pass; empty: 0" />
        <ComparatorInput label="stdout" value={expect.stdout} ops={[...TEXT_OPS, '<', '<=', '>', '>=']} onChange={(v) => set('stdout', v)} readOnly={readOnly} error={err('stdout')} />
      </>
    );
  } else if (kind === 'prometheus') {
    fields = <ComparatorInput label="value" value={expect} ops={NUMERIC_OPS} onChange={(v) => onChange(v ?? {})} readOnly={readOnly} error={err('')} description="every series' value (see series) must hold this" />;
  }
  return (
    <Stack gap={6} data-testid="probe-expect">
      <Text fw={600} size="sm">
        Expect
      </Text>
      {fields}
    </Stack>
  );
}

/** A probe as forms: its kind's block generated from the kind's JSON Schema (the hub's
 * ``probeKinds``), its expectation as comparators, and the timing fields every probe has.
 * ``issues`` are the hub's, with field paths relative to the probe. */
export function ProbeForm({ probe, idPrefix, issues, readOnly, onChange, omit = [] }: { probe: JsonObject; idPrefix: string; issues: ProbeIssue[]; readOnly: boolean; onChange: (p: JsonObject) => void; omit?: string[] }) {
  const [{ data }] = useQuery<{ probeKinds: ProbeKindInfo[] }>({ query: PROBE_KINDS_QUERY });
  const kind = probeKindOf(probe);
  const info = data?.probeKinds.find((k) => k.kind === kind);
  if (!info) return null;
  const whole = info.schema;
  const blockSchema = (whole.properties ?? {})[kind] ?? {};
  const { expect: _expectSchema, ...blockProps } = blockSchema.properties ?? {};
  void _expectSchema;
  const block = ((probe[kind] ?? {}) as JsonObject) ?? {};
  const expectation = (block.expect ?? {}) as JsonObject;
  const timingProps = Object.fromEntries(Object.entries(whole.properties ?? {}).filter(([k]) => k !== kind && !omit.includes(k) && !(k in blockProps)));
  const timing = pick(probe, (k) => k in timingProps);
  const setBlock = (next: JsonObject) => onChange({ ...probe, [kind]: pick(next, () => true) });
  return (
    <Stack gap="xs" data-testid="probe-form" data-kind={kind}>
      <Text size="xs" c="dimmed">
        {info.description}
      </Text>
      <SchemaForm
        key={`${idPrefix}-${kind}`}
        schema={withoutDefaults({ ...blockSchema, properties: blockProps, description: undefined })}
        value={pick(block, (k) => k !== 'expect')}
        onChange={(v) => setBlock({ ...v, ...(block.expect !== undefined ? { expect: block.expect } : {}) })}
        extraErrors={errorsUnder(issues, [kind]) as never}
        idPrefix={`${idPrefix}-${kind}`}
        disabled={readOnly}
        defaults="required"
      />
      <ExpectEditor
        kind={kind}
        expect={expectation}
        readOnly={readOnly}
        issues={issues}
        onChange={(e) => {
          const next: JsonObject = { ...block, expect: e };
          if (!Object.keys(e).length && kind !== 'prometheus') delete next.expect;
          setBlock(next);
        }}
      />
      <Text fw={600} size="sm">
        Timing
      </Text>
      <SchemaForm
        key={`${idPrefix}-timing`}
        schema={withoutDefaults({ type: 'object', properties: timingProps, additionalProperties: false })}
        value={timing}
        onChange={(v) => onChange({ ...pick(probe, (k) => !(k in timingProps)), ...pick(v, () => true) })}
        extraErrors={errorsUnder(issues.filter((i) => i.rest[0] in timingProps), []) as never}
        idPrefix={`${idPrefix}-timing`}
        disabled={readOnly}
        defaults="required"
      />
    </Stack>
  );
}
