/** Users clicking "count" in the demo app through a URL (the fleet's front) until stopped. */
import { Client } from '../harness';

/** Every answer must be 200 and count on from the user's last one (her session kept); anything else is a failure. */
export function clickLoad(url: string, users: number) {
  let running = true;
  const failures: string[] = [];
  let requests = 0;
  const counters = new Array<number>(users).fill(0);
  const loops = Array.from({ length: users }, async (_, i) => {
    const user = new Client(url);
    await user.post('/api/login');
    while (running) {
      const answer = await user.post('/api/count').catch((error: Error) => ({ status: 0, json: undefined, text: error.message }));
      requests++;
      const counter = (answer.json as { session?: { counter?: number } } | undefined)?.session?.counter;
      if (answer.status !== 200 || counter !== counters[i]! + 1) failures.push(`${answer.status} counter ${counter} after ${counters[i]}`);
      else counters[i] = counter;
    }
  });
  return {
    /** Requests answered so far (to wait until the load is under way). */
    get requests() {
      return requests;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { requests, failures, counters };
    },
  };
}
