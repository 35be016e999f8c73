import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { currentSession } from '@/server/current-session';
import { LoginForm } from './login-form';
import { safeNextPath } from './safe-next';
import styles from './login.module.css';

export const metadata: Metadata = { title: 'Log in · Handover' };
export const dynamic = 'force-dynamic';

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const next = safeNextPath(typeof params.next === 'string' ? params.next : undefined);
  if ((await currentSession().catch(() => null)) !== null) redirect(next);
  return (
    <main className={styles.page}>
      <section className={styles.card} aria-labelledby="login-title">
        <div className={styles.brand}>
          <span className={styles.logo} aria-hidden="true">⇄</span>
          <span>Handover</span>
        </div>
        <h1 id="login-title" className={styles.title}>Log in to the console</h1>
        <p className={styles.hint}>
          The user name is <code>admin</code> unless <code>HANDOVER_ADMIN_USER</code> says otherwise; <code>npm start</code> prints
          the password the first time it generates one (or set <code>HANDOVER_ADMIN_PASSWORD</code>).
        </p>
        <LoginForm next={next} />
      </section>
    </main>
  );
}
