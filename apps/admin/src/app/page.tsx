import { Dashboard } from '@/components/dashboard';
import { requireSession } from '@/server/current-session';
import { fleetSource } from '@/server/fleet';
import { TRPCReactProvider } from '@/trpc/react';

// Per-request: the session decides what renders; nothing here may be prerendered.
export const dynamic = 'force-dynamic';

export default async function DashboardPage() {
  const session = await requireSession('/');
  const fleet = (await fleetSource().path()) !== null;
  return (
    <TRPCReactProvider>
      <Dashboard user={session.user} fleet={fleet} />
    </TRPCReactProvider>
  );
}
