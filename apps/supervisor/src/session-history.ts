import type { SessionSample } from '@handover/process-table';

/** The last `capacity` samples of session counts per worker, for the console's chart. */
export class SessionHistory {
  private readonly samples: SessionSample[] = [];

  constructor(private readonly capacity: number) {}

  record(sample: SessionSample): void {
    this.samples.push(sample);
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  list(): SessionSample[] {
    return this.samples.slice();
  }
}
