import { Anchor, AppShell, Badge, Button, Group, NavLink, Text, Title, Tooltip } from '@mantine/core';
import { IconBook2, IconFlask, IconKey, IconListDetails, IconLogout, IconPlus, IconServer } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { useAuth, useCan } from '../auth';
import { HaltAllButton } from './HaltAll';
import { StuckIndicator } from './StuckIndicator';

const NAV = [
  { to: '/runs', label: 'Runs', icon: IconListDetails },
  { to: '/catalog', label: 'Catalog', icon: IconBook2 },
  { to: '/experiments', label: 'Experiments', icon: IconFlask },
  { to: '/fleet', label: 'Agents & backends', icon: IconServer },
];

export function Shell({ children }: { children: ReactNode }) {
  const { session, signOut } = useAuth();
  const canOperate = useCan('operator');
  const isAdmin = useCan('admin');
  const { pathname } = useLocation();
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 210, breakpoint: 0 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Anchor component={Link} to="/runs" c="inherit" underline="never">
              <Title order={4}>Chaos Hub</Title>
            </Anchor>
            <StuckIndicator />
          </Group>
          <Group gap="sm" wrap="nowrap">
            {canOperate && <HaltAllButton />}
            <Tooltip label={`Signed in as ${session?.name}`}>
              <Group gap={6} wrap="nowrap">
                <Text size="sm" c="dimmed">
                  {session?.name}
                </Text>
                <Badge variant="outline" data-testid="role">
                  {session?.role}
                </Badge>
              </Group>
            </Tooltip>
            <Button variant="subtle" size="xs" leftSection={<IconLogout size={16} />} onClick={signOut}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Main">
        {NAV.map(({ to, label, icon: Icon }) => (
          <NavLink
            key={to}
            component={Link}
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
            label="New experiment"
            leftSection={<IconPlus size={18} />}
            active={pathname === '/experiments/new'}
          />
        )}
        {isAdmin && (
          <NavLink component={Link} to="/tokens" label="API tokens" leftSection={<IconKey size={18} />} active={pathname === '/tokens'} />
        )}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
