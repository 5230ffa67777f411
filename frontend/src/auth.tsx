import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import type { Role } from './api/types';

const KEY = 'chaoshub.session';

export interface Session {
  token: string;
  name: string;
  role: Role;
}

interface AuthValue {
  session: Session | null;
  signIn: (s: Session) => void;
  signOut: () => void;
}

const AuthContext = createContext<AuthValue | null>(null);

/** The token this tab signed in with, for pages outside the console (GraphiQL). */
export function storedToken(): string | null {
  return load()?.token ?? null;
}

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

/** The signed-in token lives in sessionStorage: it survives reloads, not the tab. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(load);
  const signIn = useCallback((s: Session) => {
    sessionStorage.setItem(KEY, JSON.stringify(s));
    setSession(s);
  }, []);
  const signOut = useCallback(() => {
    sessionStorage.removeItem(KEY);
    setSession(null);
  }, []);
  const value = useMemo(() => ({ session, signIn, signOut }), [session, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}

const RANK: Record<string, number> = { viewer: 1, operator: 2, admin: 3 };

/** Whether the signed-in role may do what needs ``role``. */
export function useCan(role: 'operator' | 'admin'): boolean {
  const { session } = useAuth();
  return !!session && (RANK[session.role] ?? 0) >= RANK[role];
}
