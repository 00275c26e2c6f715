#!/usr/bin/env node
import { run } from './launch.js';

await run('main');
