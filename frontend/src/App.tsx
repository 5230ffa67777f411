import { useMemo } from 'react';
import { Navigate, Route, Routes } from 'react-router-dom';
import { Provider } from 'urql';
import { makeClient } from './api/client';
import { useAuth } from './auth';
import { Shell } from './components/Shell';
import { CatalogPage } from './pages/Catalog';
import { ExperimentsPage } from './pages/Experiments';
import { FaultPage } from './pages/Fault';
import { FleetPage } from './pages/Fleet';
import { NewExperimentPage } from './pages/NewExperiment';
import { RunPage } from './pages/Run';
import { RunsPage } from './pages/Runs';
import { SignInPage } from './pages/SignIn';

export function App() {
  const { session, signOut } = useAuth();
  const token = session?.token;
  const client = useMemo(() => (token ? makeClient(token, signOut) : null), [token, signOut]);

  if (!session || !client) return <SignInPage />;
  return (
    <Provider value={client}>
      <Shell>
        <Routes>
          <Route path="/" element={<Navigate to="/runs" replace />} />
          <Route path="/catalog" element={<CatalogPage />} />
          <Route path="/catalog/:adapter/:name" element={<FaultPage />} />
          <Route path="/experiments" element={<ExperimentsPage />} />
          <Route path="/experiments/new" element={<NewExperimentPage />} />
          <Route path="/runs" element={<RunsPage />} />
          <Route path="/runs/:id" element={<RunPage />} />
          <Route path="/fleet" element={<FleetPage />} />
          <Route path="*" element={<Navigate to="/runs" replace />} />
        </Routes>
      </Shell>
    </Provider>
  );
}
