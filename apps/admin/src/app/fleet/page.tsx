import { FleetView } from '@/components/fleet-view';
import { requireSession } from '@/server/current-session';
import { fleetSource } from '@/server/fleet';
import { TRPCReactProvider } from '@/trpc/react';

// Per-request: the session decides what renders; nothing here may be prerendered.
export const dynamic = 'force-dynamic';

export default async function FleetPage() {
  const session = await requireSession('/fleet');
  const configured = (await fleetSource().path()) !== null;
  return (
    <TRPCReactProvider>
      <FleetView user={session.user} configured={configured} />
    </TRPCReactProvider>
  );
}
