// The nodes of a workflow graph: one per step (or lane probe), coloured by its state, and
// the lanes (steady state, stop conditions) drawn as labelled areas behind them.
import { Anchor, Badge, Group, Text } from '@mantine/core';
import { IconBolt, IconClock, IconHandStop, IconHeartbeat } from '@tabler/icons-react';
import { Handle, Position, type Node, type NodeProps } from '@xyflow/react';
import { Link } from 'react-router-dom';
import { clock } from '../../format';

export type StepNodeData = {
  title: string;
  kind: string;
  subtitle: string;
  state?: string;
  startedAt?: string | null;
  endedAt?: string | null;
  runId?: string | null;
  runPhase?: string | null;
  stuck?: boolean;
  reason?: string;
  issues?: string[];
  handles?: boolean;
};

export type StepNodeType = Node<StepNodeData, 'step'>;
export type LaneNodeData = { label: string; testId: string };
export type LaneNodeType = Node<LaneNodeData, 'lane'>;

export const STATE_COLOR: Record<string, string> = {
  waiting: '#adb5bd',
  running: '#1c7ed6',
  passed: '#2f9e44',
  failed: '#e03131',
  skipped: '#868e96',
  aborted: '#343a40',
};

const STATE_FILL: Record<string, string> = {
  waiting: '#f8f9fa',
  running: '#e7f5ff',
  passed: '#ebfbee',
  failed: '#fff5f5',
  skipped: '#f1f3f5',
  aborted: '#e9ecef',
};

const ICON = { fault: IconBolt, probe: IconHeartbeat, wait: IconClock, approval: IconHandStop } as const;

export function StepNode({ data, selected }: NodeProps<StepNodeType>) {
  const Icon = ICON[data.kind as keyof typeof ICON] ?? IconHeartbeat;
  const bad = (data.issues?.length ?? 0) > 0 || data.stuck;
  const state = data.state;
  const border = bad ? '#e03131' : state ? STATE_COLOR[state] : selected ? '#4c6ef5' : '#868e96';
  const label = `${data.kind} step ${data.title}${state ? `, ${state}` : ''}${bad ? ', has problems' : ''}`;
  return (
    <div
      className="wf-node"
      role="group"
      aria-label={label}
      data-testid="wf-node"
      data-node={data.title}
      data-state={state ?? ''}
      data-invalid={bad ? 'true' : 'false'}
      style={{
        borderColor: border,
        background: state ? STATE_FILL[state] : '#fff',
        borderStyle: state === 'skipped' ? 'dashed' : 'solid',
        boxShadow: selected ? '0 0 0 3px rgba(76,110,245,.35)' : undefined,
      }}
    >
      {data.handles !== false && <Handle type="target" position={Position.Left} aria-label={`into ${data.title}`} />}
      <Group gap={6} wrap="nowrap" justify="space-between">
        <Group gap={6} wrap="nowrap" style={{ minWidth: 0 }}>
          <Icon size={16} color={border} style={{ flexShrink: 0 }} />
          <Text fw={600} size="sm" truncate>
            {data.title}
          </Text>
        </Group>
        {state && (
          <Badge size="xs" variant="filled" color={state === 'passed' ? 'green' : state === 'failed' ? 'red' : state === 'running' ? 'blue' : 'gray'}>
            {state}
          </Badge>
        )}
      </Group>
      <Text size="xs" c="dimmed" truncate title={data.subtitle}>
        {data.subtitle}
      </Text>
      {(data.startedAt || data.endedAt) && (
        <Text size="xs" data-testid="wf-node-times">
          {clock(data.startedAt)} → {data.endedAt ? clock(data.endedAt) : '…'}
        </Text>
      )}
      {data.runId && (
        <Anchor component={Link} to={`/runs/${data.runId}`} size="xs" className="nodrag" data-testid="wf-node-run">
          run {data.runId.slice(0, 8)}
          {data.runPhase ? ` · ${data.runPhase}` : ''}
          {data.stuck ? ' · stuck' : ''}
        </Anchor>
      )}
      {data.reason && !data.issues?.length && (
        <Text size="xs" c={state === 'failed' || data.stuck ? 'red' : 'dimmed'} lineClamp={2} title={data.reason}>
          {data.reason}
        </Text>
      )}
      {data.issues?.map((m, i) => (
        <Text key={i} size="xs" c="red" lineClamp={2} title={m} data-testid="wf-node-issue">
          {m}
        </Text>
      ))}
      {data.handles !== false && <Handle type="source" position={Position.Right} aria-label={`out of ${data.title}`} />}
    </div>
  );
}

export function LaneNode({ data }: NodeProps<LaneNodeType>) {
  return (
    <div className="wf-lane" data-testid={data.testId} aria-label={data.label} role="region">
      <Text size="xs" fw={700} c="dimmed" tt="uppercase" px={8} pt={6}>
        {data.label}
      </Text>
    </div>
  );
}

export const NODE_TYPES = { step: StepNode, lane: LaneNode };
