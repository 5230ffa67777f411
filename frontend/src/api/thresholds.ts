// Threshold searches as the console speaks them (chaoshub/api/thresholds.py).
import type { JsonObject, Phase } from './types';

const ERROR_FIELDS = `... on Error { code message field }`;

export type TrialOutcome = 'held' | 'broke' | 'inconclusive' | 'stopped' | string;

export interface ObjectiveValue {
  metric: string;
  comparator: string;
  target: number;
  value: number | null;
  held: boolean;
}

export interface SloResult {
  probe: string;
  samples: number;
  passed: number;
  objectives: ObjectiveValue[];
}

export interface Trial {
  magnitude: number;
  workflowRunId: string | null;
  outcome: TrialOutcome;
  reason: string;
  startedAt: string | null;
  endedAt: string | null;
  windowSeconds: number | null;
  slo: SloResult[];
}

export interface ThresholdResult {
  found: boolean;
  heldMax: number | null;
  brokeMin: number | null;
  noisy: string[];
  message: string;
  trials: number;
  expectedTrials: number;
}

export interface ThresholdSearch {
  id: string;
  name: string;
  phase: Phase;
  desiredState: string;
  param: string;
  strategy: string;
  expectedTrials: number;
  currentMagnitude: number | null;
  currentWorkflowRunId: string | null;
  trials: Trial[];
  result: ThresholdResult | null;
  reasons: string[];
  document: JsonObject;
  createdBy: string;
  createdAt: string;
  endedAt: string | null;
}

export type ThresholdSearchSummary = Omit<ThresholdSearch, 'trials' | 'reasons'> & { trials: Pick<Trial, 'magnitude' | 'outcome'>[] };

const SUMMARY = `id name phase desiredState param strategy expectedTrials currentMagnitude currentWorkflowRunId
  document createdBy createdAt endedAt
  trials { magnitude outcome }
  result { found heldMax brokeMin noisy message trials expectedTrials }`;

const FIELDS = `id name phase desiredState param strategy expectedTrials currentMagnitude currentWorkflowRunId
  reasons document createdBy createdAt endedAt
  trials { magnitude workflowRunId outcome reason startedAt endedAt windowSeconds
    slo { probe samples passed objectives { metric comparator target value held } } }
  result { found heldMax brokeMin noisy message trials expectedTrials }`;

export const THRESHOLD_SEARCHES = `query ThresholdSearches($first: Int, $phase: [String!]) {
  thresholdSearches(first: $first, phase: $phase) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ${SUMMARY} } }
  }
}`;

export const THRESHOLD_SEARCH = `query ThresholdSearch($id: ID!) { thresholdSearch(id: $id) { ${FIELDS} } }`;

export const VALIDATE_THRESHOLD_SEARCH = `query ValidateThresholdSearch($document: JSON!) {
  validateThresholdSearch(document: $document) { field message code }
}`;

const RESULT = `{ __typename ... on ThresholdSearch { ${FIELDS} } ${ERROR_FIELDS} }`;

export const START_THRESHOLD_SEARCH = `mutation StartThresholdSearch($input: StartThresholdSearchInput!) {
  startThresholdSearch(input: $input) ${RESULT}
}`;

export const ABORT_THRESHOLD_SEARCH = `mutation AbortThresholdSearch($id: ID!, $reason: String!) {
  abortThresholdSearch(id: $id, reason: $reason) ${RESULT}
}`;

/** The threshold band from the trials: the highest magnitude that held and the lowest that
 * broke (the search's own result once it ended, worked out from the trials while it runs). */
export function band(search: Pick<ThresholdSearch, 'result'> & { trials: Pick<Trial, 'magnitude' | 'outcome'>[] }): { heldMax: number | null; brokeMin: number | null } {
  if (search.result) return { heldMax: search.result.heldMax, brokeMin: search.result.brokeMin };
  const held = search.trials.filter((t) => t.outcome === 'held').map((t) => t.magnitude);
  const broke = search.trials.filter((t) => t.outcome === 'broke').map((t) => t.magnitude);
  return { heldMax: held.length ? Math.max(...held) : null, brokeMin: broke.length ? Math.min(...broke) : null };
}

/** What the search varies, from its document: the fault type and the parameter's range. */
export function varied(doc: JsonObject): { faultType: string; backend: string; from?: number; to?: number; resolution?: number; step?: number } {
  const fault = (doc.fault ?? {}) as JsonObject;
  const vary = (doc.vary ?? {}) as JsonObject;
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return {
    faultType: String(fault.faultType ?? '?'),
    backend: String(fault.backend ?? '?'),
    from: num(vary.from),
    to: num(vary.to),
    resolution: num(vary.resolution),
    step: num(vary.step),
  };
}

export const EXAMPLE_SEARCH = `kind: ThresholdSearch
name: checkout-latency-tolerance
fault:
  faultType: toxiproxy/latency
  backend: toxiproxy
  selector: {names: [payments]}
  params: {jitter: 0}
vary: {param: latency, from: 0, to: 2000, resolution: 25, strategy: bisect}
trialSeconds: 15
coolDownSeconds: 5
slo:
  - name: checkout-p95
    http: {url: "http://127.0.0.1:8081/checkout", timeoutSeconds: 5}
    intervalSeconds: 0.5
    objective: {latencyMsP95: {"<": 800}, successRatio: {">=": 0.99}}
stopConditions: []
`;

export const OUTCOME_COLOR: Record<string, string> = { held: '#2f9e44', broke: '#e03131' };

export interface ObjectiveKey {
  probe: string;
  metric: string;
  comparator: string;
  target: number;
}

/** Every (probe, metric) an objective is stated on, in the order the trials report them. */
export function objectivesOf(search: Pick<ThresholdSearch, 'trials'>): ObjectiveKey[] {
  const seen = new Map<string, ObjectiveKey>();
  for (const t of search.trials)
    for (const s of t.slo)
      for (const o of s.objectives) {
        const key = `${s.probe}:${o.metric}`;
        if (!seen.has(key)) seen.set(key, { probe: s.probe, metric: o.metric, comparator: o.comparator, target: o.target });
      }
  return [...seen.values()];
}

/** A number as short as it reads well: 500, 0.99, 812.4. */
export function num(v: number | null | undefined): string {
  if (v == null) return '—';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

export const PAUSE_THRESHOLD_SEARCH = `mutation PauseThresholdSearch($id: ID!) { pauseThresholdSearch(id: $id) ${RESULT} }`;

export const RESUME_THRESHOLD_SEARCH = `mutation ResumeThresholdSearch($id: ID!) { resumeThresholdSearch(id: $id) ${RESULT} }`;
