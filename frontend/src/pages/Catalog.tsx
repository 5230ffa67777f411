import { Anchor, Box, Card, Code, Group, Select, SimpleGrid, Skeleton, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { FAULT_TYPES } from '../api/documents';
import type { Backend, FaultType } from '../api/types';
import { runnableFirst } from '../availability';
import { ErrorAlert } from '../components/ErrorText';
import { FaultBadges } from '../components/FaultBadges';

type Data = { faultTypes: FaultType[]; backends: Pick<Backend, 'id' | 'name' | 'adapter'>[] };

function options(values: string[]) {
  return [...new Set(values)].sort().map((v) => ({ value: v, label: v }));
}

function matches(f: FaultType, text: string): boolean {
  const hay = [f.id, f.title, f.description, ...f.tags].join(' ').toLowerCase();
  return text
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

export function CatalogPage() {
  const [params, setParams] = useSearchParams();
  const [{ data, fetching, error }] = useQuery<Data>({ query: FAULT_TYPES });
  // The text is typed into local state (fast typing never loses keys) and kept in the URL,
  // so a search can be shared and survives going back.
  const [q, setQ] = useState(() => params.get('q') ?? '');
  const [debouncedQ] = useDebouncedValue(q, 250);
  const adapter = params.get('adapter');
  const category = params.get('category');
  const kind = params.get('kind');
  const availableOnly = params.get('available') === '1';
  const set = (key: string, value: string | null) => {
    setParams(
      (cur) => {
        const next = new URLSearchParams(cur);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );
  };

  useEffect(() => {
    // Gone to a fault's page while the text was settling: leave that navigation alone.
    if (window.location.pathname !== '/catalog') return;
    setParams(
      (cur) => {
        const next = new URLSearchParams(cur);
        if (debouncedQ) next.set('q', debouncedQ);
        else next.delete('q');
        return next;
      },
      { replace: true },
    );
  }, [debouncedQ, setParams]);

  const all = useMemo(() => data?.faultTypes ?? [], [data]);
  // What can run here comes first; the rest keeps its order below it.
  const hinted = useMemo(() => runnableFirst(all, data?.backends ?? []), [all, data]);
  const shown = hinted.filter(
    ({ f, hint }) =>
      (!adapter || f.adapter === adapter) &&
      (!category || f.category === category) &&
      (!kind || f.targetKind === kind) &&
      (!availableOnly || hint.ok) &&
      matches(f, q),
  );

  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2}>Catalog</Title>
          <Text c="dimmed" size="sm">
            Every fault of every installed tool. Pick one to see its parameters and where it can run.
          </Text>
        </div>
        <Group gap="sm">
          <Text size="sm" c="dimmed" data-testid="catalog-count">
            {shown.length} of {all.length} faults
          </Text>
          <Anchor component={Link} to="/workflows/new" size="sm">
            Combine faults in a workflow →
          </Anchor>
        </Group>
      </Group>
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        <TextInput
          label="Search"
          placeholder="latency, kill, cpu…"
          leftSection={<IconSearch size={16} />}
          value={q}
          onChange={(e) => setQ(e.currentTarget.value)}
          data-testid="catalog-search"
        />
        <Select label="Adapter" placeholder="any" clearable data={options(all.map((f) => f.adapter))} value={adapter} onChange={(v) => set('adapter', v)} />
        <Select label="Category" placeholder="any" clearable data={options(all.map((f) => f.category))} value={category} onChange={(v) => set('category', v)} />
        <Select label="Target kind" placeholder="any" clearable data={options(all.map((f) => f.targetKind))} value={kind} onChange={(v) => set('kind', v)} />
      </SimpleGrid>
      <Switch
        label="Available only"
        description="faults with a configured backend or an agent that can run them"
        checked={availableOnly}
        onChange={(e) => set('available', e.currentTarget.checked ? '1' : null)}
        data-testid="available-only"
      />
      <ErrorAlert error={error} title="Could not load the catalog" />
      {fetching && !data ? (
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          {Array.from({ length: 6 }, (_, i) => (
            <Skeleton key={i} h={150} />
          ))}
        </SimpleGrid>
      ) : (
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          {shown.map(({ f, hint }) => {
            return (
              <Card
                key={f.id}
                withBorder
                padding="md"
                component={Link}
                to={`/catalog/${f.id}`}
                data-testid="fault-card"
                data-fault={f.id}
                data-available={hint.ok}
                style={{ display: 'flex', flexDirection: 'column', gap: 8 }}
              >
                <Group justify="space-between" wrap="nowrap" align="flex-start">
                  <Text fw={600}>{f.title}</Text>
                  <Code style={{ overflowWrap: 'anywhere' }}>{f.id}</Code>
                </Group>
                <FaultBadges fault={f} />
                {/* The clamp sits in a growing box: clamped text with flex on itself spilled
                    over the footer. */}
                <Box style={{ flex: 1 }}>
                  <Text size="sm" c="dimmed" lineClamp={3}>
                    {f.description}
                  </Text>
                </Box>
                <Text size="xs" c={hint.ok ? 'teal' : 'orange'} data-testid="fault-footer">
                  {hint.text}
                </Text>
              </Card>
            );
          })}
        </SimpleGrid>
      )}
      {data && !shown.length && <Text c="dimmed">No fault matches these filters.</Text>}
    </Stack>
  );
}
