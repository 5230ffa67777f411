import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { storedToken } from '../auth';

// Served by the hub itself at GET /graphql, so the IDE works without internet access.
// A token the console signed in with (same tab) is filled into the headers editor.
const token = storedToken();
const auth = token ? { Authorization: `Bearer ${token}` } : undefined;
// Headers typed into the editor win over the stored token.
const headers = token ? '' : JSON.stringify({ Authorization: 'Bearer <paste an API token>' }, null, 2);
const origin = window.location.origin;
const fetcher = createGraphiQLFetcher({
  url: `${origin}/graphql`,
  headers: auth,
  subscriptionUrl: `${origin.replace(/^http/, 'ws')}/graphql`,
  // The hub reads a websocket's token from connection_init, not from headers.
  wsConnectionParams: auth,
});

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultHeaders={headers}
      defaultEditorToolsVisibility={token ? false : 'headers'}
      defaultQuery={'{\n  viewer {\n    name\n    role\n  }\n}\n'}
    />
  </StrictMode>,
);
