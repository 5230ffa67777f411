// Automatic layout of a workflow graph: the steps' DAG by ELK (layered, left to right), with
// the steady-state and stop-condition lanes placed around it as areas of their own.
import ELK, { type ElkNode } from 'elkjs/lib/elk.bundled.js';

const elk = new ELK();

export const NODE_W = 230;
export const NODE_H = 96;
const GAP = 28;
const PAD = 16;
const LANE_HEAD = 28;

export interface LayoutStep {
  key: string;
  after: string[];
}

export interface LaneSpec {
  id: string;
  label: string;
  keys: string[];
  placement: 'left' | 'right' | 'top';
}

export interface LaneRect {
  id: string;
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Layout {
  positions: Record<string, { x: number; y: number }>;
  lanes: LaneRect[];
}

/** Lay the steps out with ELK, then the lanes: `top` lanes above everything, `left` before
 * the steps, `right` after them. A lane with no probes still gets room (a drop target). */
export async function layoutWorkflow(steps: LayoutStep[], lanes: LaneSpec[], nodeH = NODE_H): Promise<Layout> {
  const keys = new Set(steps.map((s) => s.key));
  const input: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.spacing.nodeNode': String(GAP),
      'elk.layered.spacing.nodeNodeBetweenLayers': '70',
      'elk.edgeRouting': 'ORTHOGONAL',
    },
    children: steps.map((s) => ({ id: s.key, width: NODE_W, height: nodeH })),
    edges: steps.flatMap((s) =>
      s.after.filter((a) => keys.has(a)).map((a) => ({ id: `${a}->${s.key}`, sources: [a], targets: [s.key] })),
    ),
  };
  const graph = await elk.layout(input);
  const dagW = Math.max(graph.width ?? 0, steps.length ? NODE_W : 0);
  const dagH = Math.max(graph.height ?? 0, steps.length ? nodeH : 0);
  const tall = (n: number) => LANE_HEAD + PAD + Math.max(1, n) * (nodeH + GAP) - GAP + PAD;
  const sideH = Math.max(dagH, ...lanes.filter((l) => l.placement !== 'top').map((l) => tall(l.keys.length) - LANE_HEAD - 2 * PAD));
  const laneW = NODE_W + 2 * PAD;
  const left = lanes.filter((l) => l.placement === 'left');
  const right = lanes.filter((l) => l.placement === 'right');
  const top = lanes.filter((l) => l.placement === 'top');

  const positions: Record<string, { x: number; y: number }> = {};
  const rects: LaneRect[] = [];
  const topH = top.length ? LANE_HEAD + PAD + nodeH + PAD : 0;
  const bodyY = top.length ? top.length * (topH + GAP) : 0;
  let x = 0;
  for (const lane of left) {
    rects.push({ id: lane.id, label: lane.label, x, y: bodyY, w: laneW, h: sideH + LANE_HEAD + 2 * PAD });
    lane.keys.forEach((k, i) => (positions[k] = { x: x + PAD, y: bodyY + LANE_HEAD + PAD + i * (nodeH + GAP) }));
    x += laneW + GAP * 2;
  }
  const dagX = x;
  for (const child of graph.children ?? []) positions[child.id] = { x: dagX + (child.x ?? 0), y: bodyY + LANE_HEAD + PAD + (child.y ?? 0) };
  x += dagW + (steps.length ? GAP * 2 : 0);
  for (const lane of right) {
    rects.push({ id: lane.id, label: lane.label, x, y: bodyY, w: laneW, h: sideH + LANE_HEAD + 2 * PAD });
    lane.keys.forEach((k, i) => (positions[k] = { x: x + PAD, y: bodyY + LANE_HEAD + PAD + i * (nodeH + GAP) }));
    x += laneW + GAP * 2;
  }
  const totalW = Math.max(x - GAP * 2, laneW);
  top.forEach((lane, li) => {
    const y = li * (topH + GAP);
    const w = Math.max(totalW, PAD * 2 + lane.keys.length * (NODE_W + GAP));
    rects.push({ id: lane.id, label: lane.label, x: 0, y, w, h: topH });
    lane.keys.forEach((k, i) => (positions[k] = { x: PAD + i * (NODE_W + GAP), y: y + LANE_HEAD + PAD }));
  });
  return { positions, lanes: rects };
}
