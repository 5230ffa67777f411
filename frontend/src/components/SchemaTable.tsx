import { Code, Table, Text } from '@mantine/core';
import type { JsonSchema } from '../api/types';
import { unitOf } from '../format';

function typeOf(s: JsonSchema): string {
  if (s.enum) return 'one of';
  if (Array.isArray(s.type)) return s.type.join(' | ');
  if (s.type === 'array' && s.items?.type) return `list of ${s.items.type}`;
  return String(s.type ?? 'any');
}

function allowed(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(', ');
  const parts: string[] = [];
  if (s.minimum !== undefined && s.maximum !== undefined) parts.push(`${s.minimum} – ${s.maximum}`);
  else if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  else if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (s.minLength) parts.push(`at least ${s.minLength} character${s.minLength === 1 ? '' : 's'}`);
  if (s.pattern) parts.push(`matches ${s.pattern}`);
  return parts.join('; ');
}

/** The properties of a JSON Schema as a table: name, type, unit, default, allowed values, meaning. */
export function SchemaTable({ schema, empty }: { schema: JsonSchema; empty: string }) {
  const props = Object.entries(schema.properties ?? {});
  if (!props.length) return <Text c="dimmed">{empty}</Text>;
  const required = new Set(schema.required ?? []);
  return (
    <Table.ScrollContainer minWidth={640}>
      <Table striped withTableBorder verticalSpacing="xs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Unit</Table.Th>
            <Table.Th>Default</Table.Th>
            <Table.Th>Allowed</Table.Th>
            <Table.Th>Meaning</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {props.map(([name, s]) => (
            <Table.Tr key={name} data-testid="param-row">
              <Table.Td>
                <Code>{name}</Code>
                {required.has(name) && (
                  <Text span c="red" size="xs">
                    {' '}
                    required
                  </Text>
                )}
              </Table.Td>
              <Table.Td>{typeOf(s)}</Table.Td>
              <Table.Td>{unitOf(name, s.description)}</Table.Td>
              <Table.Td>{s.default === undefined ? '—' : <Code>{JSON.stringify(s.default)}</Code>}</Table.Td>
              <Table.Td>{allowed(s)}</Table.Td>
              <Table.Td>
                <Text size="sm">{s.description}</Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
