'use client';

import { useActionState } from 'react';
import { type LoginState, login } from './actions';
import styles from './login.module.css';

const initial: LoginState = { error: null, username: '' };

export function LoginForm({ next }: { next: string }) {
  const [state, action, pending] = useActionState(login, initial);
  return (
    <form action={action} className={styles.form} noValidate={false}>
      <input type="hidden" name="next" value={next} />
      <label className={styles.label}>
        User name
        <input
          className={styles.input}
          name="username"
          autoComplete="username"
          required
          defaultValue={state.username || 'admin'}
          data-testid="login-username"
        />
      </label>
      <label className={styles.label}>
        Password
        <input
          className={styles.input}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          autoFocus
          data-testid="login-password"
        />
      </label>
      <p className={styles.error} role="alert" aria-live="assertive" data-testid="login-error">
        {state.error}
      </p>
      <button className={`button button-primary ${styles.submit}`} type="submit" disabled={pending} data-testid="login-submit">
        {pending ? 'Logging in…' : 'Log in'}
      </button>
    </form>
  );
}
