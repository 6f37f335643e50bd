// Debian's chromium, headless, for the tests that drive a browser (GraphiQL, the example
// web app); never a downloaded one. CI installs it with .ci/install-chromium.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { missing } from './system-tools.ts';

const CHROMIUM = '/usr/bin/chromium';

/** True when this machine has no chromium: the browser tests skip (and CI fails). */
export const skipWithoutChromium = missing(
  'chromium',
  existsSync(CHROMIUM),
  'Debian: apt-get install chromium, or .ci/install-chromium',
);

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--disable-dev-shm-usage',
    ],
  });
}
