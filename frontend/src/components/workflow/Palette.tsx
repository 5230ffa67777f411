import { Badge, Group, Paper, ScrollArea, Stack, Switch, Text, TextInput, Title, Tooltip, UnstyledButton } from '@mantine/core';
import { IconBolt, IconClock, IconHandStop, IconHeartbeat, IconSearch } from '@tabler/icons-react';
import { useState, type ReactNode } from 'react';
import type { Backend, FaultType } from '../../api/types';
import { runnableFirst } from '../../availability';
import { PROBE_KINDS, type PaletteItem } from '../../workflow/model';

export const DND_TYPE = 'application/x-chaoshub-step';

function Item({ item, label, detail, icon, badge, available = true, onAdd }: { item: PaletteItem; label: string; detail?: string; icon: ReactNode; badge?: ReactNode; available?: boolean; onAdd: (item: PaletteItem) => void }) {
  return (
    <UnstyledButton
      className="wf-palette-item"
      draggable
      onDragStart={(e) => {
        e.dataTransfer.setData(DND_TYPE, JSON.stringify(item));
        e.dataTransfer.effectAllowed = 'copy';
      }}
      onClick={() => onAdd(item)}
      aria-label={`Add ${label}`}
      data-testid="palette-item"
      data-item={label}
      data-available={available}
      style={available ? undefined : { opacity: 0.6 }}
    >
      <Paper withBorder px={8} py={4}>
        <Group gap={6} wrap="nowrap" justify="space-between">
          <Group gap={6} wrap="nowrap" style={{ minWidth: 0 }}>
            {icon}
            <div style={{ minWidth: 0 }}>
              <Text size="sm" truncate>
                {label}
              </Text>
              {detail && (
                <Text size="xs" c="dimmed" truncate>
                  {detail}
                </Text>
              )}
            </div>
          </Group>
          {badge}
        </Group>
      </Paper>
    </UnstyledButton>
  );
}

/** What can be added: every fault of the catalog (searchable, with its availability), the
 * probe kinds, wait and approval. Drag one onto the canvas (a probe onto a lane adds it to that
 * lane), or activate it to add it as a step. */
export function Palette({ faults, backends, onAdd }: { faults: FaultType[]; backends: Backend[]; onAdd: (item: PaletteItem) => void }) {
  const [q, setQ] = useState('');
  const [availableOnly, setAvailableOnly] = useState(false);
  const needle = q.trim().toLowerCase();
  // as the catalog lists them: what can run here first, the rest after (or hidden)
  const shown = runnableFirst(faults, backends).filter(
    ({ f, hint }) => (!availableOnly || hint.ok) && (!needle || `${f.id} ${f.title} ${f.category}`.toLowerCase().includes(needle)),
  );
  return (
    <Paper withBorder p="xs" w={250} style={{ flexShrink: 0 }} data-testid="palette">
      <Stack gap={6}>
        <Title order={6}>Steps</Title>
        <Item item={{ kind: 'wait' }} label="wait" detail="pause between steps" icon={<IconClock size={16} />} onAdd={onAdd} />
        <Item item={{ kind: 'approval' }} label="approval" detail="a person decides" icon={<IconHandStop size={16} />} onAdd={onAdd} />
        <Title order={6} mt={4}>
          Probes
        </Title>
        <Text size="xs" c="dimmed">
          Drop on a lane for a steady-state check or a stop condition.
        </Text>
        {PROBE_KINDS.map((k) => (
          <Item key={k} item={{ kind: 'probe', probeKind: k }} label={`${k} probe`} icon={<IconHeartbeat size={16} />} onAdd={onAdd} />
        ))}
        <Title order={6} mt={4}>
          Faults
        </Title>
        <TextInput size="xs" placeholder="search the catalog" leftSection={<IconSearch size={14} />} value={q} onChange={(e) => setQ(e.currentTarget.value)} aria-label="Search faults" />
        <Switch size="xs" label="Available only" checked={availableOnly} onChange={(e) => setAvailableOnly(e.currentTarget.checked)} data-testid="palette-available-only" />
        <ScrollArea h={360} type="auto" offsetScrollbars>
          <Stack gap={4}>
            {shown.map(({ f, hint }) => {
              const ok = f.availability.filter((a) => a.available);
              const mine = backends.filter((b) => b.adapter === f.adapter);
              const backend = (mine.find((b) => ok.some((a) => a.backend === b.name)) ?? mine[0])?.name;
              const why = [hint.text, ...f.availability.map((a) => `${a.backend}: ${a.available ? 'available' : a.reason}`)].join('\n');
              return (
                <Item
                  key={f.id}
                  item={{ kind: 'fault', faultType: f.id, backend }}
                  label={f.id}
                  detail={f.title}
                  icon={<IconBolt size={16} />}
                  onAdd={onAdd}
                  available={hint.ok}
                  badge={
                    <Tooltip label={why} multiline w={260}>
                      <Badge size="xs" variant="dot" color={hint.ok ? 'green' : 'gray'}>
                        {hint.ok ? ok.map((a) => a.backend).join(',') || 'ready' : 'n/a'}
                      </Badge>
                    </Tooltip>
                  }
                />
              );
            })}
            {!shown.length && (
              <Text size="xs" c="dimmed">
                No fault matches.
              </Text>
            )}
          </Stack>
        </ScrollArea>
      </Stack>
    </Paper>
  );
}
