// Every GraphQL document the console sends, in one place.

const ERROR_FIELDS = `... on Error { code message field }`;

const RUN_SUMMARY = `
  id phase desiredState verdict stuck faultType adapter backend experimentId archived
  createdBy createdAt endedAt error
  targets { label phase mayCarryFault }
`;

export const RUN_FULL = `
  id phase desiredState verdict stuck ending faultType adapter backend experimentId archived
  timeControl reversible params selector durationSeconds error createdBy createdAt updatedAt
  startedAt runningSince deadline endedAt recoverAttempts nextAttemptAt
  targets { index targetId label phase mayCarryFault nativeStatus metrics error injectedAt recoveredAt }
  events { id at runId agent kind fromPhase toPhase target reason data }
`;

const FAULT_FIELDS = `
  id adapter name title description category targetKind timeControl reversible
  params selector durationRequired minDurationSeconds maxDurationSeconds
  requires docs tags availability { backend available reason } installed installHint
`;

export const VIEWER = `query Viewer { viewer { name role } }`;

export const FAULT_TYPES = `query FaultTypes { faultTypes { ${FAULT_FIELDS} } backends { id name adapter } }`;

export const FAULT_TYPE = `query FaultType($id: ID!) {
  faultType(id: $id) { ${FAULT_FIELDS} }
  backends { id name adapter }
}`;

export const BACKEND_HEALTH = `query BackendHealth($name: String!) {
  backendHealth(name: $name) { ok version message faults { backend available reason } }
}`;

export const NEW_EXPERIMENT_DATA = `query NewExperimentData {
  faultTypes { ${FAULT_FIELDS} }
  backends { id name adapter }
}`;

export const DISCOVER = `query Discover($input: DiscoverInput!) {
  discoverTargets(input: $input) {
    __typename
    ... on DiscoveredTargets { targets { id label attributes } }
    ${ERROR_FIELDS}
  }
}`;

export const CREATE_EXPERIMENT = `mutation CreateExperiment($input: CreateExperimentInput!) {
  createExperiment(input: $input) { __typename ... on Experiment { id name } ${ERROR_FIELDS} }
}`;

export const DELETE_EXPERIMENT = `mutation DeleteExperiment($id: ID!) {
  deleteExperiment(id: $id) { __typename ... on Deleted { id } ${ERROR_FIELDS} }
}`;

export const EXPERIMENTS = `query Experiments {
  experiments { id name description faultType backend params selector durationSeconds createdAt updatedAt }
}`;

export const START_RUN = `mutation StartRun($input: StartRunInput!) {
  startRun(input: $input) { __typename ... on Run { id phase } ${ERROR_FIELDS} }
}`;

export const RUNS = `query Runs($filter: RunFilter, $first: Int, $after: String) {
  runs(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ${RUN_SUMMARY} } }
  }
}`;

export const RUN = `query Run($id: ID!) { run(id: $id) { ${RUN_FULL} } }`;

/** The run's stored metric history, loaded once per page view (live updates add to it). */
export const RUN_METRIC_SAMPLES = `query RunMetricSamples($id: ID!, $last: Int) {
  run(id: $id) { id metricSamples(last: $last) { targetIndex target at values } }
}`;

export const RUN_UPDATES = `subscription RunUpdates($runId: ID!) { runUpdates(runId: $runId) { ${RUN_FULL} } }`;

export const EVENTS_FEED = `subscription EventsFeed { events { id at runId agent kind toPhase reason } }`;

const RUN_ACTION_RESULT = `{ __typename ... on Run { ${RUN_FULL} } ${ERROR_FIELDS} }`;

export const ABORT_RUN = `mutation AbortRun($id: ID!, $reason: String!) { abortRun(id: $id, reason: $reason) ${RUN_ACTION_RESULT} }`;
export const PAUSE_RUN = `mutation PauseRun($id: ID!) { pauseRun(id: $id) ${RUN_ACTION_RESULT} }`;
export const RESUME_RUN = `mutation ResumeRun($id: ID!) { resumeRun(id: $id) ${RUN_ACTION_RESULT} }`;
export const ARCHIVE_RUN = `mutation ArchiveRun($id: ID!) { archiveRun(id: $id) ${RUN_ACTION_RESULT} }`;
export const FORCE_RELEASE_RUN = `mutation ForceReleaseRun($id: ID!, $reason: String!) {
  forceReleaseRun(id: $id, reason: $reason) ${RUN_ACTION_RESULT}
}`;

export const HALT_ALL = `mutation HaltAll($reason: String!) {
  haltAll(reason: $reason) {
    __typename
    ... on HaltAllResult { count runs { id phase faultType backend targets { label } } }
    ${ERROR_FIELDS}
  }
}`;

export const FLEET = `query Fleet {
  agents { id name url labels version online lastHeartbeat capabilities }
  backends { id name adapter config createdAt updatedAt }
  adapters { name faults pause configSchema }
}`;

export const CREATE_BACKEND = `mutation CreateBackend($input: CreateBackendInput!) {
  createBackend(input: $input) { __typename ... on Backend { id name } ${ERROR_FIELDS} }
}`;

export const UPDATE_BACKEND = `mutation UpdateBackend($input: UpdateBackendInput!) {
  updateBackend(input: $input) { __typename ... on Backend { id name } ${ERROR_FIELDS} }
}`;

export const DELETE_BACKEND = `mutation DeleteBackend($id: ID!) {
  deleteBackend(id: $id) { __typename ... on Deleted { id } ${ERROR_FIELDS} }
}`;

export const RUN_FILTER_OPTIONS = `query RunFilterOptions { experiments { id name } adapters { name } }`;

export const API_TOKENS = `query ApiTokens { apiTokens { id name role prefix createdAt revokedAt lastUsedAt } }`;

export const CREATE_API_TOKEN = `mutation CreateApiToken($name: String!, $role: String!) {
  createApiToken(name: $name, role: $role) {
    __typename
    ... on CreatedApiToken { token apiToken { id name role } }
    ${ERROR_FIELDS}
  }
}`;

export const REVOKE_API_TOKEN = `mutation RevokeApiToken($id: ID!) {
  revokeApiToken(id: $id) { __typename ... on ApiToken { id revokedAt } ${ERROR_FIELDS} }
}`;
