import { Badge, Group, Tooltip } from '@mantine/core';
import type { FaultType } from '../api/types';

export const TIME_CONTROL_HELP: Record<string, string> = {
  instant: 'instant: applied once (a kill); nothing to recover',
  timed: 'timed: the hub holds the fault for the duration, then recovers it',
  external: 'external: the tool runs to its own end; the hub polls it and can still abort',
};

export function FaultBadges({ fault }: { fault: Pick<FaultType, 'category' | 'timeControl' | 'reversible' | 'targetKind'> }) {
  return (
    <Group gap={6}>
      <Badge variant="light" color="indigo">
        {fault.category}
      </Badge>
      {/* "process" as category and as target kind is one badge, not "PROCESS PROCESS". */}
      {fault.targetKind.toLowerCase() !== fault.category.toLowerCase() && (
        <Badge variant="outline" color="gray">
          {fault.targetKind}
        </Badge>
      )}
      <Tooltip label={TIME_CONTROL_HELP[fault.timeControl]}>
        <Badge variant="light" color="cyan">
          {fault.timeControl}
        </Badge>
      </Tooltip>
      <Tooltip label={fault.reversible ? 'can be paused and recovered' : 'cannot be undone once applied'}>
        <Badge variant="light" color={fault.reversible ? 'teal' : 'orange'}>
          {fault.reversible ? 'reversible' : 'irreversible'}
        </Badge>
      </Tooltip>
    </Group>
  );
}
