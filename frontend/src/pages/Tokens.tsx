import { Alert, Badge, Button, Code, CopyButton, Group, Modal, Paper, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { IconKey } from '@tabler/icons-react';
import { useState } from 'react';
import { useAuth } from '../auth';
import { useMutation, useQuery } from 'urql';
import { asHubError } from '../api/client';
import { API_TOKENS, CREATE_API_TOKEN, REVOKE_API_TOKEN } from '../api/documents';
import type { HubError } from '../api/types';
import { ErrorAlert } from '../components/ErrorText';
import { ago, dateTime } from '../format';

type Token = { id: string; name: string; role: string; prefix: string; createdAt: string; revokedAt: string | null; lastUsedAt: string | null };

const ROLES = [
  { value: 'viewer', label: 'viewer — sees every page, changes nothing' },
  { value: 'operator', label: 'operator — starts, stops and halts runs' },
  { value: 'admin', label: 'admin — also backends and tokens' },
  { value: 'agent', label: 'agent — a native injector registering itself' },
];

/** Admins issue and revoke API tokens; a new token is shown once. */
export function TokensPage() {
  const { session } = useAuth();
  const [{ data, error }, refetch] = useQuery<{ apiTokens: Token[] }>({ query: API_TOKENS });
  const [createState, create] = useMutation(CREATE_API_TOKEN);
  const [revokeState, revoke] = useMutation(REVOKE_API_TOKEN);
  const [name, setName] = useState('');
  const [role, setRole] = useState<string | null>('viewer');
  const [issued, setIssued] = useState<{ token: string; name: string; role: string } | null>(null);
  const [refusal, setRefusal] = useState<HubError | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);

  const issue = async () => {
    setRefusal(null);
    setIssued(null);
    const res = await create({ name, role });
    const answer = res.data?.createApiToken;
    const err = asHubError(answer);
    if (err) setRefusal(err);
    else if (answer) {
      setIssued({ token: answer.token, name: answer.apiToken.name, role: answer.apiToken.role });
      setName('');
      refetch({ requestPolicy: 'network-only' });
    }
  };
  const confirmRevoke = async () => {
    if (!revoking) return;
    const res = await revoke({ id: revoking.id });
    const err = asHubError(res.data?.revokeApiToken);
    if (err) setRefusal(err);
    setRevoking(null);
    refetch({ requestPolicy: 'network-only' });
  };

  return (
    <Stack maw={1100}>
      <div>
        <Title order={2}>API tokens</Title>
        <Text c="dimmed" size="sm">
          Everyone and everything that calls the hub signs in with a token. The hub keeps only a hash: a new token is
          shown once.
        </Text>
      </div>
      <Paper withBorder p="md">
        <Group align="flex-end">
          <TextInput
            label="Name"
            description="who or what will use it"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={refusal?.field?.[0] === 'name' ? refusal.message : undefined}
            w={260}
            data-testid="token-name"
          />
          <Select label="Role" data={ROLES} value={role} onChange={setRole} allowDeselect={false} w={360} />
          <Button leftSection={<IconKey size={16} />} onClick={issue} loading={createState.fetching} disabled={!name.trim()} data-testid="issue-token">
            Issue token
          </Button>
        </Group>
        <Stack mt="sm">
          <ErrorAlert hubError={refusal && refusal.field?.[0] !== 'name' ? refusal : null} error={createState.error ?? revokeState.error} />
          {issued && (
            <Alert color="green" title={`Token for ${issued.name} (${issued.role})`} data-testid="issued-token">
              <Text size="sm" mb={6}>
                Copy it now; it will not be shown again.
              </Text>
              <Group gap="xs">
                <Code fz="sm">{issued.token}</Code>
                <CopyButton value={issued.token}>
                  {({ copied, copy }) => (
                    <Button size="compact-sm" variant="light" onClick={copy}>
                      {copied ? 'Copied' : 'Copy'}
                    </Button>
                  )}
                </CopyButton>
              </Group>
            </Alert>
          )}
        </Stack>
      </Paper>
      <ErrorAlert error={error} title="Could not load tokens" />
      <Table verticalSpacing="xs" data-testid="tokens-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Role</Table.Th>
            <Table.Th>Starts with</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Last used</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(data?.apiTokens ?? []).map((t) => (
            <Table.Tr key={t.id} data-testid="token-row" data-name={t.name}>
              <Table.Td>{t.name}</Table.Td>
              <Table.Td>
                <Badge variant="outline">{t.role}</Badge>
              </Table.Td>
              <Table.Td>
                <Code>{t.prefix}…</Code>
              </Table.Td>
              <Table.Td>{dateTime(t.createdAt)}</Table.Td>
              <Table.Td>{t.lastUsedAt ? ago(t.lastUsedAt) : 'never'}</Table.Td>
              <Table.Td>
                {t.revokedAt ? (
                  <Badge color="gray">revoked {ago(t.revokedAt)}</Badge>
                ) : (
                  <Button size="xs" variant="subtle" color="red" onClick={() => setRevoking(t)}>
                    Revoke
                  </Button>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Modal opened={!!revoking} onClose={() => setRevoking(null)} title={`Revoke ${revoking?.name}?`}>
        <Stack>
          <Text>Every call with this token is refused from now on, including open live updates when they reconnect.</Text>
          {revoking?.name === session?.name && (
            <Alert color="red">This is the token you are signed in with: you will be signed out.</Alert>
          )}
          {revoking?.role === 'agent' && (
            <Alert color="orange">The agent can no longer heartbeat; the hub will mark it offline.</Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRevoking(null)}>
              Cancel
            </Button>
            <Button color="red" onClick={confirmRevoke} loading={revokeState.fetching}>
              Revoke
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
