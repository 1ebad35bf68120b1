// The OpenID Connect provider Dockyard's sign-in tests start: oidc-provider (OpenID Certified), on a
// loopback port, with one client and the users in a JSON file the tests write, read again at every
// sign-in so a test can move someone out of a group. Its login form is its own (the interaction
// below), checking each user's password; consent is given for the one first-party client. Its pages
// name no other host (oidc-provider's default pages load a web font from the internet).
//
//   node provider.js CONFIG.json   (CONFIG: {issuer, port, client, usersFile, cookieKey})
// Prints "listening" once it accepts connections.
import fs from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const users = () => JSON.parse(fs.readFileSync(config.usersFile, 'utf8'));
const SCOPES = 'openid profile email groups';

const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(config.issuer, {
  clients: [config.client],
  cookies: { keys: [config.cookieKey] },
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
  scopes: SCOPES.split(' '),
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out', `${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
      },
      postLogoutSuccessSource: async (ctx) => { ctx.body = page('Signed out', '<p>You are signed out.</p>'); },
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Provider error', `<pre>${escape(JSON.stringify(out))}</pre>`);
  },
  findAccount: async (ctx, id) => {
    const user = users()[id];
    if (!user) return undefined;
    return {
      accountId: id,
      claims: async () => ({ sub: id, preferred_username: id, name: user.name, email: user.email, groups: user.groups }),
    };
  },
  // A first-party client: consent is given once for everything it asks.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(SCOPES);
    await grant.save();
    return grant;
  },
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; if (body.length > 10000) reject(new Error('too large')); });
    req.on('end', () => resolve(new URLSearchParams(body)));
  });
}

// The login form: GET shows it, POST checks the password.
async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  let error = '';
  if (req.method === 'POST') {
    const form = await readBody(req);
    const login = form.get('login') || '';
    const user = users()[login];
    if (user && user.password === form.get('password')) {
      await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      return;
    }
    error = '<p role="alert">Wrong user name or password.</p>';
  }
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(page('Test provider sign-in', `${error}
<form method="post" action="/interaction/${escape(details.uid)}">
  <label>User name <input name="login" autocomplete="username" required></label>
  <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in to the test provider</button>
</form>`));
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const match = req.url.match(/^\/interaction\/([\w-]+)$/);
  if (!match) return callback(req, res);
  interaction(req, res, match[1]).catch((err) => {
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/plain');
    res.end(`interaction failed: ${err.message}`);
  });
});
server.listen(config.port, '127.0.0.1', () => console.log('listening'));
