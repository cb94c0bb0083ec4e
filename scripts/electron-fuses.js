// electron-builder `afterPack` hook (electron-builder.yml): flips Electron's fuses in the packaged binary with
// @electron/fuses, before electron-builder signs it. electron-builder 25 has no `electronFuses` option (it came
// in 26, which runs the same library at the same step), so the hook does it. FUSES uses 26's option names.
import { join } from 'node:path';
import { flipFuses, FuseV1Options, FuseVersion } from '@electron/fuses';

/**
 * Every fuse @electron/fuses 1.8 knows, each set explicitly. Not strictlyRequireAllFuses: a fuse a newer
 * Electron adds (beyond these 8) keeps Electron's own default rather than failing the package build.
 */
export const FUSES = Object.freeze({
  // ELECTRON_RUN_AS_NODE would turn the signed app into a general Node.js runtime. The app starts its child
  // processes with utilityProcess (src/main/platform/process-launcher.ts), which does not need it.
  runAsNode: false,
  // Cookies (none today) encrypted at rest with the OS keystore.
  enableCookieEncryption: true,
  // NODE_OPTIONS and --inspect would let anyone who can start the app inject code into its main process.
  enableNodeOptionsEnvironmentVariable: false,
  enableNodeCliInspectArguments: false,
  // app.asar is checked against the hashes electron-builder embeds (macOS Info.plist, Windows resource).
  enableEmbeddedAsarIntegrityValidation: true,
  // Only app.asar is loaded, never a loose app/ folder dropped beside it.
  onlyLoadAppFromAsar: true,
  loadBrowserProcessSpecificV8Snapshot: false,
  // The renderer comes from app://, so file:// keeps none of its extra privileges.
  grantFileProtocolExtraPrivileges: false,
});

const OPTION = {
  runAsNode: FuseV1Options.RunAsNode,
  enableCookieEncryption: FuseV1Options.EnableCookieEncryption,
  enableNodeOptionsEnvironmentVariable: FuseV1Options.EnableNodeOptionsEnvironmentVariable,
  enableNodeCliInspectArguments: FuseV1Options.EnableNodeCliInspectArguments,
  enableEmbeddedAsarIntegrityValidation: FuseV1Options.EnableEmbeddedAsarIntegrityValidation,
  onlyLoadAppFromAsar: FuseV1Options.OnlyLoadAppFromAsar,
  loadBrowserProcessSpecificV8Snapshot: FuseV1Options.LoadBrowserProcessSpecificV8Snapshot,
  grantFileProtocolExtraPrivileges: FuseV1Options.GrantFileProtocolExtraPrivileges,
};

/** electron-builder's Arch enum: arm64 = 3, universal = 4. */
const ARM64_OR_UNIVERSAL = new Set([3, 4]);

/** The @electron/fuses configuration for one packaged platform/arch. */
export function fuseConfig(platformName, arch) {
  const config = { version: FuseVersion.V1 };
  for (const [name, value] of Object.entries(FUSES)) config[OPTION[name]] = value;
  // Flipping a fuse breaks the ad-hoc signature Apple Silicon requires; re-sign ad hoc (the real signing follows).
  config.resetAdHocDarwinSignature = (platformName === 'darwin' || platformName === 'mas') && ARM64_OR_UNIVERSAL.has(arch);
  return config;
}

/** The file that holds the fuse wire: the .app bundle (the library finds the framework), the .exe, or the ELF. */
export function electronBinaryPath(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  const product = packager.appInfo.productFilename;
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') return join(appOutDir, `${product}.app`);
  if (electronPlatformName === 'win32') return join(appOutDir, `${product}.exe`);
  return join(appOutDir, packager.executableName);
}

export async function afterPack(context) {
  await flipFuses(electronBinaryPath(context), fuseConfig(context.electronPlatformName, context.arch));
}

export default afterPack;
