import { ActionIcon, Anchor, AppShell, Badge, Burger, Button, Group, NavLink, Text, Title, Tooltip } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconBook2, IconFileImport, IconFlask, IconHierarchy2, IconTimeline, IconKey, IconListDetails, IconLogout, IconPlus, IconServer, IconChartDots, IconCalendarTime, IconWebhook } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { useEffect } from 'react';
import { useAuth, useCan } from '../auth';
import { HaltAllButton } from './HaltAll';
import { StuckIndicator } from './StuckIndicator';

const NAV = [
  { to: '/runs', label: 'Runs', icon: IconListDetails },
  { to: '/catalog', label: 'Catalog', icon: IconBook2 },
  { to: '/experiments', label: 'Experiments', icon: IconFlask },
  { to: '/workflows', label: 'Workflows', icon: IconHierarchy2 },
  { to: '/workflow-runs', label: 'Workflow runs', icon: IconTimeline },
  { to: '/schedules', label: 'Schedules', icon: IconCalendarTime },
  { to: '/threshold-searches', label: 'Thresholds', icon: IconChartDots },
  { to: '/fleet', label: 'Agents & backends', icon: IconServer },
];

export function Shell({ children }: { children: ReactNode }) {
  const { session, signOut } = useAuth();
  const canOperate = useCan('operator');
  const isAdmin = useCan('admin');
  const { pathname } = useLocation();
  // On a phone the navigation folds behind a burger and closes once a page is picked.
  const [opened, { toggle, close }] = useDisclosure(false);
  useEffect(close, [pathname, close]);
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 210, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding={{ base: 'xs', sm: 'md' }}>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Navigation" />
            <Anchor component={Link} to="/runs" c="inherit" underline="never">
              <Title order={4} style={{ whiteSpace: 'nowrap' }}>
                Chaos Hub
              </Title>
            </Anchor>
            <StuckIndicator />
          </Group>
          <Group gap="sm" wrap="nowrap">
            {canOperate && <HaltAllButton />}
            <Tooltip label={`Signed in as ${session?.name}`}>
              <Group gap={6} wrap="nowrap">
                <Text size="sm" c="dimmed" visibleFrom="sm">
                  {session?.name}
                </Text>
                <Badge variant="outline" data-testid="role" visibleFrom="xs">
                  {session?.role}
                </Badge>
              </Group>
            </Tooltip>
            <Button variant="subtle" size="xs" leftSection={<IconLogout size={16} />} onClick={signOut} visibleFrom="sm">
              Sign out
            </Button>
            <ActionIcon variant="subtle" onClick={signOut} hiddenFrom="sm" aria-label="Sign out">
              <IconLogout size={18} />
            </ActionIcon>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Main">
        {NAV.map(({ to, label, icon: Icon }) => (
          <NavLink
            key={to}
            component={Link}
            onClick={close}
            to={to}
            label={label}
            leftSection={<Icon size={18} />}
            active={pathname === to || (pathname.startsWith(to + '/') && !(to === '/experiments' && pathname === '/experiments/new'))}
          />
        ))}
        {canOperate && (
          <NavLink
            component={Link}
            to="/experiments/new"
            onClick={close}
            label="New experiment"
            leftSection={<IconPlus size={18} />}
            active={pathname === '/experiments/new'}
          />
        )}
        {canOperate && (
          <NavLink component={Link} onClick={close} to="/import" label="Import" leftSection={<IconFileImport size={18} />} active={pathname === '/import'} />
        )}
        {isAdmin && (
          <NavLink component={Link} onClick={close} to="/tokens" label="API tokens" leftSection={<IconKey size={18} />} active={pathname === '/tokens'} />
        )}
        {isAdmin && (
          <NavLink component={Link} onClick={close} to="/event-sinks" label="Event sinks" leftSection={<IconWebhook size={18} />} active={pathname.startsWith('/event-sinks')} />
        )}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
