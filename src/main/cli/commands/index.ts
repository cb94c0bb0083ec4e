// Every `prefixlab` subcommand; later features add theirs here.
import type { Command } from '../command';
import { infoCommand } from './info';
import { serveCommand } from './serve';
import { generateCommand, logitsCommand, modelInspectCommand } from './model';

export const COMMANDS: Command[] = [serveCommand, infoCommand, modelInspectCommand, logitsCommand, generateCommand];
