'use client';

import Link from 'next/link';
import type { ReactNode } from 'react';
import { logout } from '@/app/logout-action';

/** `fleet`: a fleet file is configured (HANDOVER_FLEET), so the header links the two pages. */
export function AppHeader({ user, indicator, page = 'dashboard', fleet = false }: { user: string; indicator: ReactNode; page?: 'dashboard' | 'fleet'; fleet?: boolean }) {
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <div className="brand">
          <span className="brand-logo" aria-hidden="true">
            ⇄
          </span>
          <span className="brand-name">Handover</span>
          <span className="brand-sub">console</span>
        </div>
        {fleet ? (
          <nav className="topbar-nav" aria-label="Pages">
            <Link href="/" aria-current={page === 'dashboard' ? 'page' : undefined} data-testid="nav-dashboard">
              This node
            </Link>
            <Link href="/fleet" aria-current={page === 'fleet' ? 'page' : undefined} data-testid="nav-fleet">
              Fleet
            </Link>
          </nav>
        ) : null}
        {indicator}
        <div className="topbar-user">
          <span className="muted small">
            Signed in as <strong data-testid="current-user">{user}</strong>
          </span>
          <form action={logout}>
            <button type="submit" className="button button-ghost" data-testid="logout">
              Log out
            </button>
          </form>
        </div>
      </div>
    </header>
  );
}
