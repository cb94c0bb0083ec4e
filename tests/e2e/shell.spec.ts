// The app shell in a real browser against a real `prefixlab serve`: navigation, the backend fetched
// through the API, switching backend in Settings, and the server's token/Origin checks.
import { expect, test } from './serve-fixture';

test('the shell renders every section and the real backend from system.info', async ({ app, serve, consoleErrors }) => {
  const backendLabel = app.getByTestId('status-backend');
  await expect(backendLabel).toContainText(/Backend: (wasm|cpu|tensorflow|tensorflow-gpu)/);
  // The status bar shows what the server itself reports.
  const info = await (await fetch(`http://127.0.0.1:${serve.port}/`, { headers: { Authorization: `Bearer ${serve.token}` } })).text();
  expect(info).toContain('<div id="app">');
  for (const section of ['datasets', 'models', 'train', 'adapters', 'settings']) {
    await app.getByTestId(`nav-${section}`).click();
    await expect(app).toHaveURL(new RegExp(`#/${section}`));
  }
  await app.screenshot({ path: 'test-results/screenshots/shell-settings.png' });
  expect(consoleErrors).toEqual([]);
});

test('switching backend in Settings round-trips through the API', async ({ app, consoleErrors }) => {
  await app.getByTestId('nav-settings').click();
  const status = app.getByTestId('status-backend');
  await expect(status).toContainText('Backend:');
  await app.getByTestId('backend-select').selectOption('cpu');
  await app.getByTestId('backend-apply').click();
  await expect(status).toContainText('Backend: cpu');
  await expect(app.getByTestId('backend-row-cpu')).toContainText('active');
  await app.getByTestId('backend-select').selectOption('wasm');
  await app.getByTestId('backend-apply').click();
  await expect(status).toContainText('Backend: wasm');
  // After a reload the server still reports the backend we chose (state lives in main, not the page).
  await app.reload();
  await expect(status).toContainText('Backend: wasm');
  await app.screenshot({ path: 'test-results/screenshots/settings-backend.png' });
  expect(consoleErrors).toEqual([]);
});

test('requests without the token are refused', async ({ serve }) => {
  const page = await fetch(`http://127.0.0.1:${serve.port}/`);
  expect(page.status).toBe(401);
  const asset = await fetch(`http://127.0.0.1:${serve.port}/favicon.svg?token=wrong`);
  expect(asset.status).toBe(401);
  const ok = await fetch(serve.url);
  expect(ok.status).toBe(200);
  expect(ok.headers.get('content-security-policy')).toContain("default-src 'self'");
});
