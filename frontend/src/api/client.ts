import { createClient as createWsClient } from 'graphql-ws';
import {
  Client,
  CombinedError,
  cacheExchange,
  fetchExchange,
  mapExchange,
  subscriptionExchange,
} from 'urql';
import type { HubError } from './types';

function wsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss:' : 'ws:'}//${host}/graphql`;
}

/** One urql client per signed-in token: HTTP for queries and mutations, graphql-transport-ws
 * for subscriptions (the hub reads the token from connection_init's payload). */
export function makeClient(token: string, onUnauthorized: () => void): Client {
  const ws = createWsClient({
    url: wsUrl(),
    connectionParams: { Authorization: `Bearer ${token}` },
    lazy: true,
    retryAttempts: Infinity,
    shouldRetry: () => true,
  });
  return new Client({
    url: '/graphql',
    requestPolicy: 'cache-and-network',
    fetchOptions: () => ({ headers: { Authorization: `Bearer ${token}` } }),
    exchanges: [
      mapExchange({
        onError(error) {
          if (error.response?.status === 401) onUnauthorized();
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
}

/** A query's error in words, for the place it happened. */
export function errorText(error: CombinedError | undefined): string | null {
  if (!error) return null;
  if (error.networkError) {
    if (error.response?.status === 401) return 'Your token was not accepted. Sign in again.';
    return `Could not reach the hub: ${error.networkError.message}`;
  }
  return error.graphQLErrors.map((e) => e.message).join('; ');
}

/** Mutations answer with the object or a typed error (interface Error {code message field}). */
export function asHubError(value: unknown): HubError | null {
  if (value && typeof value === 'object' && 'code' in value && 'message' in value) {
    return value as HubError;
  }
  return null;
}

/** Check a token by asking who it belongs to. */
export async function fetchViewer(token: string): Promise<{ name: string; role: string }> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { name role } }' }),
    });
  } catch (exc) {
    throw new Error(`Could not reach the hub: ${(exc as Error).message}`);
  }
  if (response.status === 401) throw new Error('The hub did not accept this token.');
  const body = await response.json();
  if (body.errors?.length) throw new Error(body.errors[0].message);
  return body.data.viewer;
}
