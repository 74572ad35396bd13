import { CommanderError } from 'commander';
import { buildProgram, describeError, exitCodeOf, EXIT } from './cli/program.ts';

/** The `tarmac` command-line entry point. */
async function main(): Promise<void> {
  const program = buildProgram(process.env, (text) => console.log(text));
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    console.error(describeError(err));
    process.exitCode = exitCodeOf(err);
  }
}

await main();
