// Shapes of the hub's GraphQL objects as the console queries them (chaoshub/api/types.py).

export type Role = 'viewer' | 'operator' | 'admin' | 'agent';

export type JsonObject = { [key: string]: unknown };

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  [key: string]: unknown;
}

export interface Availability {
  backend: string;
  available: boolean;
  reason: string;
}

export interface FaultType {
  id: string;
  adapter: string;
  name: string;
  title: string;
  description: string;
  category: string;
  targetKind: string;
  timeControl: 'instant' | 'timed' | 'external';
  reversible: boolean;
  params: JsonSchema;
  selector: JsonSchema;
  durationRequired: boolean;
  minDurationSeconds: number | null;
  maxDurationSeconds: number | null;
  requires: string[];
  docs: string[];
  tags: string[];
  availability: Availability[];
  /** false when this installation lacks the adapter's extra; installHint says how to add it */
  installed: boolean;
  installHint: string | null;
}

export interface AdapterInfo {
  name: string;
  faults: string[];
  pause: boolean;
  configSchema: JsonSchema;
}

export interface Backend {
  id: string;
  name: string;
  adapter: string;
  config: JsonObject;
  createdAt: string;
  updatedAt: string;
}

export interface BackendHealth {
  ok: boolean;
  version: string;
  message: string;
  faults: Availability[];
}

export interface Agent {
  id: string;
  name: string;
  url: string;
  labels: Record<string, string>;
  version: string;
  online: boolean;
  lastHeartbeat: string | null;
  capabilities: Record<string, { available?: boolean; reason?: string } | undefined>;
}

export interface Experiment {
  id: string;
  name: string;
  description: string;
  faultType: string;
  backend: string;
  params: JsonObject;
  selector: JsonObject;
  durationSeconds: number | null;
  createdAt: string;
  updatedAt: string;
}

export type Phase =
  | 'pending'
  | 'injecting'
  | 'running'
  | 'paused'
  | 'recovering'
  | 'completed'
  | 'aborted'
  | 'failed';

export const PHASES: Phase[] = [
  'pending',
  'injecting',
  'running',
  'paused',
  'recovering',
  'completed',
  'aborted',
  'failed',
];

export const TERMINAL: Phase[] = ['completed', 'aborted', 'failed'];

export interface TargetRecord {
  index: number;
  targetId: string;
  label: string;
  phase: 'selected' | 'injected' | 'recovered' | 'failed';
  mayCarryFault: boolean;
  nativeStatus: string;
  metrics: Record<string, number>;
  error: string | null;
  injectedAt: string | null;
  recoveredAt: string | null;
}

export interface MetricSample {
  targetIndex: number;
  target: string;
  at: string;
  values: Record<string, number>;
}

export interface HubEvent {
  id: string;
  at: string;
  runId: string | null;
  agent: string | null;
  kind: string;
  fromPhase: string | null;
  toPhase: string | null;
  target: string | null;
  reason: string;
  data: JsonObject;
}

export interface RunSummary {
  id: string;
  phase: Phase;
  desiredState: 'run' | 'pause' | 'stop';
  verdict: 'none' | 'pass' | 'fail';
  stuck: boolean;
  faultType: string;
  adapter: string;
  backend: string;
  experimentId: string | null;
  archived: boolean;
  createdBy: string;
  createdAt: string;
  endedAt: string | null;
  error: string | null;
  targets: Pick<TargetRecord, 'label' | 'phase' | 'mayCarryFault'>[];
}

export interface Run extends Omit<RunSummary, 'targets'> {
  ending: string | null;
  timeControl: 'instant' | 'timed' | 'external';
  reversible: boolean;
  params: JsonObject;
  selector: JsonObject;
  durationSeconds: number | null;
  updatedAt: string;
  startedAt: string | null;
  runningSince: string | null;
  deadline: string | null;
  recoverAttempts: number;
  nextAttemptAt: string | null;
  targets: TargetRecord[];
  events: HubEvent[];
}

export interface HubError {
  __typename: string;
  code: string;
  message: string;
  field: string[];
}

export interface DiscoveredTarget {
  id: string;
  label: string;
  attributes: JsonObject;
}
