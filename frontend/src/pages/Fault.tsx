import { Anchor, Button, Code, Group, List, Paper, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { IconPlayerPlay } from '@tabler/icons-react';
import { Link, useParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { FAULT_TYPE } from '../api/documents';
import type { Backend, FaultType } from '../api/types';
import { useCan } from '../auth';
import { FaultOnBackend } from '../components/BackendHealth';
import { ErrorAlert } from '../components/ErrorText';
import { FaultBadges, TIME_CONTROL_HELP } from '../components/FaultBadges';
import { SchemaTable } from '../components/SchemaTable';

type Data = { faultType: FaultType | null; backends: Pick<Backend, 'id' | 'name' | 'adapter'>[] };

function Availability({ fault, backends }: { fault: FaultType; backends: Data['backends'] }) {
  if (!fault.installed)
    return (
      <Text c="orange">
        Not installed here: {fault.installHint}
      </Text>
    );
  if (fault.adapter === 'native') {
    if (!fault.availability.length)
      return <Text c="dimmed">No agent has registered yet. Start a native injector on a host to run this fault there.</Text>;
    return (
      <Table withTableBorder>
        <Table.Tbody>
          {fault.availability.map((a) => (
            <Table.Tr key={a.backend}>
              <Table.Td w={220}>{a.backend}</Table.Td>
              <Table.Td>
                {a.available ? <Text c="green">available</Text> : <Text c="orange">not available: {a.reason}</Text>}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    );
  }
  const mine = backends.filter((b) => b.adapter === fault.adapter);
  if (!mine.length)
    return (
      <Text c="orange">
        No {fault.adapter} backend is configured. An admin can add one on{' '}
        <Anchor component={Link} to="/fleet">
          Agents & backends
        </Anchor>
        .
      </Text>
    );
  return (
    <Table withTableBorder>
      <Table.Tbody>
        {mine.map((b) => (
          <Table.Tr key={b.id}>
            <Table.Td w={220}>{b.name}</Table.Td>
            <Table.Td>
              <FaultOnBackend backend={b.name} fault={fault.name} />
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function FaultPage() {
  const { adapter, name } = useParams();
  const id = `${adapter}/${name}`;
  const canOperate = useCan('operator');
  const [{ data, fetching, error }] = useQuery<Data>({ query: FAULT_TYPE, variables: { id } });
  const fault = data?.faultType;

  if (fetching && !data) return <Skeleton h={300} />;
  if (error) return <ErrorAlert error={error} title="Could not load this fault" />;
  if (!fault) return <Text>There is no fault type {id} in the catalog.</Text>;

  return (
    <Stack maw={1100}>
      <Group justify="space-between" align="flex-start">
        <div>
          <Anchor component={Link} to="/catalog" size="sm">
            ← Catalog
          </Anchor>
          <Title order={2}>{fault.title}</Title>
          <Code>{fault.id}</Code>
        </div>
        {canOperate && (
          <Button component={Link} to={`/experiments/new?fault=${encodeURIComponent(fault.id)}`} leftSection={<IconPlayerPlay size={16} />}>
            Use this fault
          </Button>
        )}
      </Group>
      <FaultBadges fault={fault} />
      <Paper withBorder p="md">
        <Text style={{ whiteSpace: 'pre-wrap' }}>{fault.description}</Text>
        <Text size="sm" c="dimmed" mt="sm">
          Time control — {TIME_CONTROL_HELP[fault.timeControl]}. {fault.reversible ? 'Reversible: it can be paused and is reverted on recovery.' : 'Irreversible: once applied it cannot be undone.'}
        </Text>
        {fault.requires.length > 0 && (
          <Text size="sm" mt="xs">
            Needs on the target: {fault.requires.map((r) => <Code key={r}>{r}</Code>)}
          </Text>
        )}
      </Paper>
      <Title order={4}>Parameters</Title>
      <SchemaTable schema={fault.params} empty="This fault takes no parameters." />
      <Title order={4}>Targets</Title>
      <Text size="sm" c="dimmed">
        Target kind <Code>{fault.targetKind}</Code>. {String(fault.selector.description ?? '')}
      </Text>
      <SchemaTable schema={fault.selector} empty="The adapter decides which selector keys it takes; see its validation message." />
      <Title order={4}>Where it can run now</Title>
      <Availability fault={fault} backends={data?.backends ?? []} />
      {fault.docs.length > 0 && (
        <>
          <Title order={4}>Documentation</Title>
          <List>
            {fault.docs.map((d) => (
              <List.Item key={d}>
                <Anchor href={d} target="_blank" rel="noreferrer">
                  {d}
                </Anchor>
              </List.Item>
            ))}
          </List>
        </>
      )}
    </Stack>
  );
}
