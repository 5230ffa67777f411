import { Badge, type MantineColor } from '@mantine/core';
import type { Phase } from '../api/types';

export const PHASE_COLOR: Record<Phase, MantineColor> = {
  pending: 'gray',
  injecting: 'yellow',
  running: 'orange',
  paused: 'blue',
  recovering: 'grape',
  completed: 'green',
  aborted: 'dark',
  failed: 'red',
};

export function PhaseBadge({ phase, stuck, size = 'md' }: { phase: Phase; stuck?: boolean; size?: 'sm' | 'md' | 'lg' | 'xl' }) {
  if (stuck) {
    return (
      <Badge color="red" variant="filled" size={size} data-testid="phase" data-phase={phase}>
        {phase} · stuck
      </Badge>
    );
  }
  return (
    <Badge color={PHASE_COLOR[phase] ?? 'gray'} variant="light" size={size} data-testid="phase" data-phase={phase}>
      {phase}
    </Badge>
  );
}

const TARGET_COLOR: Record<string, MantineColor> = {
  selected: 'gray',
  injected: 'orange',
  recovered: 'green',
  failed: 'red',
};

export function TargetPhaseBadge({ phase }: { phase: string }) {
  return (
    <Badge color={TARGET_COLOR[phase] ?? 'gray'} variant="light" data-testid="target-phase">
      {phase}
    </Badge>
  );
}

export function VerdictBadge({ verdict }: { verdict: string }) {
  const color = verdict === 'pass' ? 'green' : verdict === 'fail' ? 'red' : 'gray';
  return (
    <Badge color={color} variant={verdict === 'none' ? 'outline' : 'filled'} data-testid="verdict">
      {verdict === 'none' ? 'no verdict' : verdict}
    </Badge>
  );
}
