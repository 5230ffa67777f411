// Schedules as the console speaks them (chaoshub/api/schedules.py).

const ERROR_FIELDS = `... on Error { code message field }`;

export type ConcurrencyPolicy = 'forbid' | 'allow' | 'replace';

/** A blackout window as the API takes it: all day on ``days``, or ``start``–``end`` (on ``days``
 * when given), in the schedule's time zone. */
export interface Blackout {
  days?: string[];
  start?: string;
  end?: string;
}

export interface ScheduleFire {
  at: string;
  scheduledFor: string;
  outcome: 'fired' | 'skipped' | 'missed' | 'refused' | 'firing' | string;
  reason: string;
  workflowRunId: string | null;
  runId: string | null;
}

export interface Schedule {
  id: string;
  name: string;
  description: string;
  workflowId: string | null;
  experimentId: string | null;
  targetName: string | null;
  cron: string;
  timeZone: string;
  concurrencyPolicy: ConcurrencyPolicy;
  startingDeadlineSeconds: number;
  blackouts: Blackout[];
  enabled: boolean;
  pausedReason: string;
  nextFireAt: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  nextFireTimes: string[];
  history: ScheduleFire[];
}

const FIELDS = `id name description workflowId experimentId targetName cron timeZone concurrencyPolicy
  startingDeadlineSeconds blackouts enabled pausedReason nextFireAt createdBy createdAt updatedAt`;

const FIRE = `at scheduledFor outcome reason workflowRunId runId`;

export const SCHEDULES = `query Schedules { schedules { ${FIELDS} nextFireTimes(count: 3) history(last: 20) { ${FIRE} } } }`;

export const SCHEDULE = `query Schedule($id: ID!) { schedule(id: $id) { ${FIELDS} nextFireTimes(count: 5) history(last: 200) { ${FIRE} } } }`;

export const NEXT_FIRE_TIMES = `query NextFireTimes($cron: String, $timeZone: String!, $blackouts: JSON, $count: Int!) {
  nextFireTimes(cron: $cron, timeZone: $timeZone, blackouts: $blackouts, count: $count) {
    __typename ... on FireTimes { times } ${ERROR_FIELDS}
  }
}`;

const RESULT = `{ __typename ... on Schedule { ${FIELDS} } ${ERROR_FIELDS} }`;

export const CREATE_SCHEDULE = `mutation CreateSchedule($input: CreateScheduleInput!) { createSchedule(input: $input) ${RESULT} }`;
export const UPDATE_SCHEDULE = `mutation UpdateSchedule($input: UpdateScheduleInput!) { updateSchedule(input: $input) ${RESULT} }`;
export const PAUSE_SCHEDULE = `mutation PauseSchedule($id: ID!, $reason: String!) { pauseSchedule(id: $id, reason: $reason) ${RESULT} }`;
export const RESUME_SCHEDULE = `mutation ResumeSchedule($id: ID!) { resumeSchedule(id: $id) ${RESULT} }`;
export const DELETE_SCHEDULE = `mutation DeleteSchedule($id: ID!) { deleteSchedule(id: $id) { __typename ... on Deleted { id } ${ERROR_FIELDS} } }`;

export const POLICIES: { value: ConcurrencyPolicy; label: string; help: string }[] = [
  { value: 'forbid', label: 'forbid', help: 'skip a tick while the previous start is still active' },
  { value: 'allow', label: 'allow', help: 'start every tick, even if the previous is still active' },
  { value: 'replace', label: 'replace', help: 'abort the previous start, then start the new one' },
];

/** The newest tick that started something. */
export function lastFired(history: ScheduleFire[]): ScheduleFire | null {
  for (let i = history.length - 1; i >= 0; i--) if (history[i].outcome === 'fired') return history[i];
  return null;
}

/** A blackout window in words: "sat, sun", "every day 22:00–06:00". */
export function describeBlackout(b: Blackout): string {
  const days = b.days?.length ? b.days.join(', ') : 'every day';
  return b.start && b.end ? `${days} ${b.start}–${b.end}` : days;
}
