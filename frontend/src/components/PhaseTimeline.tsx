import { Box, Group, Paper, Text, ThemeIcon } from '@mantine/core';
import { IconCheck, IconFlag, IconHandStop, IconPlayerPause, IconX } from '@tabler/icons-react';
import type { HubEvent, Phase, Run } from '../api/types';
import { clock } from '../format';
import { PHASE_COLOR } from './PhaseBadge';

type Step = { phase: Phase | 'end'; label: string; at: string | null; state: 'done' | 'current' | 'skipped' | 'future' };

/** pending → injecting → running (→ paused) → recovering → end, with when each was entered. */
function steps(run: Run): Step[] {
  const entered = new Map<string, string>();
  for (const e of run.events as HubEvent[]) {
    if (e.kind === 'phase' && e.toPhase) entered.set(e.toPhase, e.at);
  }
  entered.set('pending', entered.get('pending') ?? run.createdAt);
  const order: Phase[] = ['pending', 'injecting', 'running'];
  if (entered.has('paused') || run.phase === 'paused') order.push('paused');
  order.push('recovering');
  const terminal = ['completed', 'aborted', 'failed'].includes(run.phase);
  const currentIndex = terminal ? order.length : order.indexOf(run.phase);
  const out: Step[] = order.map((phase, i) => ({
    phase,
    label: phase,
    at: entered.get(phase) ?? null,
    state: i === currentIndex ? 'current' : i < currentIndex ? (entered.has(phase) ? 'done' : 'skipped') : 'future',
  }));
  out.push({
    phase: 'end',
    label: terminal ? run.phase : 'end',
    at: run.endedAt,
    state: terminal ? 'current' : 'future',
  });
  return out;
}

function color(step: Step, run: Run): string {
  if (step.phase === 'end') return step.state === 'current' ? PHASE_COLOR[run.phase] : 'gray';
  if (step.phase === 'recovering' && run.stuck && step.state === 'current') return 'red';
  if (step.state === 'current') return PHASE_COLOR[step.phase as Phase];
  return step.state === 'done' ? 'teal' : 'gray';
}

export function PhaseTimeline({ run }: { run: Run }) {
  const list = steps(run);
  return (
    <Paper withBorder p="md" data-testid="timeline" aria-label={`Run phase: ${run.phase}`}>
      <Group gap={0} wrap="nowrap" align="flex-start">
        {list.map((s, i) => {
          const c = color(s, run);
          const current = s.state === 'current';
          return (
            <Group key={s.phase} gap={0} wrap="nowrap" style={{ flex: i === list.length - 1 ? '0 0 auto' : 1 }} align="flex-start">
              <Box ta="center" w={104} data-step={s.phase} data-state={s.state} aria-current={current ? 'step' : undefined}>
                <ThemeIcon
                  radius="xl"
                  size={current ? 34 : 26}
                  color={c}
                  variant={s.state === 'future' || s.state === 'skipped' ? 'light' : 'filled'}
                  style={current ? { boxShadow: `0 0 0 4px var(--mantine-color-${c}-2)` } : undefined}
                >
                  {s.phase === 'end' && s.state === 'current' ? (
                    run.phase === 'completed' ? <IconFlag size={16} /> : run.phase === 'aborted' ? <IconHandStop size={16} /> : <IconX size={16} />
                  ) : s.state === 'done' ? (
                    <IconCheck size={14} />
                  ) : s.phase === 'paused' ? (
                    <IconPlayerPause size={14} />
                  ) : s.state === 'skipped' ? (
                    <IconX size={12} />
                  ) : (
                    <Text size="xs" fw={700} c={s.state === 'future' ? 'dimmed' : 'white'}>
                      {i + 1}
                    </Text>
                  )}
                </ThemeIcon>
                <Text size="sm" fw={current ? 700 : 500} c={s.state === 'future' || s.state === 'skipped' ? 'dimmed' : undefined} mt={4}>
                  {s.label}
                </Text>
                <Text size="xs" c="dimmed">
                  {s.state === 'skipped' ? 'skipped' : s.at ? clock(s.at) : ''}
                </Text>
              </Box>
              {i < list.length - 1 && (
                <Box
                  style={{
                    flex: 1,
                    height: 2,
                    marginTop: 16,
                    background: s.state === 'done' ? 'var(--mantine-color-teal-5)' : 'var(--mantine-color-gray-3)',
                  }}
                />
              )}
            </Group>
          );
        })}
      </Group>
    </Paper>
  );
}
