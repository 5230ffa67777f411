// The workflow document as the editor and the run page read it (README "workflows"): the steps'
// kinds, their dependencies and branch conditions, and the probes of the two lanes.
import type { JsonObject } from '../api/types';
import type { StepKind } from '../api/workflows';

export interface StepDoc {
  id: string;
  after?: string[];
  when?: string;
  deadlineSeconds?: number;
  fault?: JsonObject;
  probe?: JsonObject;
  wait?: JsonObject;
  approval?: JsonObject;
  [key: string]: unknown;
}

export interface WorkflowDoc {
  kind?: string;
  name: string;
  description?: string;
  deadlineSeconds?: number;
  steadyState?: JsonObject[];
  stopConditions?: JsonObject[];
  steps: StepDoc[];
  [key: string]: unknown;
}

export const STEP_KINDS: StepKind[] = ['fault', 'probe', 'wait', 'approval'];
export const PROBE_KINDS = ['http', 'prometheus', 'command', 'tcp'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export type Lane = 'steadyState' | 'stopConditions';

export function stepKind(step: StepDoc): StepKind {
  return STEP_KINDS.find((k) => k in step && step[k] != null) ?? 'wait';
}

export function probeKindOf(probe: JsonObject | undefined | null): string {
  return PROBE_KINDS.find((k) => probe && k in probe) ?? 'probe';
}

/** A document that came from YAML or the API, in the shape the editor keeps. */
export function asWorkflowDoc(value: unknown): WorkflowDoc {
  const v = (value && typeof value === 'object' && !Array.isArray(value) ? value : {}) as JsonObject;
  return { ...v, name: typeof v.name === 'string' ? v.name : '', steps: Array.isArray(v.steps) ? (v.steps as StepDoc[]) : [] } as WorkflowDoc;
}

/** The branch a step's `when` puts on the edge from the step it names. */
export function branchOf(step: StepDoc, from: string): 'passed' | 'failed' | null {
  const m = /^(.+)\.(passed|failed)$/.exec(step.when ?? '');
  return m && m[1] === from ? (m[2] as 'passed' | 'failed') : null;
}

/** A fresh step id of this kind that no step has yet (ids are lower-case, digits, - and _). */
export function freshId(doc: WorkflowDoc, base: string): string {
  const clean = base.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 50) || 'step';
  const taken = new Set(doc.steps.map((s) => s.id));
  if (!taken.has(clean)) return clean;
  for (let i = 2; ; i++) if (!taken.has(`${clean}-${i}`)) return `${clean}-${i}`;
}

export function freshProbeName(doc: WorkflowDoc, base: string): string {
  const taken = new Set([...(doc.steadyState ?? []), ...(doc.stopConditions ?? [])].map((p) => String(p.name ?? '')));
  for (let i = 1; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** A probe document to start from, per kind (the fields each kind requires). */
export function probeTemplate(kind: string): JsonObject {
  switch (kind) {
    case 'prometheus':
      return { prometheus: { url: 'http://127.0.0.1:9090', query: 'up', expect: { '>=': 1 } }, intervalSeconds: 1 };
    case 'command':
      return { command: { agent: 'local', argv: ['check.sh'], expect: { exitCode: 0 } }, intervalSeconds: 1 };
    case 'tcp':
      return { tcp: { host: '127.0.0.1', port: 80 }, intervalSeconds: 1 };
    default:
      return { http: { url: 'http://127.0.0.1:8081/health', expect: { status: [200] }, timeoutSeconds: 2 }, intervalSeconds: 1 };
  }
}

/** What a palette item adds. */
export type PaletteItem =
  | { kind: 'fault'; faultType: string; backend?: string }
  | { kind: 'probe'; probeKind: string }
  | { kind: 'wait' }
  | { kind: 'approval' };

export function newStep(doc: WorkflowDoc, item: PaletteItem): StepDoc {
  switch (item.kind) {
    case 'fault': {
      const id = freshId(doc, item.faultType.split('/').pop() ?? 'fault');
      return { id, fault: { faultType: item.faultType, backend: item.backend ?? '', selector: {}, params: {}, durationSeconds: 30 } };
    }
    case 'probe':
      return { id: freshId(doc, `check-${item.probeKind}`), probe: probeTemplate(item.probeKind) };
    case 'wait':
      return { id: freshId(doc, 'wait'), wait: { seconds: 5 } };
    case 'approval':
      return { id: freshId(doc, 'approve'), approval: { message: 'Go on?', timeoutSeconds: 3600, onTimeout: 'reject' } };
  }
}

/** Remove a step and every mention of it (dependencies, branch conditions). */
export function removeStep(doc: WorkflowDoc, id: string): WorkflowDoc {
  return {
    ...doc,
    steps: doc.steps
      .filter((s) => s.id !== id)
      .map((s) => {
        const after = (s.after ?? []).filter((a) => a !== id);
        const next: StepDoc = { ...s, after };
        if (!after.length) delete next.after;
        if (s.when && s.when.startsWith(id + '.')) delete next.when;
        return next;
      }),
  };
}

/** Rename a step everywhere it is named. */
export function renameStep(doc: WorkflowDoc, from: string, to: string): WorkflowDoc {
  return {
    ...doc,
    steps: doc.steps.map((s) => {
      const next: StepDoc = { ...s, id: s.id === from ? to : s.id };
      if (s.after) next.after = s.after.map((a) => (a === from ? to : a));
      if (s.when && s.when.startsWith(from + '.')) next.when = to + s.when.slice(from.length);
      return next;
    }),
  };
}

export function addDependency(doc: WorkflowDoc, from: string, to: string): WorkflowDoc {
  if (from === to) return doc;
  return {
    ...doc,
    steps: doc.steps.map((s) => (s.id === to && !(s.after ?? []).includes(from) ? { ...s, after: [...(s.after ?? []), from] } : s)),
  };
}

export function removeDependency(doc: WorkflowDoc, from: string, to: string): WorkflowDoc {
  return {
    ...doc,
    steps: doc.steps.map((s) => {
      if (s.id !== to) return s;
      const next: StepDoc = { ...s, after: (s.after ?? []).filter((a) => a !== from) };
      if (!next.after?.length) delete next.after;
      if (branchOf(s, from)) delete next.when;
      return next;
    }),
  };
}

/** Where a validation issue's field path points: a step (by index → id), a lane probe, or the workflow. */
export type IssueTarget = { node: string | null; rest: string[] };

export function issueTarget(doc: WorkflowDoc, field: string[]): IssueTarget {
  const [head, index, ...rest] = field;
  const i = Number(index);
  if (head === 'steps' && Number.isInteger(i) && doc.steps[i]) return { node: `step:${doc.steps[i].id}`, rest };
  if ((head === 'steadyState' || head === 'stopConditions') && Number.isInteger(i)) return { node: `${head}:${i}`, rest };
  return { node: null, rest: field };
}
