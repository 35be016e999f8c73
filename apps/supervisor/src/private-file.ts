import { chmodSync, closeSync, constants, openSync } from 'node:fs';

/**
 * Makes an SQLite database file private (0600) before it is opened, creating it empty if need be.
 * SQLite gives its -wal and -shm files the mode of the database file, so they follow; ones an
 * older version left readable are tightened too.
 */
export function makeDatabasePrivate(file: string): void {
  closeSync(openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      chmodSync(path, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
