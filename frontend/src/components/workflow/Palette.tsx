import { Badge, Group, Paper, ScrollArea, Stack, Text, TextInput, Title, Tooltip, UnstyledButton } from '@mantine/core';
import { IconBolt, IconClock, IconHandStop, IconHeartbeat, IconSearch } from '@tabler/icons-react';
import { useState, type ReactNode } from 'react';
import type { Backend, FaultType } from '../../api/types';
import { PROBE_KINDS, type PaletteItem } from '../../workflow/model';

export const DND_TYPE = 'application/x-chaoshub-step';

function Item({ item, label, detail, icon, badge, onAdd }: { item: PaletteItem; label: string; detail?: string; icon: ReactNode; badge?: ReactNode; onAdd: (item: PaletteItem) => void }) {
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
  const needle = q.trim().toLowerCase();
  const shown = faults.filter((f) => !needle || `${f.id} ${f.title} ${f.category}`.toLowerCase().includes(needle));
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
        <ScrollArea h={360} type="auto" offsetScrollbars>
          <Stack gap={4}>
            {shown.map((f) => {
              const ok = f.availability.filter((a) => a.available);
              const mine = backends.filter((b) => b.adapter === f.adapter);
              const backend = (mine.find((b) => ok.some((a) => a.backend === b.name)) ?? mine[0])?.name;
              const why = f.availability.map((a) => `${a.backend}: ${a.available ? 'available' : a.reason}`).join('\n') || 'no backend of this adapter';
              return (
                <Item
                  key={f.id}
                  item={{ kind: 'fault', faultType: f.id, backend }}
                  label={f.id}
                  detail={f.title}
                  icon={<IconBolt size={16} />}
                  onAdd={onAdd}
                  badge={
                    <Tooltip label={why} multiline w={260}>
                      <Badge size="xs" variant="dot" color={ok.length ? 'green' : 'gray'}>
                        {ok.length ? ok.map((a) => a.backend).join(',') : 'n/a'}
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
