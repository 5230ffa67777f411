import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useMemo, useState } from 'react';
import { useClient, useQuery } from 'urql';
import { DISCOVER } from './api/documents';
import type { DiscoveredTarget, JsonObject, JsonSchema } from './api/types';

const AGENT_NAMES = `query AgentNames { agents { name online } }`;

type Suggestions = { agents: string[]; pids: string[]; names: string[] };

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What the selector's fields can offer while the user types: the agents the hub knows and,
 * for a process selector, the processes the adapter's discovery finds on them (by the name
 * typed so far, or all of them). */
export function useTargetSuggestions(
  faultId: string | null,
  backend: string | null,
  schema: JsonSchema | undefined,
  selector: JsonObject,
): Suggestions {
  const props = schema?.properties ?? {};
  const wantsAgents = 'agents' in props;
  const processSelector = 'pid' in props && 'pattern' in props;
  const [{ data }] = useQuery<{ agents: { name: string; online: boolean }[] }>({ query: AGENT_NAMES, pause: !wantsAgents });
  const client = useClient();
  const [found, setFound] = useState<DiscoveredTarget[]>([]);

  const typedName = typeof selector.name === 'string' ? selector.name : '';
  const probe = useMemo(() => {
    if (!faultId || !backend || !processSelector) return null;
    const scope: JsonObject = { pattern: typedName ? escapeRegex(typedName) : '.', limit: 50 };
    if (Array.isArray(selector.agents) && selector.agents.length) scope.agents = selector.agents;
    if (selector.labels && typeof selector.labels === 'object') scope.labels = selector.labels;
    return JSON.stringify({ faultType: faultId, backend, selector: scope });
  }, [faultId, backend, processSelector, typedName, selector.agents, selector.labels]);
  const [debounced] = useDebouncedValue(probe, 400);

  useEffect(() => {
    if (!debounced) {
      setFound([]);
      return;
    }
    let cancelled = false;
    client
      .query(DISCOVER, { input: JSON.parse(debounced) }, { requestPolicy: 'network-only' })
      .toPromise()
      .then((res) => {
        if (!cancelled) setFound(res.data?.discoverTargets?.targets ?? []);
      });
    return () => {
      cancelled = true;
    };
  }, [debounced, client]);

  return useMemo(() => {
    const agents = (data?.agents ?? []).filter((a) => a.online).map((a) => a.name);
    const pids = found.map((t) => String(t.attributes?.pid ?? t.id));
    const names = [...new Set(found.map((t) => String(t.attributes?.name ?? '')).filter(Boolean))];
    return { agents, pids, names };
  }, [data, found]);
}

/** The selector's schema with the suggestions as JSON Schema ``examples``: the form shows them
 * as the browser's own completion list (a datalist) on each field. */
export function withSuggestions(schema: JsonSchema, s: Suggestions): JsonSchema {
  const props = { ...(schema.properties ?? {}) };
  const agents = props.agents;
  if (agents && s.agents.length) props.agents = { ...agents, items: { ...agents.items, examples: s.agents } };
  if (props.pid && s.pids.length) props.pid = { ...props.pid, examples: s.pids.map(Number) };
  if (props.name && s.names.length) props.name = { ...props.name, examples: s.names };
  return { ...schema, properties: props };
}
