import { Dashboard } from '@/components/dashboard';
import { requireSession } from '@/server/current-session';
import { TRPCReactProvider } from '@/trpc/react';

// Per-request: the session decides what renders; nothing here may be prerendered.
export const dynamic = 'force-dynamic';

export default async function DashboardPage() {
  const session = await requireSession('/');
  return (
    <TRPCReactProvider>
      <Dashboard user={session.user} />
    </TRPCReactProvider>
  );
}
