// A real OpenID provider (panva's certified oidc-provider) for kgate's tests, on loopback HTTPS.
//
// Usage: node server.mjs CONFIG.json
// The config (written by tests/fixtures/idp.py) names the TLS cert/key, the users, the clients and
// the token lifetimes. The server listens on 127.0.0.1 (port 0 = any free port), builds the
// provider with issuer https://127.0.0.1:<port>, and prints exactly one line "ready <issuer>" on
// stdout; everything else (oidc-provider's warnings, errors) goes to stderr.
//
// Interactions are our own minimal HTML forms rather than devInteractions, so that only configured
// users can sign in, with their password: a login form (username + password) and, for clients not
// listed in skipConsent, a consent form. A POST to /__kgate_test/rotate-keys (loopback test hook)
// swaps in a provider whose new signing key comes first, the way a real IdP rotates keys: old
// tokens stay verifiable, new ones carry a kid the verifier has not seen yet. "deviceFlow": false
// in the config runs a provider without the device authorization grant.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

import Provider, { interactionPolicy } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = config.users ?? {};
const skipConsent = new Set(config.skipConsent ?? []);
const cookieKeys = [randomBytes(32).toString('base64url')];

function newSigningKey(alg) {
  const kid = `kgate-test-${randomBytes(6).toString('hex')}`;
  if (alg === 'ES256') {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

const escapeHtml = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>`
    + `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function sendHtml(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 65536) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginForm(uid, params, error) {
  const hint = params.login_hint ?? '';
  return page('Sign-in', `${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
  <input type="text" name="username" placeholder="Username" value="${escapeHtml(hint)}" required>
  <input type="password" name="password" placeholder="Password" required>
  <button type="submit" name="submit" value="login">Sign-in</button>
</form>
<form id="abort" method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button type="submit">Cancel</button>
</form>`);
}

function consentForm(uid, client, details) {
  const scopes = (details.missingOIDCScope ?? []).map((s) => `<li>${escapeHtml(s)}</li>`).join('');
  return page('Authorize', `<p>${escapeHtml(client?.clientName ?? client?.clientId)} asks for:</p>
<ul>${scopes}</ul>
<form id="consent" method="post" action="/interaction/${escapeHtml(uid)}/confirm">
  <button type="submit" name="submit" value="allow">Allow</button>
</form>
<form id="abort" method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button type="submit">Deny</button>
</form>`);
}

function accountClaims(username) {
  const user = users[username];
  return {
    sub: username,
    email: user.email,
    email_verified: user.email_verified ?? true,
    groups: user.groups ?? [],
    name: user.name ?? username,
    preferred_username: username,
  };
}

async function grantEverything(provider, ctx, grantId) {
  // First-party CLI: the user is not asked to consent, every requested scope/claim is granted.
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
  const scope = ctx.oidc.params.scope ?? 'openid';
  grant.addOIDCScope(scope);
  grant.addOIDCClaims(Object.keys(accountClaims(ctx.oidc.session.accountId)));
  await grant.save();
  return grant;
}

function buildProvider(issuer, signingKeys) {
  const policy = interactionPolicy.base();
  // Native (loopback-redirect) clients always get a consent prompt by default; consent is decided
  // by loadExistingGrant below instead (skipped for first-party clients).
  policy.get('consent').checks.remove('native_client_prompt');

  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys: signingKeys },
    cookies: { keys: cookieKeys },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    // Put the scoped claims (email, groups) into the ID token itself, as Kubernetes OIDC needs.
    conformIdTokenClaims: false,
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
    ttl: {
      IdToken: config.ttl?.idToken ?? 300,
      AccessToken: config.ttl?.accessToken ?? 600,
      AuthorizationCode: 60,
      DeviceCode: config.ttl?.deviceCode ?? 600,
      RefreshToken: config.ttl?.refreshToken ?? 86400,
      Interaction: 600,
      Session: 86400,
      Grant: 86400,
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: false },
      deviceFlow: {
        enabled: config.deviceFlow !== false,
        async userCodeInputSource(ctx, form, out, err) {
          const msg = err ? '<p class="error">The code you entered is incorrect or expired</p>' : '';
          ctx.type = 'html';
          ctx.body = page('Device sign-in', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
          ctx.type = 'html';
          ctx.body = page('Confirm device', `<p>${escapeHtml(client.clientName ?? client.clientId)}`
            + ` shows the code <code>${escapeHtml(userCode)}</code></p>${form}`
            + '<button type="submit" form="op.deviceConfirmForm">Continue</button>');
        },
        async successSource(ctx) {
          ctx.type = 'html';
          ctx.body = page('Sign-in Success', '<p>You can close this page.</p>');
        },
      },
    },
    interactions: {
      policy,
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // oidc-provider (per OIDC Core 11) drops offline_access unless prompt=consent is sent. A
    // first-party CLI gets refresh tokens anyway, as it would from Dex or Keycloak, so kgate
    // login needs no consent screen; other clients follow the spec.
    async issueRefreshToken(ctx, client, code) {
      return client.grantTypeAllowed('refresh_token')
        && (code.scopes.has('offline_access') || skipConsent.has(client.clientId));
    },
    async expiresWithSession(ctx, code) {
      return !code.scopes.has('offline_access') && !skipConsent.has(ctx.oidc.client.clientId);
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (skipConsent.has(ctx.oidc.client.clientId)) {
        return grantEverything(provider, ctx, grantId);
      }
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    async findAccount(ctx, id) {
      if (!Object.hasOwn(users, id)) return undefined;
      return {
        accountId: id,
        async claims() { return accountClaims(id); },
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<p id="error">${escapeHtml(out.error)}</p>`
        + `<p id="error_description">${escapeHtml(out.error_description)}</p>`);
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider;
}

async function interactionRoute(provider, req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendHtml(res, 400, page('Error', '<p>interaction mismatch</p>'));
    return;
  }
  const { prompt, params, grantId, session } = details;
  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      sendHtml(res, 200, loginForm(uid, params));
    } else {
      const client = await provider.Client.find(params.client_id);
      sendHtml(res, 200, consentForm(uid, client, prompt.details));
    }
    return;
  }
  if (req.method !== 'POST') {
    sendHtml(res, 405, page('Error', '<p>method not allowed</p>'));
    return;
  }
  const form = await readForm(req);
  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }
  if (action === 'login' && prompt.name === 'login') {
    const username = form.get('username') ?? '';
    const user = Object.hasOwn(users, username) ? users[username] : undefined;
    if (!user || form.get('password') !== user.password) {
      sendHtml(res, 200, loginForm(uid, params, 'Invalid username or password'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: username } },
      { mergeWithLastSubmission: false });
    return;
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const newGrantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId: newGrantId } },
      { mergeWithLastSubmission: true });
    return;
  }
  sendHtml(res, 400, page('Error', '<p>unexpected form for this step</p>'));
}

let signingKeys = [newSigningKey(config.signingAlg ?? 'RS256')];
let provider;
let providerHandler;

const server = createServer({
  cert: readFileSync(config.tls.cert),
  key: readFileSync(config.tls.key),
}, async (req, res) => {
  const url = new URL(req.url, 'https://127.0.0.1');
  try {
    if (url.pathname.startsWith('/interaction/')) {
      await interactionRoute(provider, req, res, url);
    } else if (url.pathname === '/__kgate_test/rotate-keys' && req.method === 'POST') {
      signingKeys = [newSigningKey(config.signingAlg ?? 'RS256'), ...signingKeys];
      provider = buildProvider(provider.issuer, signingKeys);
      providerHandler = provider.callback();
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ kid: signingKeys[0].kid }));
    } else {
      providerHandler(req, res);
    }
  } catch (err) {
    console.error('request failed', req.method, url.pathname, err);
    if (!res.headersSent) sendHtml(res, 400, page('Error', `<p id="error">${escapeHtml(err.name)}</p>`));
    else res.end();
  }
});

server.listen(config.port ?? 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}`;
  provider = buildProvider(issuer, signingKeys);
  providerHandler = provider.callback();
  process.stdout.write(`ready ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
