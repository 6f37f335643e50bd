import { afterAll } from 'vitest';
import { closePools } from '../support/db.ts';

afterAll(closePools);
