'use client';

import type { ReactNode } from 'react';
import { logout } from '@/app/logout-action';

export function AppHeader({ user, indicator }: { user: string; indicator: ReactNode }) {
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
