import { Alert, Button, Center, Code, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { fetchViewer } from '../api/client';
import type { Role } from '../api/types';
import { useAuth } from '../auth';

export function SignInPage() {
  const { signIn } = useAuth();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = token.trim();
    if (!value) {
      setError('Paste an API token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const viewer = await fetchViewer(value);
      signIn({ token: value, name: viewer.name, role: viewer.role as Role });
    } catch (exc) {
      setError((exc as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w={440} component="form" onSubmit={submit}>
        <Stack>
          <div>
            <Title order={2}>Chaos Hub</Title>
            <Text c="dimmed" size="sm">
              One console for every chaos tool.
            </Text>
          </div>
          <PasswordInput
            label="API token"
            description="Kept for this browser tab only."
            placeholder="chub_…"
            value={token}
            onChange={(e) => setToken(e.currentTarget.value)}
            error={error ?? undefined}
            autoFocus
            data-testid="token-input"
          />
          <Button type="submit" loading={busy}>
            Sign in
          </Button>
          <Alert variant="light" color="gray">
            <Text size="sm">
              <Code>chaoshub up</Code> prints an admin token when it starts and keeps it in{' '}
              <Code>&lt;data dir&gt;/admin-token</Code>. An admin can issue viewer and operator tokens.
            </Text>
          </Alert>
        </Stack>
      </Paper>
    </Center>
  );
}
