// Every `prefixlab` subcommand; later features add theirs here.
import type { Command } from '../command';
import { infoCommand } from './info';
import { serveCommand } from './serve';
import { generateCommand, logitsCommand, modelInspectCommand, modelListCommand } from './model';
import { compareCommand, trainCommand } from './train';
import { dataImportCommand, dataInspectCommand, dataSplitCommand } from './data';
import { evalCommand } from './eval';
import { adaptersPullCommand } from './adapters-pull';
import { adaptersListCommand, adaptersShowCommand, exportCommand, runsDiagnosticsCommand, runsListCommand, runsShowCommand } from './registry';

// train and compare take method options (--set key=value): their --help lists them from the schemas (details).
export const COMMANDS: Command[] = [
  serveCommand,
  infoCommand,
  modelInspectCommand,
  modelListCommand,
  logitsCommand,
  generateCommand,
  dataInspectCommand,
  dataImportCommand,
  dataSplitCommand,
  trainCommand,
  compareCommand,
  evalCommand,
  runsListCommand,
  runsShowCommand,
  runsDiagnosticsCommand,
  adaptersListCommand,
  adaptersShowCommand,
  adaptersPullCommand,
  exportCommand,
];
