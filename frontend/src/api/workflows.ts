// The workflow API as the console speaks it (chaoshub/api/workflows.py): documents and shapes.
import type { JsonObject, JsonSchema, Phase, Run } from './types';

const ERROR_FIELDS = `... on Error { code message field }`;

export type StepState = 'waiting' | 'running' | 'passed' | 'failed' | 'skipped' | 'aborted';
export type StepKind = 'fault' | 'probe' | 'wait' | 'approval';
export type StepRole = 'step' | 'steadyState-before' | 'steadyState-after' | 'stopCondition';
export type Verdict = 'none' | 'pass' | 'fail';

export interface ProbeSample {
  at: string;
  ok: boolean;
  value: unknown;
  error: string | null;
  latencyMs: number | null;
}

export interface ProbeResult {
  name: string;
  kind: string;
  outcome: string;
  checks: number;
  passed: number;
  score: number | null;
  expectation: JsonObject;
  samples: ProbeSample[];
}

export interface WorkflowStep {
  stepId: string;
  kind: StepKind;
  role: StepRole;
  state: StepState;
  reason: string;
  after: string[];
  startedAt: string | null;
  endedAt: string | null;
  deadline: string | null;
  runId: string | null;
  decidedBy: string | null;
  run: Pick<Run, 'id' | 'phase' | 'stuck' | 'error' | 'faultType'> | null;
  probe: ProbeResult | null;
}

export interface WorkflowRun {
  id: string;
  workflowId: string | null;
  workflowName: string;
  version: number;
  document: JsonObject;
  phase: Phase;
  desiredState: string;
  verdict: Verdict;
  reasons: string[];
  score: number | null;
  error: string | null;
  ending: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  deadline: string | null;
  steps: WorkflowStep[];
}

export type WorkflowRunSummary = Pick<
  WorkflowRun,
  'id' | 'workflowId' | 'workflowName' | 'version' | 'phase' | 'verdict' | 'score' | 'createdAt' | 'endedAt' | 'createdBy'
>;

export interface Workflow {
  id: string;
  name: string;
  description: string;
  version: number;
  document: JsonObject;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
}

export interface ValidationIssue {
  field: string[];
  message: string;
  code: string;
}

const RUN_SUMMARY = `id workflowId workflowName version phase verdict score createdAt endedAt createdBy`;

const RUN_FIELDS = `id workflowId workflowName version document phase desiredState verdict reasons score error ending
  createdBy createdAt updatedAt startedAt endedAt deadline
  steps { stepId kind role state reason after startedAt endedAt deadline runId decidedBy
    run { id phase stuck error faultType }
    probe { name kind outcome checks passed score expectation samples(last: 500) { at ok value error latencyMs } } }`;

export const WORKFLOWS = `query Workflows {
  workflows { id name description version createdAt updatedAt createdBy }
  workflowRuns(first: 500) { totalCount edges { node { ${RUN_SUMMARY} } } }
}`;

export const WORKFLOW = `query Workflow($id: ID!) { workflow(id: $id) { id name description version document createdAt updatedAt createdBy } }`;

export const WORKFLOW_RUNS = `query WorkflowRuns($filter: WorkflowRunFilter, $first: Int) {
  workflowRuns(filter: $filter, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ${RUN_SUMMARY} } }
  }
}`;

export const WORKFLOW_RUN = `query WorkflowRun($id: ID!) { workflowRun(id: $id) { ${RUN_FIELDS} } }`;

export const WORKFLOW_RUN_UPDATES = `subscription WorkflowRunUpdates($id: ID!) { workflowRunUpdates(id: $id) { ${RUN_FIELDS} } }`;

export const VALIDATE_WORKFLOW = `query ValidateWorkflow($document: JSON!) { validateWorkflow(document: $document) { field message code } }`;

const WORKFLOW_RESULT = `{ __typename ... on Workflow { id name version document } ${ERROR_FIELDS} }`;
const RUN_RESULT = `{ __typename ... on WorkflowRun { ${RUN_FIELDS} } ${ERROR_FIELDS} }`;

export const CREATE_WORKFLOW = `mutation CreateWorkflow($input: CreateWorkflowInput!) { createWorkflow(input: $input) ${WORKFLOW_RESULT} }`;
export const UPDATE_WORKFLOW = `mutation UpdateWorkflow($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) ${WORKFLOW_RESULT} }`;
export const START_WORKFLOW = `mutation StartWorkflow($input: StartWorkflowInput!) { startWorkflow(input: $input) ${RUN_RESULT} }`;
export const ABORT_WORKFLOW_RUN = `mutation AbortWorkflowRun($id: ID!, $reason: String!) { abortWorkflowRun(id: $id, reason: $reason) ${RUN_RESULT} }`;
export const PAUSE_WORKFLOW_RUN = `mutation PauseWorkflowRun($id: ID!) { pauseWorkflowRun(id: $id) ${RUN_RESULT} }`;
export const RESUME_WORKFLOW_RUN = `mutation ResumeWorkflowRun($id: ID!) { resumeWorkflowRun(id: $id) ${RUN_RESULT} }`;
export const APPROVE_STEP = `mutation ApproveStep($runId: ID!, $stepId: String!, $comment: String!) {
  approveStep(runId: $runId, stepId: $stepId, comment: $comment) ${RUN_RESULT}
}`;
export const REJECT_STEP = `mutation RejectStep($runId: ID!, $stepId: String!, $comment: String!) {
  rejectStep(runId: $runId, stepId: $stepId, comment: $comment) ${RUN_RESULT}
}`;

/** A probe kind and the JSON Schema of a whole probe of it: timing fields plus its block. */
export interface ProbeKindInfo {
  kind: string;
  description: string;
  schema: JsonSchema;
}

export const PROBE_KINDS_QUERY = `query ProbeKinds { probeKinds { kind description schema } }`;
