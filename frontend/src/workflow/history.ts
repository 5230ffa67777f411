import { useCallback, useRef, useState } from 'react';

/** A value with undo and redo. Changes that say they continue the last one (typing in one
 * field, within a second) become one step of the history; a change to the same value is none. */
export function useHistory<T>(initial: T) {
  const [state, setState] = useState<{ past: T[]; present: T; future: T[] }>({ past: [], present: initial, future: [] });
  const last = useRef<{ tag: string; at: number } | null>(null);
  const commit = useCallback((next: T, tag?: string) => {
    setState((cur) => {
      if (JSON.stringify(next) === JSON.stringify(cur.present)) return cur;
      const now = Date.now();
      const merge = tag && last.current && last.current.tag === tag && now - last.current.at < 1000;
      last.current = tag ? { tag, at: now } : null;
      return { past: merge ? cur.past : [...cur.past.slice(-99), cur.present], present: next, future: [] };
    });
  }, []);
  const reset = useCallback((value: T) => {
    last.current = null;
    setState({ past: [], present: value, future: [] });
  }, []);
  const undo = useCallback(() => {
    last.current = null;
    setState((cur) => (cur.past.length ? { past: cur.past.slice(0, -1), present: cur.past[cur.past.length - 1], future: [cur.present, ...cur.future] } : cur));
  }, []);
  const redo = useCallback(() => {
    last.current = null;
    setState((cur) => (cur.future.length ? { past: [...cur.past, cur.present], present: cur.future[0], future: cur.future.slice(1) } : cur));
  }, []);
  return { value: state.present, commit, reset, undo, redo, canUndo: state.past.length > 0, canRedo: state.future.length > 0 };
}
