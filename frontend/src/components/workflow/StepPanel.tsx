import { Alert, Button, MultiSelect, NumberInput, Paper, Select, Stack, Text, Textarea, TextInput, Title } from '@mantine/core';
import type { ErrorSchema } from '@rjsf/utils';
import { IconTrash } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import type { Backend, FaultType, JsonObject } from '../../api/types';
import { stepKind, type StepDoc, type WorkflowDoc } from '../../workflow/model';
import { SchemaForm, errorSchemaFor } from '../SchemaForm';
import { ProbeForm } from './ProbeForm';

export type FieldIssue = { rest: string[]; message: string };

function errorAt(issues: FieldIssue[], path: string[]): string | undefined {
  const hit = issues.filter((i) => i.rest.join('.') === path.join('.'));
  return hit.length ? hit.map((i) => i.message).join('; ') : undefined;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = k === '__errors' ? [...((a[k] as string[]) ?? []), ...(v as string[])] : a[k] && typeof v === 'object' ? deepMerge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** The hub's issues under ``prefix`` as the error schema the generated form shows inline. */
function formErrors(issues: FieldIssue[], prefix: string[]): ErrorSchema | undefined {
  const mine = issues.filter((i) => prefix.every((p, n) => i.rest[n] === p) && i.rest.length > prefix.length);
  if (!mine.length) return undefined;
  return mine.reduce((acc, i) => deepMerge(acc, errorSchemaFor(i.rest.slice(prefix.length), i.message) as Record<string, unknown>), {} as Record<string, unknown>) as ErrorSchema;
}

/** A JSON value edited as text: kept as typed until it parses. */
export function JsonField({ label, value, onChange, error, readOnly, testId }: { label: string; value: unknown; onChange: (v: JsonObject) => void; error?: string; readOnly?: boolean; testId?: string }) {
  const [text, setText] = useState(() => JSON.stringify(value ?? {}, null, 2));
  const [bad, setBad] = useState<string | null>(null);
  useEffect(() => {
    setText((cur) => {
      try {
        if (JSON.stringify(JSON.parse(cur)) === JSON.stringify(value ?? {})) return cur;
      } catch {
        /* replaced by the value below */
      }
      return JSON.stringify(value ?? {}, null, 2);
    });
  }, [value]);
  return (
    <Textarea
      label={label}
      value={text}
      autosize
      minRows={4}
      maxRows={16}
      readOnly={readOnly}
      ff="monospace"
      styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
      error={bad ?? error}
      data-testid={testId}
      onChange={(e) => {
        const t = e.currentTarget.value;
        setText(t);
        try {
          const v = JSON.parse(t);
          if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('must be a JSON object');
          setBad(null);
          onChange(v);
        } catch (exc) {
          setBad(`not a JSON object yet: ${(exc as Error).message}`);
        }
      }}
    />
  );
}

/** The probe as JSON, folded away: the forms above say the same; this is for pasting one. */
function ProbeJson({ probe, readOnly, onChange, error }: { probe: JsonObject; readOnly: boolean; onChange: (p: JsonObject) => void; error?: string }) {
  return (
    <details>
      <summary style={{ cursor: 'pointer', fontSize: 'var(--mantine-font-size-sm)' }}>Probe as JSON</summary>
      <JsonField label="Probe" value={probe} readOnly={readOnly} onChange={onChange} error={error} testId="probe-json" />
    </details>
  );
}

/** The selected step's fields, its fault's parameters and selector as forms generated from the
 * catalog's JSON Schemas, and the hub's validation issues on the field they name. */
export function StepPanel({
  doc,
  step,
  issues,
  faults,
  backends,
  readOnly,
  onChange,
  onRename,
  onDelete,
}: {
  doc: WorkflowDoc;
  step: StepDoc;
  issues: FieldIssue[];
  faults: FaultType[];
  backends: Backend[];
  readOnly: boolean;
  onChange: (step: StepDoc, tag?: string) => void;
  onRename: (to: string) => void;
  onDelete: () => void;
}) {
  const kind = stepKind(step);
  const [id, setId] = useState(step.id);
  useEffect(() => setId(step.id), [step.id]);
  const others = doc.steps.filter((s) => s.id !== step.id).map((s) => s.id);
  const branchable = (step.after ?? []).filter((a) => {
    const s = doc.steps.find((x) => x.id === a);
    return s && (s.probe || s.approval);
  });
  const set = (patch: Partial<StepDoc>, tag?: string) => {
    const next: StepDoc = { ...step, ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined || v === '' || (Array.isArray(v) && !v.length)) delete next[k];
    onChange(next, tag);
  };
  const fault = (step.fault ?? {}) as JsonObject;
  const ft = faults.find((f) => f.id === fault.faultType);
  const setFault = (patch: JsonObject, tag?: string) => set({ fault: { ...fault, ...patch } }, tag);
  const general = issues.filter((i) => !i.rest.length || !['id', 'after', 'when', 'deadlineSeconds', 'fault', 'wait', 'approval'].includes(i.rest[0]) || (i.rest[0] === 'fault' && !['faultType', 'backend', 'durationSeconds', 'params', 'selector'].includes(i.rest[1] ?? '')));
  return (
    <Paper withBorder p="sm" w={{ base: '100%', md: 380 }} style={{ flexShrink: 0 }} data-testid="step-panel" data-step={step.id}>
      <Stack gap="xs">
        <Title order={5}>
          {kind} step · {step.id}
        </Title>
        {general.length > 0 && (
          <Alert color="red" p="xs" data-testid="step-issues">
            {general.map((i, n) => (
              <Text size="xs" key={n}>
                {i.rest.join('.') || 'step'}: {i.message}
              </Text>
            ))}
          </Alert>
        )}
        <TextInput
          label="Step id"
          value={id}
          readOnly={readOnly}
          onChange={(e) => setId(e.currentTarget.value)}
          onBlur={() => id !== step.id && onRename(id)}
          onKeyDown={(e) => e.key === 'Enter' && id !== step.id && onRename(id)}
          error={errorAt(issues, ['id'])}
        />
        <MultiSelect label="After (runs once these ended)" data={others} value={step.after ?? []} readOnly={readOnly} onChange={(v) => set({ after: v })} error={errorAt(issues, ['after'])} clearable />
        <Select
          label="When"
          placeholder="every step in after passed"
          data={branchable.flatMap((a) => [`${a}.passed`, `${a}.failed`])}
          value={step.when ?? null}
          readOnly={readOnly}
          onChange={(v) => set({ when: v ?? undefined })}
          error={errorAt(issues, ['when'])}
          clearable
        />
        <NumberInput label="Deadline (s)" placeholder="the kind's default" value={step.deadlineSeconds ?? ''} readOnly={readOnly} onChange={(v) => set({ deadlineSeconds: typeof v === 'number' ? v : undefined }, 'deadline')} error={errorAt(issues, ['deadlineSeconds'])} />
        {kind === 'fault' && (
          <>
            <Select
              label="Fault type"
              searchable
              data={faults.map((f) => f.id)}
              value={String(fault.faultType ?? '') || null}
              readOnly={readOnly}
              onChange={(v) => v && setFault({ faultType: v, params: {} })}
              error={errorAt(issues, ['fault', 'faultType'])}
            />
            <Select
              label="Backend"
              data={backends.filter((b) => !ft || b.adapter === ft.adapter).map((b) => b.name)}
              value={String(fault.backend ?? '') || null}
              readOnly={readOnly}
              onChange={(v) => setFault({ backend: v ?? '' })}
              error={errorAt(issues, ['fault', 'backend'])}
              data-testid="fault-backend"
            />
            <NumberInput
              label="Duration (s)"
              value={typeof fault.durationSeconds === 'number' ? fault.durationSeconds : ''}
              readOnly={readOnly}
              clampBehavior="none"
              onChange={(v) => setFault({ durationSeconds: typeof v === 'number' ? v : null }, 'duration')}
              error={errorAt(issues, ['fault', 'durationSeconds'])}
            />
            {ft ? (
              <>
                <Text fw={600} size="sm">
                  Selector
                </Text>
                {errorAt(issues, ['fault', 'selector']) && (
                  <Text size="xs" c="red" data-testid="selector-issue">
                    {errorAt(issues, ['fault', 'selector'])}
                  </Text>
                )}
                <SchemaForm
                  key={`sel-${step.id}-${ft.id}`}
                  schema={ft.selector}
                  value={(fault.selector ?? {}) as JsonObject}
                  onChange={(v) => setFault({ selector: v }, `selector:${step.id}`)}
                  extraErrors={formErrors(issues, ['fault', 'selector'])}
                  idPrefix={`wf-${step.id}-selector`}
                  disabled={readOnly}
                  defaults="required"
                />
                {Object.keys(ft.params.properties ?? {}).length > 0 && (
                  <>
                    <Text fw={600} size="sm">
                      Parameters
                    </Text>
                    <SchemaForm
                      key={`par-${step.id}-${ft.id}`}
                      schema={ft.params}
                      value={(fault.params ?? {}) as JsonObject}
                      onChange={(v) => setFault({ params: v }, `params:${step.id}`)}
                      extraErrors={formErrors(issues, ['fault', 'params'])}
                      idPrefix={`wf-${step.id}-params`}
                      disabled={readOnly}
                    />
                  </>
                )}
              </>
            ) : (
              <Text size="sm" c="dimmed">
                Pick a fault type of the catalog to edit its selector and parameters.
              </Text>
            )}
          </>
        )}
        {kind === 'probe' && step.probe && (
          <>
            <ProbeForm
              probe={step.probe}
              idPrefix={`wf-${step.id}-probe`}
              issues={issues.filter((i) => i.rest[0] === 'probe').map((i) => ({ ...i, rest: i.rest.slice(1) }))}
              readOnly={readOnly}
              omit={['name']}
              onChange={(v) => set({ probe: v }, `probe:${step.id}`)}
            />
            {issues.filter((i) => i.rest[0] === 'probe').map((i, n) => (
              <Text size="xs" c="red" key={n} data-testid="probe-issue">
                {i.rest.slice(1).join('.') || 'probe'}: {i.message}
              </Text>
            ))}
            <ProbeJson probe={step.probe} readOnly={readOnly} onChange={(v) => set({ probe: v }, `probe:${step.id}`)} />
          </>
        )}
        {kind === 'wait' && (
          <NumberInput
            label="Seconds"
            value={typeof step.wait?.seconds === 'number' ? step.wait.seconds : ''}
            readOnly={readOnly}
            clampBehavior="none"
            onChange={(v) => set({ wait: { ...step.wait, seconds: typeof v === 'number' ? v : null } }, 'wait')}
            error={errorAt(issues, ['wait', 'seconds']) ?? errorAt(issues, ['wait'])}
          />
        )}
        {kind === 'approval' && (
          <>
            <TextInput label="Message" value={String(step.approval?.message ?? '')} readOnly={readOnly} onChange={(e) => set({ approval: { ...step.approval, message: e.currentTarget.value } }, 'message')} error={errorAt(issues, ['approval', 'message'])} />
            <NumberInput label="Timeout (s)" value={typeof step.approval?.timeoutSeconds === 'number' ? step.approval.timeoutSeconds : ''} readOnly={readOnly} clampBehavior="none" onChange={(v) => set({ approval: { ...step.approval, timeoutSeconds: typeof v === 'number' ? v : undefined } }, 'timeout')} error={errorAt(issues, ['approval', 'timeoutSeconds'])} />
            <Select label="On timeout" data={['reject', 'approve']} value={String(step.approval?.onTimeout ?? 'reject')} readOnly={readOnly} onChange={(v) => set({ approval: { ...step.approval, onTimeout: v ?? 'reject' } })} />
          </>
        )}
        {!readOnly && (
          <Button variant="subtle" color="red" leftSection={<IconTrash size={16} />} onClick={onDelete}>
            Delete step (Del)
          </Button>
        )}
      </Stack>
    </Paper>
  );
}

/** A steady-state or stop-condition probe of a lane, as forms. */
export function LaneProbePanel({ lane, probe, issues, readOnly, onChange, onDelete }: { lane: string; probe: JsonObject; issues: FieldIssue[]; readOnly: boolean; onChange: (p: JsonObject) => void; onDelete: () => void }) {
  return (
    <Paper withBorder p="sm" w={{ base: '100%', md: 380 }} style={{ flexShrink: 0 }} data-testid="step-panel" data-step={String(probe.name ?? '')}>
      <Stack gap="xs">
        <Title order={5}>
          {lane === 'steadyState' ? 'Steady-state check' : 'Stop condition'} · {String(probe.name ?? '')}
        </Title>
        <Text size="xs" c="dimmed">
          {lane === 'steadyState' ? 'Checked before anything is injected and again after everything is recovered.' : 'Watched while any fault is held; a breach stops everything.'}
        </Text>
        {issues.map((i, n) => (
          <Text size="xs" c="red" key={n}>
            {i.rest.join('.') || 'probe'}: {i.message}
          </Text>
        ))}
        <TextInput label="Name" value={String(probe.name ?? '')} readOnly={readOnly} onChange={(e) => onChange({ ...probe, name: e.currentTarget.value })} />
        <ProbeForm probe={probe} idPrefix={`lane-${lane}`} issues={issues} readOnly={readOnly} omit={['name']} onChange={onChange} />
        <ProbeJson probe={probe} readOnly={readOnly} onChange={onChange} />
        {!readOnly && (
          <Button variant="subtle" color="red" leftSection={<IconTrash size={16} />} onClick={onDelete}>
            Remove (Del)
          </Button>
        )}
      </Stack>
    </Paper>
  );
}
