import { Button, Group, List, Modal, Stack, Text, TextInput } from '@mantine/core';
import { IconArchive, IconHandStop, IconPlayerPause, IconPlayerPlay, IconShieldCheck } from '@tabler/icons-react';
import { useState, type ReactNode } from 'react';
import { useMutation } from 'urql';
import { asHubError } from '../api/client';
import { ABORT_RUN, ARCHIVE_RUN, FORCE_RELEASE_RUN, PAUSE_RUN, RESUME_RUN } from '../api/documents';
import { TERMINAL, type HubError, type Run } from '../api/types';
import { ErrorAlert } from './ErrorText';

type Action = 'pause' | 'resume' | 'abort' | 'forceRelease' | 'archive';

const DOCS = {
  pause: PAUSE_RUN,
  resume: RESUME_RUN,
  abort: ABORT_RUN,
  forceRelease: FORCE_RELEASE_RUN,
  archive: ARCHIVE_RUN,
} as const;

const RESULT_KEY: Record<Action, string> = {
  pause: 'pauseRun',
  resume: 'resumeRun',
  abort: 'abortRun',
  forceRelease: 'forceReleaseRun',
  archive: 'archiveRun',
};

/** What each button does, said before it is done. */
function explain(action: Action, run: Run): { title: string; body: ReactNode; confirm: string; color: string; needsReason: boolean } {
  const carrying = run.targets.filter((t) => t.mayCarryFault).map((t) => t.label);
  switch (action) {
    case 'pause':
      return {
        title: 'Pause this run?',
        body: 'The fault is reverted on every target now, and the clock stops. Resume applies it again for the time that was left.',
        confirm: 'Pause',
        color: 'blue',
        needsReason: false,
      };
    case 'resume':
      return {
        title: 'Resume this run?',
        body: 'The fault is applied again to every target for the time that was left.',
        confirm: 'Resume',
        color: 'orange',
        needsReason: false,
      };
    case 'abort':
      return {
        title: 'Abort this run?',
        body: 'The run stops now: every target is recovered, without waiting for an injection in progress. It ends as aborted once every target is clean.',
        confirm: 'Abort run',
        color: 'red',
        needsReason: false,
      };
    case 'forceRelease':
      return {
        title: 'Force-release this run?',
        body: (
          <Stack gap="xs">
            <Text>
              The hub has not managed to recover every target. Force-release tells it to <b>stop trying</b> and end the run as
              if the targets were clean. The hub will not touch them again.
            </Text>
            <Text fw={600}>Do this only after you have checked, by hand, that each of these is clean:</Text>
            <List>
              {(carrying.length ? carrying : run.targets.map((t) => t.label)).map((l) => (
                <List.Item key={l}>{l}</List.Item>
              ))}
            </List>
            <Text size="sm" c="dimmed">
              Your name and reason are recorded in the run's events and the audit log.
            </Text>
          </Stack>
        ),
        confirm: 'I checked: force-release',
        color: 'red',
        needsReason: true,
      };
    case 'archive':
      return {
        title: 'Archive this run?',
        body: 'The run is hidden from the runs list (use "Show archived" to see it). Nothing is deleted.',
        confirm: 'Archive',
        color: 'gray',
        needsReason: false,
      };
  }
}

export function RunActions({ run, onUpdated }: { run: Run; onUpdated: (run: Run) => void }) {
  const [action, setAction] = useState<Action | null>(null);
  const [reason, setReason] = useState('');
  const [hubError, setHubError] = useState<HubError | null>(null);
  const [{ fetching, error }, execute] = useMutation(action ? DOCS[action] : PAUSE_RUN);

  const terminal = TERMINAL.includes(run.phase);
  const can = {
    pause: run.phase === 'running' && run.reversible && run.desiredState === 'run',
    resume: run.phase === 'paused' && run.desiredState === 'pause',
    abort: !terminal && run.desiredState !== 'stop',
    forceRelease: run.phase === 'recovering',
    archive: terminal && !run.archived,
  };

  const openAction = (a: Action) => {
    setHubError(null);
    setReason('');
    setAction(a);
  };
  const confirm = async () => {
    if (!action) return;
    const vars: Record<string, string> = { id: run.id };
    if (action === 'abort') vars.reason = reason || 'aborted from the console';
    if (action === 'forceRelease') vars.reason = reason;
    const res = await execute(vars);
    const answer = res.data?.[RESULT_KEY[action]];
    const err = asHubError(answer);
    if (err) setHubError(err);
    else if (answer) {
      onUpdated(answer as Run);
      setAction(null);
    }
  };
  const info = action ? explain(action, run) : null;

  return (
    <>
      <Group gap="xs" data-testid="run-actions">
        {can.pause && (
          <Button variant="light" color="blue" leftSection={<IconPlayerPause size={16} />} onClick={() => openAction('pause')}>
            Pause
          </Button>
        )}
        {can.resume && (
          <Button variant="light" color="orange" leftSection={<IconPlayerPlay size={16} />} onClick={() => openAction('resume')}>
            Resume
          </Button>
        )}
        {can.abort && (
          <Button color="red" leftSection={<IconHandStop size={16} />} onClick={() => openAction('abort')} data-testid="abort">
            Abort
          </Button>
        )}
        {can.forceRelease && (
          <Button
            color="red"
            variant={run.stuck ? 'filled' : 'outline'}
            leftSection={<IconShieldCheck size={16} />}
            onClick={() => openAction('forceRelease')}
            data-testid="force-release"
          >
            Force-release
          </Button>
        )}
        {can.archive && (
          <Button variant="default" leftSection={<IconArchive size={16} />} onClick={() => openAction('archive')} data-testid="archive">
            Archive
          </Button>
        )}
      </Group>
      <Modal opened={!!action} onClose={() => setAction(null)} title={info?.title} size="md">
        {info && (
          <Stack>
            {typeof info.body === 'string' ? <Text>{info.body}</Text> : info.body}
            {(action === 'abort' || info.needsReason) && (
              <TextInput
                label="Reason"
                required={info.needsReason}
                placeholder={info.needsReason ? 'what you checked, e.g. "removed the tc rule on alpha by hand"' : 'optional'}
                value={reason}
                onChange={(e) => setReason(e.currentTarget.value)}
                data-autofocus
              />
            )}
            <ErrorAlert error={error} hubError={hubError} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setAction(null)}>
                Cancel
              </Button>
              <Button
                color={info.color}
                onClick={confirm}
                loading={fetching}
                disabled={info.needsReason && !reason.trim()}
                data-testid="confirm-action"
              >
                {info.confirm}
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
