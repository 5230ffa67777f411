import { useElementSize } from '@mantine/hooks';
import { Controls, MarkerType, ReactFlow, type Edge, type Node, type ReactFlowInstance } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useEffect, useMemo, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import type { WorkflowRun, WorkflowStep } from '../../api/workflows';
import { asWorkflowDoc, branchOf, probeKindOf } from '../../workflow/model';
import type { LaneSpec } from '../../workflow/layout';
import { useLayout } from '../../workflow/useLayout';
import { NODE_TYPES, STATE_COLOR, type StepNodeData } from './nodes';

const ROLE_KEY: Record<string, string> = {
  step: 'step',
  'steadyState-before': 'before',
  'steadyState-after': 'after',
  stopCondition: 'stop',
};

export function nodeKey(s: Pick<WorkflowStep, 'role' | 'stepId'>): string {
  return `${ROLE_KEY[s.role] ?? s.role}:${s.stepId}`;
}

function subtitle(step: WorkflowStep, doc: ReturnType<typeof asWorkflowDoc>): string {
  const spec = doc.steps.find((d) => d.id === step.stepId);
  if (step.kind === 'fault') return String(spec?.fault?.faultType ?? step.run?.faultType ?? 'fault');
  if (step.kind === 'wait') return `wait ${spec?.wait?.seconds ?? '?'} s`;
  if (step.kind === 'approval') return String(spec?.approval?.message ?? 'approval');
  const probe = step.probe;
  const kind = probe?.kind ?? probeKindOf(spec?.probe);
  return `${kind} probe${probe ? ` · ${probe.passed}/${probe.checks} held` : ''}`;
}

/** A workflow run's graph: the steps' DAG, the steady state checked before (left) and after
 * (right), and the stop conditions watched above; every node coloured by its state. */
export function RunGraph({ run, height }: { run: WorkflowRun; height: number }) {
  const doc = useMemo(() => asWorkflowDoc(run.document), [run.document]);
  const main = useMemo(() => run.steps.filter((s) => s.role === 'step'), [run.steps]);
  const navigate = useNavigate();
  const { ref, width } = useElementSize();
  const [flow, setFlow] = useState<ReactFlowInstance | null>(null);
  const layoutSteps = main.map((s) => ({ key: nodeKey(s), after: s.after.map((a) => `step:${a}`) }));
  const lanes: LaneSpec[] = [
    { id: 'lane:stop', label: 'Stop conditions · watched while faults are held', placement: 'top', keys: run.steps.filter((s) => s.role === 'stopCondition').map(nodeKey) },
    { id: 'lane:before', label: 'Steady state · before', placement: 'left', keys: run.steps.filter((s) => s.role === 'steadyState-before').map(nodeKey) },
    { id: 'lane:after', label: 'Steady state · after', placement: 'right', keys: run.steps.filter((s) => s.role === 'steadyState-after').map(nodeKey) },
  ].filter((l) => l.keys.length || l.id !== 'lane:stop') as LaneSpec[];
  const layout = useLayout(layoutSteps, lanes, 110);

  const { nodes, edges } = useMemo(() => {
    if (!layout) return { nodes: [] as Node[], edges: [] as Edge[] };
    const nodes: Node[] = layout.lanes.map((l) => ({
      id: l.id,
      type: 'lane',
      position: { x: l.x, y: l.y },
      data: { label: l.label, testId: l.id.replace(':', '-') },
      style: { width: l.w, height: l.h },
      selectable: false,
      draggable: false,
      focusable: false,
      zIndex: -1,
    }));
    for (const s of run.steps) {
      const key = nodeKey(s);
      const data: StepNodeData = {
        title: s.stepId,
        kind: s.kind,
        subtitle: subtitle(s, doc),
        state: s.state,
        startedAt: s.startedAt,
        endedAt: s.endedAt,
        runId: s.runId,
        runPhase: s.run?.phase,
        stuck: !!s.run?.stuck || (s.run?.phase === 'recovering' && !!s.run?.error),
        reason: s.reason || (s.run?.phase === 'recovering' ? s.run?.error ?? '' : ''),
        handles: s.role === 'step',
      };
      nodes.push({ id: key, type: 'step', position: layout.positions[key] ?? { x: 0, y: 0 }, data, draggable: false });
    }
    const edges: Edge[] = [];
    for (const s of main) {
      const spec = doc.steps.find((d) => d.id === s.stepId);
      for (const a of s.after) {
        const branch = spec ? branchOf(spec, a) : null;
        const from = run.steps.find((x) => x.role === 'step' && x.stepId === a);
        const color = s.state === 'skipped' ? '#adb5bd' : from && from.state !== 'waiting' && from.state !== 'running' ? STATE_COLOR[s.state === 'waiting' ? 'passed' : s.state] : '#868e96';
        edges.push({
          id: `${a}->${s.stepId}`,
          source: `step:${a}`,
          target: `step:${s.stepId}`,
          label: branch ?? undefined,
          labelStyle: { fill: branch === 'failed' ? '#c92a2a' : '#2b8a3e', fontWeight: 700 },
          labelBgStyle: { fill: '#fff' },
          animated: s.state === 'running',
          style: { stroke: color, strokeWidth: 2, strokeDasharray: s.state === 'skipped' ? '5 4' : undefined },
          markerEnd: { type: MarkerType.ArrowClosed, color },
          data: { branch },
        });
      }
    }
    return { nodes, edges };
  }, [layout, run.steps, doc, main]);

  // The whole graph stays in view when the screen turns or the window is resized.
  useEffect(() => {
    if (flow && width && nodes.length) window.requestAnimationFrame(() => flow.fitView({ padding: 0.08 }));
  }, [flow, width, nodes.length]);

  return (
    <div className="wf-canvas" style={{ height }} data-testid="workflow-graph" ref={ref}>
      {layout && (
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          fitView
          onInit={setFlow}
          onNodeClick={(_e, node) => {
            const runId = (node.data as StepNodeData).runId;
            if (runId) navigate(`/runs/${runId}`);
          }}
          fitViewOptions={{ padding: 0.08 }}
          minZoom={0.2}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          proOptions={{ hideAttribution: true }}
          preventScrolling={false}
          zoomOnScroll={false}
          panOnScroll={false}
        >
          <Controls showInteractive={false} />
        </ReactFlow>
      )}
    </div>
  );
}
