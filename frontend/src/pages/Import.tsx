import { Alert, Badge, Button, Code, FileInput, Group, Paper, Select, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { IconFileImport } from '@tabler/icons-react';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useMutation } from 'urql';
import { asHubError } from '../api/client';
import type { HubError } from '../api/types';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';

const IMPORT_DOCUMENT = `mutation($document: String!, $format: String!, $backend: String, $agent: String, $create: Boolean!) {
  importDocument(document: $document, format: $format, backend: $backend, agent: $agent, create: $create) {
    __typename
    ... on ImportedDocument { kind source yaml notes { path why } created }
    ... on Error { code message field }
  }
}`;

type Imported = {
  kind: string;
  source: string;
  yaml: string;
  notes: { path: string; why: string }[];
  created: Record<string, string>;
};

const FORMATS = [
  { value: 'auto', label: 'told by the document' },
  { value: 'chaos-mesh', label: 'Chaos Mesh (and PhysicalMachineChaos)' },
  { value: 'chaosd', label: 'chaosd attack' },
  { value: 'litmus', label: 'Litmus ChaosEngine or Argo workflow' },
  { value: 'chaostoolkit', label: 'Chaos Toolkit experiment' },
];

function createdLink(kind: string, id: string) {
  if (kind === 'Workflow') return `/workflows/${id}/edit`;
  if (kind === 'Experiment') return '/experiments';
  return null;
}

/** Another tool's document (Chaos Mesh, Litmus, Chaos Toolkit) as a hub document: the
 * mapped document, what could not be mapped and why, and a button that stores it. */
export function ImportPage() {
  const canOperate = useCan('operator');
  const [text, setText] = useState('');
  const [format, setFormat] = useState<string | null>('auto');
  const [backend, setBackend] = useState('');
  const [agent, setAgent] = useState('');
  const [result, setResult] = useState<Imported | null>(null);
  const [refusal, setRefusal] = useState<HubError | null>(null);
  const [state, send] = useMutation(IMPORT_DOCUMENT);

  const run = async (create: boolean) => {
    setRefusal(null);
    if (!create) setResult(null);
    const res = await send({
      document: text,
      format: format ?? 'auto',
      backend: backend.trim() || null,
      agent: agent.trim() || null,
      create,
    });
    const answer = res.data?.importDocument;
    const err = asHubError(answer);
    if (err) setRefusal(err);
    else if (answer) setResult(answer as Imported);
  };

  const readFile = async (file: File | null) => {
    setResult(null);
    setRefusal(null);
    setText(file ? await file.text() : '');
  };

  return (
    <Stack maw={1100}>
      <div>
        <Title order={2}>Import</Title>
        <Text c="dimmed" size="sm">
          A Chaos Mesh object, workflow or schedule, a chaosd attack, a Litmus ChaosEngine (or an Argo workflow of them), or a Chaos
          Toolkit experiment, as a hub document. Unknown fields are refused by name; what has no equivalent in the hub is listed.
        </Text>
      </div>
      <Paper withBorder p="md">
        <Stack>
          <FileInput label="File" placeholder="a YAML or JSON document" accept=".yaml,.yml,.json" onChange={readFile} clearable />
          <Textarea
            label="Or paste it"
            value={text}
            onChange={(e) => {
              setText(e.currentTarget.value);
              setResult(null);
            }}
            autosize
            minRows={8}
            maxRows={24}
            styles={{ input: { fontFamily: 'monospace', fontSize: 13 } }}
          />
          <Group grow align="flex-start">
            <Select label="Format" data={FORMATS} value={format} onChange={setFormat} allowDeselect={false} />
            <TextInput label="Backend" description="where the tool's faults run" placeholder="the adapter's name" value={backend} onChange={(e) => setBackend(e.currentTarget.value)} />
            <TextInput label="Agent" description="for host faults and command probes" placeholder="local" value={agent} onChange={(e) => setAgent(e.currentTarget.value)} />
          </Group>
          <Group>
            <Button leftSection={<IconFileImport size={18} />} onClick={() => run(false)} loading={state.fetching} disabled={!text.trim()}>
              Map it
            </Button>
            {canOperate && (
              <Button variant="light" onClick={() => run(true)} loading={state.fetching} disabled={!result || Object.keys(result.created).length > 0}>
                Create it in the hub
              </Button>
            )}
          </Group>
        </Stack>
      </Paper>
      <ErrorAlert error={state.error} hubError={refusal} title="The document was refused" />
      {result && (
        <Stack>
          {Object.keys(result.created).length > 0 && (
            <Alert color="green" title="Created">
              {Object.entries(result.created).map(([kind, id]) => {
                const to = createdLink(kind, id);
                return (
                  <Text key={kind} size="sm">
                    {kind} {to ? <Link to={to}>{id}</Link> : <Code>{id}</Code>}
                  </Text>
                );
              })}
            </Alert>
          )}
          <Group gap="xs">
            <Badge variant="light">{result.source}</Badge>
            <Text size="sm">as a hub {result.kind}</Text>
          </Group>
          <div>
            <Title order={4}>Not mapped</Title>
            {result.notes.length === 0 ? (
              <Text size="sm" c="dimmed">
                Everything in the document was mapped.
              </Text>
            ) : (
              <Table striped aria-label="Not mapped">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Field</Table.Th>
                    <Table.Th>Why</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {result.notes.map((n, i) => (
                    <Table.Tr key={i}>
                      <Table.Td>{n.path ? <Code>{n.path}</Code> : <Text size="sm" c="dimmed">the whole document</Text>}</Table.Td>
                      <Table.Td>{n.why}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </div>
          <div>
            <Title order={4}>Hub document</Title>
            <Code block aria-label="Hub document">
              {result.yaml}
            </Code>
          </div>
        </Stack>
      )}
    </Stack>
  );
}
