import { Box, Group, Paper, Text, ThemeIcon } from '@mantine/core';
import { IconCheck, IconFlag, IconHandStop, IconPlayerPause, IconX } from '@tabler/icons-react';
import type { Phase, Run } from '../api/types';
import { clock } from '../format';
import { phaseSteps, type Step } from '../rounds';
import { PHASE_COLOR } from './PhaseBadge';

function color(step: Step, run: Run): string {
  if (step.phase === 'end') return step.state === 'current' ? PHASE_COLOR[run.phase] : 'gray';
  if (step.phase === 'recovering' && run.stuck && step.state === 'current') return 'red';
  if (step.state === 'current') return PHASE_COLOR[step.phase as Phase];
  return step.state === 'done' ? 'teal' : 'gray';
}

export function PhaseTimeline({ run }: { run: Run }) {
  const list = phaseSteps(run);
  return (
    <Paper withBorder p="md" data-testid="timeline" aria-label={`Run phase: ${run.phase}`}>
      {/* Many rounds after pauses: the timeline scrolls inside its box, never the page. */}
      <Group gap={0} wrap="nowrap" align="flex-start" style={{ overflowX: 'auto' }} data-testid="timeline-steps">
        {list.map((s, i) => {
          const c = color(s, run);
          const current = s.state === 'current';
          return (
            <Group key={i} gap={0} wrap="nowrap" style={{ flex: i === list.length - 1 ? '0 0 auto' : '1 0 auto' }} align="flex-start">
              <Box ta="center" w={104} style={{ flexShrink: 0 }} data-step={s.phase} data-at={s.at ?? ''} data-state={s.state} aria-current={current ? 'step' : undefined}>
                <ThemeIcon
                  radius="xl"
                  size={current ? 34 : 26}
                  color={c}
                  variant={s.state === 'future' ? 'light' : 'filled'}
                  style={current ? { boxShadow: `0 0 0 4px var(--mantine-color-${c}-2)` } : undefined}
                >
                  {s.phase === 'end' && s.state === 'current' ? (
                    run.phase === 'completed' ? <IconFlag size={16} /> : run.phase === 'aborted' ? <IconHandStop size={16} /> : <IconX size={16} />
                  ) : s.state === 'done' ? (
                    <IconCheck size={14} />
                  ) : s.phase === 'paused' ? (
                    <IconPlayerPause size={14} />
                  ) : (
                    <Text size="xs" fw={700} c={s.state === 'future' ? 'dimmed' : 'white'}>
                      {i + 1}
                    </Text>
                  )}
                </ThemeIcon>
                <Text size="sm" fw={current ? 700 : 500} c={s.state === 'future' ? 'dimmed' : undefined} mt={4}>
                  {s.label}
                </Text>
                <Text size="xs" c="dimmed">
                  {s.at ? clock(s.at) : ''}
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
