import { Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { IconCheck, IconHandStop, IconPlayerPause, IconPlayerPlay, IconX } from '@tabler/icons-react';
import { useState } from 'react';
import { useMutation } from 'urql';
import { asHubError } from '../../api/client';
import { TERMINAL, type HubError } from '../../api/types';
import {
  ABORT_WORKFLOW_RUN,
  APPROVE_STEP,
  PAUSE_WORKFLOW_RUN,
  REJECT_STEP,
  RESUME_WORKFLOW_RUN,
  type WorkflowRun,
} from '../../api/workflows';
import { ErrorAlert } from '../ErrorText';

type Action = { kind: 'pause' | 'resume' | 'abort' } | { kind: 'approve' | 'reject'; stepId: string; message: string };

const DOCS = {
  pause: [PAUSE_WORKFLOW_RUN, 'pauseWorkflowRun'],
  resume: [RESUME_WORKFLOW_RUN, 'resumeWorkflowRun'],
  abort: [ABORT_WORKFLOW_RUN, 'abortWorkflowRun'],
  approve: [APPROVE_STEP, 'approveStep'],
  reject: [REJECT_STEP, 'rejectStep'],
} as const;

/** What each button does, said before it is done (as the run page's actions do). */
function explain(a: Action): { title: string; body: string; confirm: string; color: string; comment: boolean } {
  switch (a.kind) {
    case 'pause':
      return {
        title: 'Pause this workflow run?',
        body: 'Every active fault is reverted and the workflow’s clocks stop (its deadlines move by the time paused). It stays paused until resumed or aborted.',
        confirm: 'Pause',
        color: 'blue',
        comment: false,
      };
    case 'resume':
      return { title: 'Resume this workflow run?', body: 'The paused faults are applied again for the time they had left, and the clocks run again.', confirm: 'Resume', color: 'orange', comment: false };
    case 'abort':
      return {
        title: 'Abort this workflow run?',
        body: 'Every active step stops now and every child run recovers its targets. The run ends as aborted once nothing is injected.',
        confirm: 'Abort workflow',
        color: 'red',
        comment: true,
      };
    case 'approve':
      return { title: `Approve “${a.stepId}”?`, body: a.message || 'The steps waiting on this approval go on.', confirm: 'Approve', color: 'green', comment: true };
    case 'reject':
      return { title: `Reject “${a.stepId}”?`, body: `${a.message ? a.message + ' — ' : ''}the step fails; only steps with when: ${a.stepId}.failed go on.`, confirm: 'Reject', color: 'red', comment: true };
  }
}

export function WorkflowRunActions({ run, onUpdated }: { run: WorkflowRun; onUpdated: (run: WorkflowRun) => void }) {
  const [action, setAction] = useState<Action | null>(null);
  const [comment, setComment] = useState('');
  const [hubError, setHubError] = useState<HubError | null>(null);
  const [{ fetching, error }, execute] = useMutation(action ? DOCS[action.kind][0] : PAUSE_WORKFLOW_RUN);
  const terminal = TERMINAL.includes(run.phase);
  const doc = run.document as { steps?: { id: string; approval?: { message?: string } }[] };
  const pending = run.steps.filter((s) => s.role === 'step' && s.kind === 'approval' && s.state === 'running');

  const open = (a: Action) => {
    setHubError(null);
    setComment('');
    setAction(a);
  };
  const confirm = async () => {
    if (!action) return;
    const vars: Record<string, string> =
      action.kind === 'approve' || action.kind === 'reject'
        ? { runId: run.id, stepId: action.stepId, comment }
        : action.kind === 'abort'
          ? { id: run.id, reason: comment || 'aborted from the console' }
          : { id: run.id };
    const res = await execute(vars);
    const answer = res.data?.[DOCS[action.kind][1]];
    const err = asHubError(answer);
    if (err) setHubError(err);
    else if (answer) {
      onUpdated(answer as WorkflowRun);
      setAction(null);
    }
  };
  const info = action ? explain(action) : null;
  return (
    <>
      <Group gap="xs" data-testid="workflow-actions">
        {pending.map((s) => {
          const message = doc.steps?.find((d) => d.id === s.stepId)?.approval?.message ?? '';
          return (
            <Group gap={4} key={s.stepId}>
              <Button color="green" leftSection={<IconCheck size={16} />} onClick={() => open({ kind: 'approve', stepId: s.stepId, message })} data-testid={`approve-${s.stepId}`}>
                Approve {s.stepId}
              </Button>
              <Button color="red" variant="light" leftSection={<IconX size={16} />} onClick={() => open({ kind: 'reject', stepId: s.stepId, message })} data-testid={`reject-${s.stepId}`}>
                Reject
              </Button>
            </Group>
          );
        })}
        {run.phase === 'running' && run.desiredState === 'run' && (
          <Button variant="light" color="blue" leftSection={<IconPlayerPause size={16} />} onClick={() => open({ kind: 'pause' })}>
            Pause
          </Button>
        )}
        {run.phase === 'paused' && (
          <Button variant="light" color="orange" leftSection={<IconPlayerPlay size={16} />} onClick={() => open({ kind: 'resume' })}>
            Resume
          </Button>
        )}
        {!terminal && run.desiredState !== 'stop' && (
          <Button color="red" leftSection={<IconHandStop size={16} />} onClick={() => open({ kind: 'abort' })} data-testid="abort">
            Abort
          </Button>
        )}
      </Group>
      <Modal opened={!!action} onClose={() => setAction(null)} title={info?.title} size="md">
        {info && (
          <Stack>
            <Text>{info.body}</Text>
            {info.comment && (
              <TextInput
                label={action?.kind === 'abort' ? 'Reason' : 'Comment'}
                placeholder="optional, recorded with your name"
                value={comment}
                onChange={(e) => setComment(e.currentTarget.value)}
                data-autofocus
              />
            )}
            <ErrorAlert error={error} hubError={hubError} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setAction(null)}>
                Cancel
              </Button>
              <Button color={info.color} onClick={confirm} loading={fetching} data-testid="confirm-action">
                {info.confirm}
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
