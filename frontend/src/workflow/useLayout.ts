import { useEffect, useState } from 'react';
import { layoutWorkflow, type LaneSpec, type Layout, type LayoutStep } from './layout';

/** The layout of a graph, recomputed when its shape (not its states) changes. */
export function useLayout(steps: LayoutStep[], lanes: LaneSpec[], nodeH?: number): Layout | null {
  const shape = JSON.stringify([steps, lanes, nodeH]);
  const [layout, setLayout] = useState<{ shape: string; layout: Layout } | null>(null);
  useEffect(() => {
    let live = true;
    const [s, l, h] = JSON.parse(shape) as [LayoutStep[], LaneSpec[], number | null];
    layoutWorkflow(s, l, h ?? undefined).then((out) => {
      if (live) setLayout({ shape, layout: out });
    });
    return () => {
      live = false;
    };
  }, [shape]);
  return layout?.layout ?? null;
}
