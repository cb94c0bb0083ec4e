// Every `prefixlab` subcommand; later features add theirs here.
import type { Command } from '../command';
import { infoCommand } from './info';
import { serveCommand } from './serve';

export const COMMANDS: Command[] = [serveCommand, infoCommand];
