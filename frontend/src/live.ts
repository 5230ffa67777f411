import { useEffect, useRef } from 'react';
import { useSubscription } from 'urql';
import { EVENTS_FEED } from './api/documents';
import type { HubEvent } from './api/types';

/** Call ``refresh`` (at most once per ``ms``) whenever the hub writes an event, and every
 * ``pollMs`` as a fallback, so lists stay live without reloading. */
export function useLiveRefresh(refresh: () => void, { ms = 700, pollMs = 15000 } = {}) {
  const latest = useRef(refresh);
  const timer = useRef<number | null>(null);
  useEffect(() => {
    latest.current = refresh;
  });
  const [{ data }] = useSubscription<{ events: HubEvent }>({ query: EVENTS_FEED });
  useEffect(() => {
    if (!data || timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      latest.current();
    }, ms);
  }, [data, ms]);
  useEffect(() => {
    const id = window.setInterval(() => latest.current(), pollMs);
    return () => {
      window.clearInterval(id);
      if (timer.current !== null) window.clearTimeout(timer.current);
      timer.current = null;
    };
  }, [pollMs]);
}
