#!/usr/bin/env node
// Launches the TypeScript CLI through tsx so `npx tarmac` works from a checkout without a build step.
import { register } from 'tsx/esm/api';
register();
await import('../src/main.ts');
