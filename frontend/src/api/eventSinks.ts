// GraphQL documents and types of event sinks (admin only): where events go out, and the
// deliveries each sink is owed.

const ERROR_FIELDS = `... on Error { code message field }`;

const SINK_FIELDS = `
  id name kind url format secret eventTypes enabled maxAttempts maxAgeSeconds
  createdBy createdAt updatedAt pending dead
`;

/** What the hub answers for a stored secret; sent back (or left out) it keeps the value. */
export const SECRET_SET = '<set>';

export interface EventSink {
  id: string;
  name: string;
  kind: string;
  url: string;
  format: string;
  /** "<set>" when the sink signs with a secret, never the secret itself */
  secret: string | null;
  eventTypes: string[];
  enabled: boolean;
  maxAttempts: number;
  maxAgeSeconds: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  pending: number;
  dead: number;
}

export interface EventDelivery {
  id: string;
  type: string;
  state: string;
  attempts: number;
  nextAttemptAt: string;
  lastError: string;
  lastStatus: number | null;
  createdAt: string;
  deliveredAt: string | null;
  event: {
    id: string;
    at: string;
    runId: string | null;
    agent: string | null;
    kind: string;
    fromPhase: string | null;
    toPhase: string | null;
    target: string | null;
    reason: string;
  };
}

export const EVENT_SINKS = `query EventSinks { eventSinks { ${SINK_FIELDS} } }`;

export const CREATE_EVENT_SINK = `mutation CreateEventSink($input: CreateEventSinkInput!) {
  createEventSink(input: $input) { __typename ... on EventSink { ${SINK_FIELDS} } ${ERROR_FIELDS} }
}`;

export const UPDATE_EVENT_SINK = `mutation UpdateEventSink($input: UpdateEventSinkInput!) {
  updateEventSink(input: $input) { __typename ... on EventSink { ${SINK_FIELDS} } ${ERROR_FIELDS} }
}`;

export const DELETE_EVENT_SINK = `mutation DeleteEventSink($id: ID!) {
  deleteEventSink(id: $id) { __typename ... on Deleted { id } ${ERROR_FIELDS} }
}`;

export const TEST_EVENT_SINK = `mutation TestEventSink($id: ID!) {
  testEventSink(id: $id) { __typename ... on SinkTest { ok status error } ${ERROR_FIELDS} }
}`;

export const EVENT_SINK_DELIVERIES = `query EventSinkDeliveries($sinkId: ID!, $state: String, $first: Int!) {
  eventSinks { ${SINK_FIELDS} }
  eventSinkDeliveries(sinkId: $sinkId, state: $state, first: $first) {
    id type state attempts nextAttemptAt lastError lastStatus createdAt deliveredAt
    event { id at runId agent kind fromPhase toPhase target reason }
  }
}`;

export const REDELIVER_EVENTS = `mutation RedeliverEvents($sinkId: ID!, $ids: [ID!]) {
  redeliverEvents(sinkId: $sinkId, ids: $ids) { __typename ... on Redelivered { count } ${ERROR_FIELDS} }
}`;
