import { Center, Loader } from '@mantine/core';
import { lazy, Suspense, useMemo } from 'react';
import { Navigate, Route, Routes } from 'react-router-dom';
import { Provider } from 'urql';
import { makeClient } from './api/client';
import { useAuth } from './auth';
import { Shell } from './components/Shell';
import { SignInPage } from './pages/SignIn';

// Pages load on first visit: the generated forms and the charts are the heavy parts.
const CatalogPage = lazy(() => import('./pages/Catalog').then((m) => ({ default: m.CatalogPage })));
const ExperimentsPage = lazy(() => import('./pages/Experiments').then((m) => ({ default: m.ExperimentsPage })));
const FaultPage = lazy(() => import('./pages/Fault').then((m) => ({ default: m.FaultPage })));
const ImportPage = lazy(() => import('./pages/Import').then((m) => ({ default: m.ImportPage })));
const FleetPage = lazy(() => import('./pages/Fleet').then((m) => ({ default: m.FleetPage })));
const NewExperimentPage = lazy(() => import('./pages/NewExperiment').then((m) => ({ default: m.NewExperimentPage })));
const RunPage = lazy(() => import('./pages/Run').then((m) => ({ default: m.RunPage })));
const EventSinksPage = lazy(() => import('./pages/EventSinks').then((m) => ({ default: m.EventSinksPage })));
const EventSinkDeliveriesPage = lazy(() => import('./pages/EventSinkDeliveries').then((m) => ({ default: m.EventSinkDeliveriesPage })));
const TokensPage = lazy(() => import('./pages/Tokens').then((m) => ({ default: m.TokensPage })));
const WorkflowsPage = lazy(() => import('./pages/Workflows').then((m) => ({ default: m.WorkflowsPage })));
const WorkflowRunsPage = lazy(() => import('./pages/WorkflowRuns').then((m) => ({ default: m.WorkflowRunsPage })));
const WorkflowRunPage = lazy(() => import('./pages/WorkflowRun').then((m) => ({ default: m.WorkflowRunPage })));
const WorkflowEditorPage = lazy(() => import('./pages/WorkflowEditor').then((m) => ({ default: m.WorkflowEditorPage })));
const ThresholdSearchesPage = lazy(() => import('./pages/ThresholdSearches').then((m) => ({ default: m.ThresholdSearchesPage })));
const ThresholdSearchPage = lazy(() => import('./pages/ThresholdSearch').then((m) => ({ default: m.ThresholdSearchPage })));
const NewThresholdSearchPage = lazy(() => import('./pages/NewThresholdSearch').then((m) => ({ default: m.NewThresholdSearchPage })));
const SchedulesPage = lazy(() => import('./pages/Schedules').then((m) => ({ default: m.SchedulesPage })));
const SchedulePage = lazy(() => import('./pages/Schedule').then((m) => ({ default: m.SchedulePage })));
const RunsPage = lazy(() => import('./pages/Runs').then((m) => ({ default: m.RunsPage })));

const loading = (
  <Center h={200}>
    <Loader />
  </Center>
);

export function App() {
  const { session, signOut } = useAuth();
  const token = session?.token;
  const client = useMemo(() => (token ? makeClient(token, signOut) : null), [token, signOut]);

  if (!session || !client) return <SignInPage />;
  return (
    <Provider value={client}>
      <Shell>
        <Suspense fallback={loading}>
          <Routes>
            <Route path="/" element={<Navigate to="/runs" replace />} />
            <Route path="/catalog" element={<CatalogPage />} />
            <Route path="/catalog/:adapter/:name" element={<FaultPage />} />
            <Route path="/experiments" element={<ExperimentsPage />} />
            <Route path="/experiments/new" element={<NewExperimentPage />} />
            <Route path="/runs" element={<RunsPage />} />
            <Route path="/runs/:id" element={<RunPage />} />
            <Route path="/workflows" element={<WorkflowsPage />} />
            <Route path="/workflows/new" element={<WorkflowEditorPage />} />
            <Route path="/workflows/:id/edit" element={<WorkflowEditorPage />} />
            <Route path="/workflow-runs" element={<WorkflowRunsPage />} />
            <Route path="/workflow-runs/:id" element={<WorkflowRunPage />} />
            <Route path="/schedules" element={<SchedulesPage />} />
            <Route path="/schedules/:id" element={<SchedulePage />} />
            <Route path="/threshold-searches" element={<ThresholdSearchesPage />} />
            <Route path="/threshold-searches/new" element={<NewThresholdSearchPage />} />
            <Route path="/threshold-searches/:id" element={<ThresholdSearchPage />} />
            <Route path="/fleet" element={<FleetPage />} />
            <Route path="/import" element={<ImportPage />} />
            <Route path="/tokens" element={<TokensPage />} />
            <Route path="/event-sinks" element={<EventSinksPage />} />
            <Route path="/event-sinks/:id" element={<EventSinkDeliveriesPage />} />
            <Route path="*" element={<Navigate to="/runs" replace />} />
          </Routes>
        </Suspense>
      </Shell>
    </Provider>
  );
}
